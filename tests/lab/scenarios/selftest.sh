#!/bin/bash
# Checks the lab's own plumbing (not the kernel): arguments arrive intact, the
# host root is read-only, /tmp /run /var/lib are writable tmpfs, $LAB_OUT is
# the host's run directory, modprobe and the kernel's module autoloading work,
# and the scenario's exit status reaches the host.
#
#   tests/lab/run.sh selftest [STATUS [ARG...]]   exits with STATUS (default 0)
#   after checking that ARG... equals "a b" "it's" "" when given.
# shellcheck source=tests/lab/lib.sh
. "$LAB_REPO/tests/lab/lib.sh"

status=${1:-0}
if [ $# -gt 1 ]; then
    shift
    [ $# = 3 ] && [ "$1" = "a b" ] && [ "$2" = "it's" ] && [ -z "$3" ] \
        || lab_fail "arguments mangled: $# [$*]"
    lab_log "ok: arguments"
fi
fstype() { awk -v m="$1" '$2 == m { t = $3 } END { print t }' /proc/self/mounts; }
[ "$(fstype /)" = 9p ] || lab_fail "/ is $(fstype /), not 9p"
! touch /lab-selftest 2>/dev/null || lab_fail "the host root is writable"
for d in /tmp /run /var/lib /dev/shm; do
    [ "$(fstype "$d")" = tmpfs ] || lab_fail "$d is $(fstype "$d"), not tmpfs"
    touch "$d/lab-selftest" || lab_fail "$d is not writable"
done
[ "$(cat /proc/sys/kernel/hostname)" = lab ] || lab_fail "not in the lab guest"
echo "written in the guest" >"$LAB_OUT/selftest.txt" || lab_fail "\$LAB_OUT not writable"
lab_modprobe dummy
# Kernel autoloading: request_module() runs the initramfs' /sbin/modprobe.
! lab_module_loaded l2tp_netlink || lab_fail "l2tp_netlink loaded before the test"
ip l2tp show tunnel >/dev/null || lab_fail "ip l2tp show tunnel (genl family l2tp not autoloaded)"
lab_module_loaded l2tp_netlink || lab_fail "l2tp_netlink was not autoloaded"
python3 -c 'import socket; socket.socket(24, socket.SOCK_DGRAM, 1).close()' \
    || lab_fail "socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP) failed"
lab_module_loaded l2tp_ppp || lab_fail "l2tp_ppp was not autoloaded"
lab_log "ok: module autoloading (genl family l2tp, AF_PPPOX/PX_PROTO_OL2TP)"
lab_module_loaded dummy || lab_fail "modprobe dummy did not load it"
[ -d "$LAB_REPO/tests/lab" ] || lab_fail "repository not visible at $LAB_REPO"
lab_log "ok: lab plumbing; exiting with $status"
exit "$status"
