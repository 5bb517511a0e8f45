#!/bin/sh
# /init of the kernel lab's initramfs (runs as PID 1 under busybox sh).
#
# Built into the initramfs by tests/lab/run.sh; a change here changes the
# initramfs cache key. It:
#   1. mounts proc/sys/devtmpfs and loads the virtio + 9p modules,
#   2. mounts the host's root read-only (9p tag "host", cache=loose: host files
#      are assumed not to change during a run) on /host and the run
#      directory read-write (9p tag "out") on /host/run/lab/out,
#   3. gives the chroot tmpfs on /tmp /run /var/lib /dev/shm, devpts, proc, sys,
#      and /run/lab/bin/modprobe (busybox modprobe over the initramfs' modules),
#   4. runs /run/lab/out/job.sh in the chroot (written by run.sh: it runs the
#      scenario under a timeout and stores its status in /run/lab/out/rc),
#   5. prints "LAB-RESULT: <status>" on the console and reboots (qemu runs with
#      -no-reboot, so it exits).
# Output of this script goes to the serial console (ttyS0).

export PATH=/bin:/sbin
H=/host

say() { echo "LAB-INIT: $*"; }

finish() {
    echo "LAB-RESULT: $1"
    sync
    reboot -f
    # Not reached; if reboot(2) failed, panic so qemu (panic=-1) exits.
    exit "$1"
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

for m in virtio_pci 9pnet_virtio 9p; do
    modprobe "$m" || { say "modprobe $m failed"; finish 125; }
done

# The 9p devices appear asynchronously after virtio_pci binds them.
n=0
while ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro host "$H" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -ge 100 ] && { say "cannot mount the host root (9p tag host)"; finish 125; }
    sleep 0.1
done

for d in tmp run var/lib; do
    mount -t tmpfs -o mode=1777 tmpfs "$H/$d" || { say "tmpfs on /$d failed"; finish 125; }
done
chmod 755 "$H/run" "$H/var/lib"
mount -t proc proc "$H/proc"
mount -t sysfs sys "$H/sys"
mount -t devtmpfs dev "$H/dev"
mkdir -p "$H/dev/shm" "$H/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$H/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$H/dev/pts"
[ -e "$H/dev/ptmx" ] || ln -s pts/ptmx "$H/dev/ptmx"
mkdir -p "$H/run/lock" "$H/run/lab/out" "$H/run/lab/bin" "$H/run/lab/initrd"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out "$H/run/lab/out" \
    || { say "cannot mount the run directory (9p tag out)"; finish 125; }
# The repository at its own path (run.sh writes it to repo_path): it may live
# under /tmp, which is a fresh tmpfs in here and would hide it.
if [ -s "$H/run/lab/out/repo_path" ]; then
    R=$(cat "$H/run/lab/out/repo_path")
    mkdir -p "$H$R" 2>/dev/null
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro repo "$H$R" \
        || { say "cannot mount the repository (9p tag repo)"; finish 125; }
fi
# The initramfs itself, so that the chroot can use its modprobe and modules.
mount --bind / "$H/run/lab/initrd"
cat >"$H/run/lab/bin/modprobe" <<'EOF'
#!/bin/sh
# Kernel lab: busybox modprobe over the initramfs' /lib/modules.
exec chroot /run/lab/initrd /sbin/modprobe "$@"
EOF
chmod 755 "$H/run/lab/bin/modprobe"
ln -s modprobe "$H/run/lab/bin/lab-modprobe"

ip link set lo up
hostname lab
say "booted uptime=$(cut -d' ' -f1 /proc/uptime)s kernel=$(uname -r)"

if [ ! -f "$H/run/lab/out/job.sh" ]; then
    say "no job.sh in the run directory"
    finish 125
fi
rm -f "$H/run/lab/out/rc"
chroot "$H" /bin/sh /run/lab/out/job.sh
rc=$(cat "$H/run/lab/out/rc" 2>/dev/null)
[ -n "$rc" ] || rc=125
say "done uptime=$(cut -d' ' -f1 /proc/uptime)s"
umount "$H/run/lab/out" 2>/dev/null
finish "$rc"
