#!/bin/bash
# Kernel lab runner: boots Debian's kernel under qemu (TCG) with the host's root
# mounted read-only over 9p, runs one scenario script inside it and returns the
# scenario's exit status. See tests/lab/README.md.
#
#   tests/lab/run.sh SCENARIO [ARGS...]     run tests/lab/scenarios/SCENARIO.sh
#   tests/lab/run.sh --all                  run every scenario (or $LAB_SCENARIOS), print a summary
#   tests/lab/run.sh --prepare              only fetch the kernel and build the initramfs
#   tests/lab/run.sh --list                 list the scenarios
#
# Environment:
#   LAB_BUILD_DIR  cache and run directory (default: REPO/build/lab)
#   LAB_TIMEOUT    seconds the scenario may run inside the guest (default 150)
#   LAB_MEM        guest memory in MiB (default 1024)
#   LAB_SMP        guest CPUs (default 2)
#   LAB_VERBOSE=1  also print the whole serial console log
#   LAB_NO_INSTALL=1  never apt-get install; fail if a tool is missing
#   LAB_BIN_DIR    the project's binaries (default: $CARGO_TARGET_DIR/debug if
#                  that is set, else REPO/target/debug)
#
# Exit status: the scenario's; 125 when the lab itself failed (no kernel, no
# qemu, the guest did not report a result); 124 when the scenario timed out
# (137 when it then ignored TERM for 15 s).

set -eu -o pipefail

LAB_SRC=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$LAB_SRC/../.." && pwd)
BUILD=${LAB_BUILD_DIR:-$REPO/build/lab}
TIMEOUT=${LAB_TIMEOUT:-150}
MEM=${LAB_MEM:-1024}
SMP=${LAB_SMP:-2}
# The project's binaries the scenarios run: LAB_BIN_DIR, else the debug
# directory of CARGO_TARGET_DIR (as cargo resolves it, from the current
# directory), else REPO/target/debug, where `make check` and `make lab` build.
if [ -n "${LAB_BIN_DIR:-}" ]; then
    BIN_DIR=$(realpath -m "$LAB_BIN_DIR")
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
    BIN_DIR=$(realpath -m "$CARGO_TARGET_DIR/debug")
else
    BIN_DIR=$REPO/target/debug
fi

log() { echo "lab: $*" >&2; }
die() { log "$*"; exit 125; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

usage() {
    sed -n '2,25s/^# \{0,1\}//p' "$0" >&2
    exit 125
}

# Installs Debian packages (only as root with apt-get, and only unless
# LAB_NO_INSTALL is set).
apt_install() {
    [ -z "${LAB_NO_INSTALL:-}" ] || die "missing: $* (LAB_NO_INSTALL is set)"
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
        || die "missing: $* (install them, or run as root with apt-get)"
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y --no-install-recommends "$@" >&2; } \
        || die "apt-get install $* failed"
}

# Host tools: qemu and cpio. Scenario tools (xl2tpd, pppd, pppoe-server, ip, ping) are
# installed on the host too, since the guest runs the host's binaries.
need_tools() {
    local missing="" t cmd pkg
    for t in qemu-system-x86_64:qemu-system-x86 cpio:cpio gzip:gzip \
             dpkg-deb:dpkg xl2tpd:xl2tpd pppd:ppp pppoe-server:pppoe ip:iproute2 ping:iputils-ping; do
        cmd=${t%%:*}
        pkg=${t#*:}
        PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    [ -z "$missing" ] || apt_install $missing
}

# Downloads one Debian package into $BUILD/debs (cached) and prints its path.
fetch_deb() {
    local pkg=$1 deb
    mkdir -p "$BUILD/debs"
    deb=$(ls "$BUILD/debs/${pkg}"_*.deb 2>/dev/null | tail -n 1 || true)
    if [ -z "$deb" ]; then
        log "downloading $pkg"
        (cd "$BUILD/debs" && apt-get download "$pkg" >/dev/null 2>&1) \
            || (apt-get update >/dev/null 2>&1 && cd "$BUILD/debs" && apt-get download "$pkg" >/dev/null 2>&1) \
            || die "apt-get download $pkg failed"
        deb=$(ls "$BUILD/debs/${pkg}"_*.deb 2>/dev/null | tail -n 1 || true)
    fi
    [ -n "$deb" ] || die "no .deb for $pkg"
    echo "$deb"
}

# Sets BUSYBOX: the static busybox from busybox-static, unpacked under $BUILD.
prepare_busybox() {
    local deb dir=$BUILD/busybox
    BUSYBOX=$dir/bin/busybox
    [ -x "$BUSYBOX" ] && return
    deb=$(fetch_deb busybox-static)
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    dpkg-deb -x "$deb" "$dir.tmp"
    [ -x "$dir.tmp/bin/busybox" ] || die "$deb has no bin/busybox"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
}

# Sets KVER, KDEB and KDIR: the kernel package linux-image-amd64 points at
# (downloaded into $BUILD/debs, the host untouched) and $BUILD/kernel-$KVER,
# which keeps only its boot/vmlinuz-$KVER. Offline, reuses the newest cached
# kernel.
prepare_kernel() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
          | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }' || true)
    if [ -z "$pkg" ]; then
        KDIR=$(ls -d "$BUILD"/kernel-*/ 2>/dev/null | sort -V | tail -n 1 || true)
        [ -n "$KDIR" ] && [ -f "$KDIR/.done" ] || die "cannot resolve linux-image-amd64 (apt-cache) and no cached kernel"
        KDIR=${KDIR%/}
        KVER=${KDIR##*/kernel-}
        pkg=linux-image-$KVER
    fi
    KVER=${pkg#linux-image-}
    KDIR=$BUILD/kernel-$KVER
    KDEB=$(fetch_deb "$pkg")
    [ -f "$KDIR/.done" ] && return
    log "unpacking the kernel of $pkg"
    rm -rf "$KDIR"
    mkdir -p "$KDIR/boot"
    dpkg-deb --fsys-tarfile "$KDEB" | tar -x -C "$KDIR" "./boot/vmlinuz-$KVER" \
        || die "$KDEB has no boot/vmlinuz-$KVER"
    touch "$KDIR/.done"
}

# Prints the module files (relative to lib/modules/$KVER under $1) of the names
# in modules.list plus everything they depend on, one per line.
module_closure() {
    local dep=$1/lib/modules/$KVER/modules.dep name line
    grep -v '^[[:space:]]*\(#\|$\)' "$LAB_SRC/modules.list" | while read -r name _; do
        line=$(grep -E "(^|/)${name}\.ko:" "$dep" || true)
        [ -n "$line" ] || die "module $name not in $KVER"
        echo "$line" | tr -d ':' | tr ' ' '\n' | grep .
    done | sort -u
}

# Sets INITRD: the initramfs for $KVER, init.sh and modules.list, cached by a
# hash of those and of busybox (older images of the same kernel are removed).
# Modules come from the kernel .deb, unpacked for the build only, with
# modules.dep and modules.alias made by busybox depmod.
prepare_initramfs() {
    local key stage mdir f unpack
    key=$(cat "$LAB_SRC/init.sh" "$LAB_SRC/modules.list" "$BUSYBOX" | sha256sum | cut -c1-16)
    INITRD=$BUILD/initramfs-$KVER-$key.cpio.gz
    [ -f "$INITRD" ] && return
    log "building $(basename "$INITRD")"
    unpack=$BUILD/kernel.unpack
    rm -rf "$unpack"
    mkdir -p "$unpack"
    dpkg-deb --fsys-tarfile "$KDEB" | tar -x -C "$unpack" "./lib/modules/$KVER" \
        || die "$KDEB has no lib/modules/$KVER"
    "$BUSYBOX" depmod -b "$unpack" "$KVER" || die "depmod failed"
    stage=$BUILD/initramfs.stage
    rm -rf "$stage"
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,host,tmp,run}
    cp "$BUSYBOX" "$stage/bin/busybox"
    "$BUSYBOX" --list-full | while read -r f; do
        [ "$f" = bin/busybox ] || [ -e "$stage/$f" ] || ln -s /bin/busybox "$stage/$f"
    done
    install -m 0755 "$LAB_SRC/init.sh" "$stage/init"
    mdir=lib/modules/$KVER
    mkdir -p "$stage/$mdir"
    module_closure "$unpack" | while read -r f; do
        mkdir -p "$stage/$mdir/$(dirname "$f")"
        cp "$unpack/$mdir/$f" "$stage/$mdir/$f"
    done
    cp "$unpack/$mdir/modules.builtin" "$unpack/$mdir/modules.order" "$stage/$mdir/"
    "$BUSYBOX" depmod -b "$stage" "$KVER" || die "depmod (initramfs) failed"
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
        | gzip -1 >"$INITRD.tmp"
    rm -f "$BUILD/initramfs-$KVER-"*.cpio.gz
    mv "$INITRD.tmp" "$INITRD"
    rm -rf "$stage" "$unpack"
}

prepare() {
    mkdir -p "$BUILD"
    need_tools
    exec 9>"$BUILD/.lock"
    flock 9
    prepare_busybox
    prepare_kernel
    prepare_initramfs
    flock -u 9
}

# Quotes one argument for sh.
shquote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# Writes $RUN/job.sh, which init.sh runs in the chroot.
write_job() {
    local scen=$1 name=$2 a args=""
    shift 2
    for a in "$@"; do args="$args $(shquote "$a")"; done
    cat >"$RUN/job.sh" <<EOF
# Generated by tests/lab/run.sh; run by tests/lab/init.sh inside the guest.
export PATH=/run/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=dumb LANG=C.UTF-8 LAB=1
export LAB_REPO=$(shquote "$REPO") LAB_OUT=/run/lab/out LAB_SCENARIO=$(shquote "$name")
export LAB_BIN_DIR=$(shquote "$BIN_DIR")
cd "\$LAB_REPO" || { echo 125 >/run/lab/out/rc; exit; }
echo "LAB-BEGIN scenario=\$LAB_SCENARIO"
{
    timeout -k 15 $TIMEOUT /bin/bash $(shquote "$scen")$args </dev/null
    rc=\$?
    case \$rc in 124|137) echo "LAB-TIMEOUT: the scenario ran for more than ${TIMEOUT}s (LAB_TIMEOUT)" ;; esac
    echo \$rc >/run/lab/out/rc
} 2>&1 | tee /run/lab/out/scenario.log
EOF
}

run_scenario() {
    local name=${1%.sh} scen t0 t1 rc
    shift
    scen=$LAB_SRC/scenarios/$name.sh
    [ -f "$scen" ] || die "no scenario $scen (try --list)"
    t0=$(now)
    prepare
    t1=$(now)
    RUN=$BUILD/runs/$name
    rm -rf "$RUN"
    mkdir -p "$RUN"
    write_job "$scen" "$name" "$@"
    log "scenario=$name kernel=$KVER initramfs=$(basename "$INITRD") bins=$BIN_DIR prepare=$(elapsed "$t0" "$t1")s"
    rc=0
    printf '%s\n' "$REPO" >"$RUN/repo_path"
    timeout -k 10 $((TIMEOUT + 120)) qemu-system-x86_64 \
        -accel tcg -cpu max -m "$MEM" -smp "$SMP" \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$INITRD" \
        -append "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init" \
        -serial "file:$RUN/console.log" \
        -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$RUN,mount_tag=out,security_model=none,multidevs=remap" \
        -virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
        </dev/null >"$RUN/qemu.log" 2>&1 || rc=$?
    local t2 result
    t2=$(now)
    result=$(sed -n 's/^LAB-RESULT: \([0-9]*\).*/\1/p' "$RUN/console.log" 2>/dev/null | tail -n 1 | tr -d '\r')
    [ -n "$result" ] || result=$(cat "$RUN/rc" 2>/dev/null || true)
    if [ -f "$RUN/scenario.log" ]; then
        echo "----- scenario $name (guest output) -----"
        cat "$RUN/scenario.log"
        echo "----- end of scenario $name -----"
    fi
    if [ -n "${LAB_VERBOSE:-}" ] || [ -z "$result" ]; then
        echo "----- serial console -----"
        tr -d '\r' <"$RUN/console.log" 2>/dev/null | tail -n 200 || true
        echo "----- qemu (exit $rc) -----"
        cat "$RUN/qemu.log"
    fi
    [ -n "$result" ] || { log "scenario=$name: the guest reported no result (qemu exit $rc)"; result=125; }
    local verdict=PASS
    [ "$result" = 0 ] || verdict=FAIL
    log "scenario=$name result=$verdict status=$result wall=$(elapsed "$t1" "$t2")s" \
        "(prepare $(elapsed "$t0" "$t1")s) logs=$RUN"
    return "$result"
}

# Runs every scenario (or those named in LAB_SCENARIOS), each in its own VM,
# and prints a summary; fails if any failed.
run_all() {
    local t0 s rc=0 st ts summary="" list=${LAB_SCENARIOS:-} passed=0 failed=0
    t0=$(now)
    prepare
    [ -n "$list" ] || list="selftest smoke $(ls "$LAB_SRC/scenarios" | sed -n 's/\.sh$//p' \
                                        | grep -vx -e selftest -e smoke | xargs)"
    for s in $list; do
        ts=$(now)
        st=0
        "$0" "$s" || st=$?
        if [ "$st" = 0 ]; then passed=$((passed + 1)); else rc=1; failed=$((failed + 1)); fi
        summary="$summary$(printf '%-24s %-4s status=%-3s %6ss' "$s" \
            "$([ "$st" = 0 ] && echo PASS || echo FAIL)" "$st" "$(elapsed "$ts" "$(now)")")
"
    done
    echo "----- kernel lab summary (kernel $KVER) -----"
    printf '%s' "$summary"
    echo "total $(elapsed "$t0" "$(now)")s"
    echo "lab: $passed passed, $failed failed"
    return "$rc"
}

[ $# -ge 1 ] || usage
case $1 in
    -h|--help) usage ;;
    --all) run_all ;;
    --list) ls "$LAB_SRC/scenarios" | sed -n 's/\.sh$//p' ;;
    --prepare) t0=$(now); prepare; log "kernel=$KVER initramfs=$INITRD ($(elapsed "$t0" "$(now)")s)" ;;
    -*) usage ;;
    *) run_scenario "$@" ;;
esac
