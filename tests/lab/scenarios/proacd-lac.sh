#!/bin/bash
# The wholesale chain (issue 6, done item 4), kernel data plane: two pppd +
# rp-pppoe.so clients dial proacd; its route sends them into L2TP: prol2tpd
# (LAC, same host) makes or reuses one tunnel to the LNS and a session per
# client, and proacd bridges each PPPoE channel to the PPPoL2TP session's
# channel in the kernel (PPPIOCBRIDGECHAN). The LNS (prol2tpd + propppd)
# authenticates the clients (CHAP) and gives them pool addresses.
#
#   cl1 (pppd) --veth-- +
#                       AC (netns ac: proacd + prol2tpd LAC) 203.0.113.1 --veth-- 203.0.113.2 LNS (netns lns: prol2tpd + propppd)
#   cl2 (pppd) --veth-- +
#   PPP: clients 198.51.100.10-20 (pool at the LNS) <-> LNS 198.51.100.1
#
# Checks: both clients up with pool addresses, ping the LNS and are pinged
# from it; the LNS kernel holds ONE tunnel with TWO sessions; proac_info
# lists both sessions as l2tp. Client 1 hangs up: its L2TP session goes,
# the other stays and still pings; `proac_manage delete` ends client 2: no
# PPPoE, L2TP session or ppp interface is left.
#
# Optional argument: the directory holding proacd, proac_info, proac_manage,
# prol2tpd, prol2tp, propppd (default: $LAB_BIN_DIR, the one `make check` builds into).
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
PPP_LNS=198.51.100.1
LAC_ADDR=203.0.113.1
LNS_ADDR=203.0.113.2
lab_need_proac "${1:-}" proacd proac_info proac_manage prol2tpd prol2tp propppd
CLI=$PROAC_DIR/prol2tp
lab_modprobe pppoe ppp_generic l2tp_netlink l2tp_ppp veth
lab_netns cl1 cl2 ac lns
lab_veth cl1 veth-c1 192.0.2.1/30 ac veth-a1 192.0.2.2/30
lab_veth cl2 veth-c2 192.0.2.5/30 ac veth-a2 192.0.2.6/30
lab_veth ac veth-lac "$LAC_ADDR/24" lns veth-lns "$LNS_ADDR/24"
lab_keep_files "$D" '*.log' '*.conf' '*.options'

lab_propppd_conf "$D/lns-propppd.conf" "$D/lns-ppp.ctl" "$D/lns-ppp.chan"
lab_propppd_chap_server "$D/lns-propppd.conf" "$PPP_LNS" 198.51.100.10 198.51.100.20

lab_prol2tpd_lns_conf "$D/lns.conf" "$LNS_ADDR" 203.0.113.0/24 "$D/lns-ppp.chan"

cat >"$D/lac.conf" <<CONF
[system]
dataplane = kernel
host_name = lab-lac
listen = $LAC_ADDR
switch_socket = $D/l2tp.chan

[tunnel_profile "lns"]
peer = $LNS_ADDR
version = 2
secret = lab-s3cr3t
hello_timeout = 0
CONF

lab_proacd_conf "$D/proacd.conf" "$D/proac.ctl" "$D/ac-ppp.chan" "$D/l2tp.chan" "ac_name = lab-lac"
cat >>"$D/proacd.conf" <<CONF
[interface "veth-a1"]
[interface "veth-a2"]

[route "isp"]
destination = l2tp
tunnel_profile = lns
CONF

lab_propppd_start lns "$PROAC_DIR/propppd" "$D/lns-propppd.conf" "$D/lns-propppd.log"
PIDS=$LAB_PID
lab_on_exit 'lab_kill_wait $PIDS'
lab_prol2tpd_start lns "$PROAC_DIR/prol2tpd" "$D/lns.conf" "$D/lns.ctl" "$D/lns-prol2tpd.log"
PIDS="$LAB_PID $PIDS"
lab_prol2tpd_start ac "$PROAC_DIR/prol2tpd" "$D/lac.conf" "$D/lac.ctl" "$D/lac-prol2tpd.log"
PIDS="$LAB_PID $PIDS"
lab_wait 20 "LAC prol2tpd switch socket" test -S "$D/l2tp.chan"
lab_proacd_start ac "$PROAC_DIR/proacd" "$D/proacd.conf" "$D/proacd.log"
AC_PID=$LAB_PID
PIDS="$AC_PID $PIDS"

info() { ip netns exec ac "$PROAC_DIR/proac_info" -s "$D/proac.ctl" "$@"; }
ppp_up() { ip -n "$1" -4 -o addr show | grep -q "peer $PPP_LNS/32"; }
ppp_addr() { ip -n "$1" -4 -o addr show | awk -v p="$PPP_LNS/32" '$6 == p { print $4 }'; }
lns_sessions() { lab_l2tp_sessions lns | wc -l; }
lns_tunnels() { ip -n lns l2tp show tunnel | grep -c '^Tunnel'; }

dial() { # NS IFACE
    lab_pppoe_dial "$1" "$2" "$1" 1400
    eval "${1}_PID=$LAB_PID"
    PIDS="$LAB_PID $PIDS"
    lab_wait 60 "$1: ppp up (peer $PPP_LNS)" ppp_up "$1"
    lab_log "$1: address $(ppp_addr "$1")"
}

dial cl1 veth-c1
dial cl2 veth-c2
A1=$(ppp_addr cl1) A2=$(ppp_addr cl2)
[ -n "$A1" ] && [ -n "$A2" ] && [ "$A1" != "$A2" ] || lab_fail "clients' addresses: '$A1' '$A2'"
for a in "$A1" "$A2"; do case $a in 198.51.100.1[0-9]|198.51.100.20) ;; *) lab_fail "address $a not from the LNS pool" ;; esac; done
grep -q "CHAP authentication succeeded" "$D/cl1-pppd.log" || lab_fail "cl1 did not authenticate with CHAP"
lab_ping cl1 "$PPP_LNS" 5
lab_ping cl2 "$PPP_LNS" 5
lab_ping lns "$A1" 3
lab_ping lns "$A2" 3
[ "$(lns_tunnels)" = 1 ] || lab_fail "LNS: expected one L2TP tunnel: $(ip -n lns l2tp show tunnel)"
[ "$(lns_sessions)" = 2 ] || lab_fail "LNS: expected two L2TP sessions: $(lab_l2tp_sessions lns)"
lab_log "ok: one tunnel, two sessions at the LNS: $(lab_l2tp_sessions lns | tr '\n' ';')"
s=$(info -j sessions) || lab_fail "proac_info sessions"
lab_log "proac_info sessions: $s"
[ "$(grep -o '"destination":"l2tp"' <<<"$s" | wc -l)" = 2 ] || lab_fail "proac_info does not list two l2tp sessions"
[ "$(lab_pppoe_sessions ac | wc -l)" = 2 ] || lab_fail "ac: expected two kernel PPPoE sessions: $(lab_pppoe_sessions ac)"

lab_kill_wait "$cl1_PID"
lns_at_most() { [ "$(lns_sessions)" -le "$1" ]; }
ac_pppoe_at_most() { [ "$(lab_pppoe_sessions ac | wc -l)" -le "$1" ]; }
lab_wait 30 "cl1 hang-up: one L2TP session left at the LNS" lns_at_most 1
lab_wait 30 "cl1 hang-up: one PPPoE session left in ac" ac_pppoe_at_most 1
[ "$(lns_sessions)" = 1 ] || lab_fail "after cl1's hang-up: $(lab_l2tp_sessions lns)"
lab_ping cl2 "$PPP_LNS" 3
lab_log "ok: cl1's hang-up ended its L2TP session only"

SID=$(lab_json_num "$(info -j sessions)" session_id)
ip netns exec ac "$PROAC_DIR/proac_manage" -s "$D/proac.ctl" delete "veth-a2/$SID" || lab_fail "proac_manage delete veth-a2/$SID"
lab_wait 30 "cl2 ppp gone" lab_no_ppp cl2
lab_wait 30 "LNS ppp gone" lab_no_ppp lns
lab_wait 30 "no L2TP session at the LNS" lns_at_most 0
lab_wait 10 "no PPPoE session in ac" ac_pppoe_at_most 0
lab_log "ok: proac_manage delete ended the last session on both sides"
info statistics || true
lab_alive "$AC_PID" || lab_fail "proacd died"
LAB_PASSED=1
