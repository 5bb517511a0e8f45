#!/bin/bash
# proacd's kernel path (issue 6): the OS layer's PPPoE session sockets and
# the PPP channel bridge (PPPIOCBRIDGECHAN), the mechanism that switches a
# PPPoE session into a PPPoL2TP session in the kernel. Here both bridged
# channels are PPPoE sessions (1 and 2) with the same peer, so what the
# bridge does is visible on the wire:
#
#   netns ac: proac-syscheck bridge veth-ac PEER 1 2 (sessions 1 and 2, bridged)
#       |  veth
#   netns peer: proac-syscheck inject (AF_PACKET, ethertype 0x8864)
#
# A session frame the peer sends in session 1 comes back in session 2 with
# the same PPP octets, and the other way; after PPPIOCUNBRIDGECHAN nothing
# comes back; when the probe exits the kernel holds no PPPoE session.
#
# Optional argument: the directory holding proac-syscheck (default:
# $LAB_BIN_DIR, the one `make check` builds into).
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
lab_need_proac "${1:-}" proac-syscheck
CHECK=$PROAC_DIR/proac-syscheck

lab_modprobe pppoe ppp_generic veth
lab_netns ac peer
lab_veth ac veth-ac 192.0.2.1/24 peer veth-peer 192.0.2.2/24
lab_keep_files "$D" '*.log'
AC_MAC=$(lab_mac ac veth-ac)
PEER_MAC=$(lab_mac peer veth-peer)
lab_log "ac veth-ac $AC_MAC, peer veth-peer $PEER_MAC"

info=$(ip netns exec ac "$CHECK" info veth-ac) || lab_fail "proac-syscheck info"
lab_log "$info"
grep -q "mac=$AC_MAC .*up=true pppoe_kernel=true" <<<"$info" || lab_fail "interface_info or pppoe_kernel_available wrong: $info"

mkfifo "$D/ctl"
ip netns exec ac "$CHECK" bridge veth-ac "$PEER_MAC" 1 2 <"$D/ctl" >"$D/bridge.log" 2>&1 &
BRIDGE_PID=$!
exec 3>"$D/ctl"
lab_on_exit 'exec 3>&-; lab_kill_wait $BRIDGE_PID'
lab_wait 10 "sessions 1 and 2 bridged" grep -q '^bridged' "$D/bridge.log"
lab_log "$(cat "$D/bridge.log")"
sessions=$(lab_pppoe_sessions ac | sort)
lab_log "kernel PPPoE sessions in ac: $(tr '\n' ';' <<<"$sessions")"
# (/proc/net/pppoe prints the network-order id as a host integer: 00000100 is session 1 here)
[ "$(grep -c " $PEER_MAC veth-ac$" <<<"$sessions")" = 2 ] || lab_fail "expected two sessions with $PEER_MAC on veth-ac in /proc/net/pppoe"

for dir in "1 2" "2 1" "1 2"; do
    set -- $dir
    out=$(ip netns exec peer "$CHECK" inject veth-peer "$AC_MAC" "$1" "$2" expect 2>&1) \
        || lab_fail "session $1 -> $2 through the bridge: $out"
    lab_log "ok: session $1 -> session $2: $(tail -n 1 <<<"$out")"
done

echo unbridge >&3
lab_wait 5 "PPPIOCUNBRIDGECHAN" grep -q '^unbridged' "$D/bridge.log"
out=$(ip netns exec peer "$CHECK" inject veth-peer "$AC_MAC" 1 2 none 2>&1) || lab_fail "still bridged: $out"
lab_log "ok: unbridged: $out"

echo quit >&3
exec 3>&-
wait "$BRIDGE_PID" || lab_fail "proac-syscheck bridge exited with $?: $(cat "$D/bridge.log")"
[ -z "$(lab_pppoe_sessions ac)" ] || lab_fail "PPPoE sessions left after the probe exited: $(lab_pppoe_sessions ac)"
lab_log "ok: no PPPoE session left in ac"
LAB_PASSED=1
