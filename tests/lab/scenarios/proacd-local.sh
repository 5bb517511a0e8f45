#!/bin/bash
# proacd terminating PPPoE locally (issue 6, done item 3), kernel data plane:
# pppd with the rp-pppoe.so plugin dials proacd; proacd hands the connected
# AF_PPPOX session socket to propppd, which runs PPP on it (CHAP, pool).
#
#   client (netns client, pppd + rp-pppoe.so) --veth-- AC (netns ac, proacd + propppd)
#   PPP: client 198.51.100.10 (pool) <-> AC 198.51.100.1
#
# Checks: pppoe-discovery finds the AC (AC-Name, Service-Name); the client
# gets its address, ping crosses both ways; proac_info lists the session
# with the client's MAC; the kernel holds the PPPoE session on both sides.
# Round 1: the client hangs up (pppd TERM: LCP Terminate + PADT): nothing
# is left on the AC (no pppN, no kernel PPPoE session, no proacd session).
# Round 2: `proac_manage delete IFACE/SID` on the AC: the client's PPP and
# every kernel session go away on both sides.
# Round 3: a VLAN: VLAN 100 on both veth ends, `[interface "veth-ac.100"]`
# added by SIGHUP reload; the client dials over veth-cl.100, PPP comes up,
# ping crosses, the kernel's PPPoE session is on the VLAN device; hang-up
# cleans up as in round 1.
#
# Optional argument: the directory holding proacd, proac_info, proac_manage, propppd
# (default: $LAB_BIN_DIR, the one `make check` builds into).
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
PPP_AC=198.51.100.1
PPP_CLIENT=198.51.100.10
lab_need_proac "${1:-}" proacd proac_info proac_manage propppd
lab_modprobe pppoe ppp_generic veth
lab_netns client ac
lab_veth client veth-cl 192.0.2.1/24 ac veth-ac 192.0.2.2/24
lab_keep_files "$D" '*.log' '*.conf' '*.options'
CLIENT_MAC=$(lab_mac client veth-cl)

lab_propppd_conf "$D/propppd.conf" "$D/ppp.ctl" "$D/ppp.chan"
lab_propppd_chap_server "$D/propppd.conf" "$PPP_AC" "$PPP_CLIENT" 198.51.100.20

lab_proacd_conf "$D/proacd.conf" "$D/proac.ctl" "$D/ppp.chan" "$D/l2tp.chan" "ac_name = lab-ac"
cat >>"$D/proacd.conf" <<CONF
[interface "veth-ac"]
service_names = internet

[route "internet"]
destination = local
ppp_profile = default
CONF

lab_propppd_start ac "$PROAC_DIR/propppd" "$D/propppd.conf" "$D/propppd.log"
PPPD_PID=$LAB_PID
lab_proacd_start ac "$PROAC_DIR/proacd" "$D/proacd.conf" "$D/proacd.log"
AC_PID=$LAB_PID
lab_on_exit 'lab_kill_wait $AC_PID $PPPD_PID'

info() { ip netns exec ac "$PROAC_DIR/proac_info" -s "$D/proac.ctl" "$@"; }
no_ac_session() { ! info -j sessions | grep -q '"session_id"'; }

out=$(ip netns exec client pppoe-discovery -I veth-cl 2>&1) || lab_fail "pppoe-discovery: $out"
lab_log "pppoe-discovery: $(tr '\n' ';' <<<"$out")"
grep -q "Access-Concentrator: lab-ac" <<<"$out" && grep -q "Service-Name: internet" <<<"$out" \
    || lab_fail "pppoe-discovery did not show AC-Name lab-ac and Service-Name internet"

dial() { # ROUND [CLIENT_IFACE]
    local cif=${2:-veth-cl}
    lab_pppoe_dial client "$cif" "client-$1" 1492 "pppoe-service internet"
    CLIENT_PID=$LAB_PID
    lab_wait_ppp 60 client "$PPP_CLIENT" "$PPP_AC" "$1"
    lab_wait_ppp 30 ac "$PPP_AC" "$PPP_CLIENT" "$1"
    lab_ping client "$PPP_AC" 5
    lab_ping ac "$PPP_CLIENT" 5
    local s
    s=$(info -j sessions) || lab_fail "$1: proac_info sessions"
    lab_log "$1: proac_info sessions: $s"
    grep -q "\"client_mac\":\"$CLIENT_MAC\"" <<<"$s" || lab_fail "$1: proac_info does not list the client's MAC"
    SID=$(lab_json_num "$s" session_id)
    [ -n "$SID" ] || lab_fail "$1: no session_id in proac_info"
    [ "$(lab_pppoe_sessions ac | grep -c " $CLIENT_MAC ")" = 1 ] || lab_fail "$1: no kernel PPPoE session with $CLIENT_MAC in ac"
    [ "$(lab_pppoe_sessions client | wc -l)" = 1 ] || lab_fail "$1: no kernel PPPoE session in client"
    lab_log "ok: $1: session $SID up, kernel PPPoE sessions on both sides"
}
gone() { # ROUND
    lab_wait 30 "$1: client ppp gone" lab_no_ppp client
    lab_wait 30 "$1: AC ppp gone" lab_no_ppp ac
    lab_wait 10 "$1: no kernel PPPoE session in ac" lab_no_pppoe ac
    lab_wait 10 "$1: no kernel PPPoE session in client" lab_no_pppoe client
    lab_wait 10 "$1: proacd has no session" no_ac_session
}

dial r1
lab_kill_wait "$CLIENT_PID"
gone r1
grep -q "PADT" "$D/proacd.log" || lab_log "note: proacd's log does not mention PADT"
lab_log "ok: r1: the client's hang-up (PADT) cleaned up both sides"

dial r2
ip netns exec ac "$PROAC_DIR/proac_manage" -s "$D/proac.ctl" delete "veth-ac/$SID" || lab_fail "proac_manage delete veth-ac/$SID"
gone r2
client_gone() { ! lab_alive "$CLIENT_PID"; }
lab_wait 30 "r2: client pppd exited" client_gone
wait "$CLIENT_PID" 2>/dev/null
lab_log "ok: r2: proac_manage delete (PADT from the AC) cleaned up both sides"

lab_modprobe 8021q
ip -n ac link add link veth-ac name veth-ac.100 type vlan id 100 || lab_fail "vlan 100 in ac"
ip -n client link add link veth-cl name veth-cl.100 type vlan id 100 || lab_fail "vlan 100 in client"
ip -n ac link set veth-ac.100 up && ip -n client link set veth-cl.100 up || lab_fail "vlan links up"
cat >>"$D/proacd.conf" <<CONF

[interface "veth-ac.100"]
service_names = internet
CONF
kill -HUP "$AC_PID"
vlan_listed() { info -j interfaces | grep -q '"name":"veth-ac.100"[^}]*"state":"up"'; }
lab_wait 10 "r3: proacd serves veth-ac.100 after SIGHUP" vlan_listed
dial r3 veth-cl.100
grep -q "veth-ac.100" <<<"$(info -j sessions)" || lab_fail "r3: the session is not on veth-ac.100"
lab_pppoe_sessions ac | grep -q "veth-ac.100" || lab_fail "r3: the kernel's PPPoE session is not on veth-ac.100: $(lab_pppoe_sessions ac)"
lab_kill_wait "$CLIENT_PID"
gone r3
lab_log "ok: r3: PPPoE over VLAN 100 (added by reload) up, ping crossed, hang-up cleaned up"
info statistics || true
lab_alive "$AC_PID" || lab_fail "proacd died"
LAB_PASSED=1
