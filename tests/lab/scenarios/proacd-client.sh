#!/bin/bash
# The suite's own PPPoE client (issue 6, done item 5, kernel half): propppd
# asks proacd to dial (`propppctl create isp pppoe veth-cl`), proacd runs
# discovery against Debian's pppoe-server and hands the session to propppd,
# which runs PPP as the client.
#
#   client (netns cl: proacd + propppd) --veth-- server (netns srv: pppoe-server + pppd)
#   PPP: client 198.51.100.10 <-> server 198.51.100.1
#
# Checks: the client's PPP interface gets 198.51.100.10, ping crosses both
# ways, proac_info lists the session with role client; `propppctl destroy`
# ends it (PADT) and the server's pppd goes away.
#
# Optional argument: the directory holding proacd, proac_info, propppd, propppctl
# (default: $LAB_BIN_DIR, the one `make check` builds into).
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
PPP_SRV=198.51.100.1
PPP_CL=198.51.100.10
lab_need_proac "${1:-}" proacd proac_info propppd propppctl
command -v pppoe-server >/dev/null || lab_fail "no pppoe-server (apt-get install pppoe on the host)"
lab_modprobe pppoe ppp_generic ppp_async veth
lab_netns cl srv
lab_veth cl veth-cl 192.0.2.1/24 srv veth-srv 192.0.2.2/24
lab_keep_files "$D" '*.log' '*.conf' '*.options'

printf '%s\n' noauth "lcp-echo-interval 0" noccp novj mtu 1492 mru 1492 debug \
    "logfile $D/srv-pppd.log" "ip-up-script /bin/true" "ip-down-script /bin/true" >"$D/srv.options"
ip netns exec srv pppoe-server -I veth-srv -C lab-srv -S internet -L "$PPP_SRV" -R "$PPP_CL" -N 4 \
    -O "$D/srv.options" -X "$D/srv.pid" >"$D/pppoe-server.log" 2>&1 || lab_fail "pppoe-server did not start"
lab_wait 10 "pppoe-server pid file" test -s "$D/srv.pid"
SRV_PID=$(head -n 1 "$D/srv.pid")
lab_on_exit 'kill -TERM $SRV_PID 2>/dev/null'

lab_propppd_conf "$D/propppd.conf" "$D/ppp.ctl" "$D/ppp.chan"
printf '%s\n' '[profile "default"]' 'auth = none' 'mru = 1492' >>"$D/propppd.conf"
lab_proacd_conf "$D/proacd.conf" "$D/proac.ctl" "$D/ppp.chan" "$D/l2tp.chan"
lab_propppd_start cl "$PROAC_DIR/propppd" "$D/propppd.conf" "$D/propppd.log"
PIDS=$LAB_PID
lab_on_exit 'lab_kill_wait $PIDS'
lab_proacd_start cl "$PROAC_DIR/proacd" "$D/proacd.conf" "$D/proacd.log"
AC_PID=$LAB_PID
PIDS="$AC_PID $PIDS"
lab_wait 20 "proacd connected to propppd" grep -q "propppd connected" "$D/proacd.log"

ctl() { ip netns exec cl "$PROAC_DIR/propppctl" -s "$D/ppp.ctl" "$@"; }

ctl create isp pppoe veth-cl service_name=internet || lab_fail "propppctl create isp pppoe veth-cl"
lab_wait_ppp 60 cl "$PPP_CL" "$PPP_SRV"
lab_wait_ppp 30 srv "$PPP_SRV" "$PPP_CL"
lab_ping cl "$PPP_SRV" 5
lab_ping srv "$PPP_CL" 5
s=$(ip netns exec cl "$PROAC_DIR/proac_info" -s "$D/proac.ctl" -j sessions) || lab_fail "proac_info sessions"
lab_log "proac_info sessions: $s"
grep -q '"role":"client"' <<<"$s" || lab_fail "proac_info does not list a client session"
[ "$(lab_pppoe_sessions cl | wc -l)" = 1 ] || lab_fail "no kernel PPPoE session in cl"

ctl destroy isp || lab_fail "propppctl destroy isp"
lab_wait 30 "client ppp gone" lab_no_ppp cl
lab_wait 30 "server ppp gone" lab_no_ppp srv
lab_wait 10 "no kernel PPPoE session in cl" lab_no_pppoe cl
lab_log "ok: propppctl destroy ended the session on both sides"
lab_alive "$AC_PID" || lab_fail "proacd died"
LAB_PASSED=1
