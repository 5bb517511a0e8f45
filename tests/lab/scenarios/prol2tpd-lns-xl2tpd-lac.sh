#!/bin/bash
# xl2tpd + pppd LAC dialling prol2tpd + pppd LNS (issue 3, done item 1),
# kernel data plane: prol2tpd runs stock pppd with pppol2tp.so on the
# PPPoL2TP socket it made (ppp_unix). Checks: prol2tpd says it uses the
# kernel plane; PPP comes up with the LNS's addresses on both ends; ping
# crosses both ways; the kernel session counters, read through
# `prol2tp -j show session`, move by the pings both ways; after
# the LAC drops the tunnel (StopCCN) and again after `kill -TERM prol2tpd`,
# no kernel tunnel, PPP interface or pppd is left in the LNS's namespace.
#
#   LAC 192.0.2.1 (netns lac, xl2tpd) --veth-- LNS 192.0.2.2 (netns lns, prol2tpd)
#   PPP: LAC 198.51.100.10 <-> LNS 198.51.100.1
#
# Needs the host's build of prol2tpd: $PROL2TPD, else target/debug/prol2tpd.
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
LAC_ADDR=192.0.2.1
LNS_ADDR=192.0.2.2
PPP_LNS=198.51.100.1
PPP_LAC=198.51.100.10
lab_need_prol2tpd

lab_two_hosts

lab_keep_files "$D" '*.log' '*.conf'

echo "* * lab-s3cr3t" >"$D/l2tp-secrets"
ppp_opts() { # NAME
    cat <<OPTS
noauth
ipcp-accept-local
ipcp-accept-remote
nodefaultroute
noccp
novj
lcp-echo-interval 0
debug
logfile $D/$1-pppd.log
ip-up-script /bin/true
ip-down-script /bin/true
OPTS
}
{ ppp_opts lns; echo "$PPP_LNS:$PPP_LAC"; } >"$D/lns.options"
{ ppp_opts lac; echo "mtu 1400"; echo "mru 1400"; echo noipdefault; } >"$D/lac.options"

lab_xl2tpd_lac_conf "$D/lac.conf" "$D/l2tp-secrets" "$D/lac.options"

cat >"$D/lns.conf" <<CONF
[system]
dataplane = kernel
host_name = lab-lns
listen = $LNS_ADDR

[ppp_profile "lns"]
mtu = 1400
mru = 1400
pppd_options = file $D/lns.options

[tunnel_profile "lns"]
secret = lab-s3cr3t
ppp_profile = lns

[peer_profile "lacs"]
peer = 192.0.2.0/24
tunnel_profile = lns
CONF

start_prol2tpd() {
    ip netns exec lns env PROL2TP_CONTROL="$D/lns.ctl" "$BIN" -f -p ppp_unix -c "$D/lns.conf" >>"$D/lns-prol2tpd.log" 2>&1 &
    LNS_PID=$!
    lab_wait 20 "prol2tpd started" grep -q "start version=" "$D/lns-prol2tpd.log"
}
start_prol2tpd
lab_on_exit 'lab_kill_wait $LNS_PID'
grep -q "dataplane requested=kernel using=kernel" "$D/lns-prol2tpd.log" || lab_fail "prol2tpd is not using the kernel data plane"
lab_log "ok: prol2tpd uses the kernel data plane"

ip netns exec lac xl2tpd -D -c "$D/lac.conf" -p "$D/lac.pid" -C "$D/lac.control" >"$D/lac-xl2tpd.log" 2>&1 &
LAC_PID=$!
lab_on_exit 'lab_kill_wait $LAC_PID'
lab_wait 20 "LAC xl2tpd control FIFO" test -p "$D/lac.control"

has_ppp_addr() { ip -n "$1" -4 -o addr show | grep -q "inet $2 peer $3/32"; }
no_ppp() { ! ip -n "$1" -o link show type ppp | grep -q .; }
no_tunnel() { [ -z "$(ip -n "$1" l2tp show tunnel)" ]; }
no_pppd() { ! pgrep -f "pppd plugin pppol2tp.so pppol2tp .*file $D/lns.options" >/dev/null; }

dial_and_check() { # ROUND
    local t0 rxp0 txp0 rxo0 txo0
    t0=$(cut -d' ' -f1 /proc/uptime)
    echo "c test" >"$D/lac.control"
    lab_wait 60 "$1: LAC ppp up ($PPP_LAC peer $PPP_LNS)" has_ppp_addr lac "$PPP_LAC" "$PPP_LNS"
    lab_wait 30 "$1: LNS ppp up ($PPP_LNS peer $PPP_LAC)" has_ppp_addr lns "$PPP_LNS" "$PPP_LAC"
    lab_log "$1: PPP up $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime)s after dialling"
    grep -q "ppp start tunnel_id=" "$D/lns-prol2tpd.log" || lab_fail "no 'ppp start' line"
    ip -n lns l2tp show tunnel | grep -q "^Tunnel" || lab_fail "lns: no kernel L2TP tunnel"
    ip -n lns l2tp show session | grep -q "^Session" || lab_fail "lns: no kernel L2TP session"
    ip -n lns l2tp show session
    [ "$(ip -n lns l2tp show session | grep -c "^Session")" = 1 ] || lab_fail "lns: expected one kernel session"
    lab_data_counters lns "$D/lns.ctl"
    rxp0=$RXP txp0=$TXP rxo0=$RXO txo0=$TXO
    lab_ping lac "$PPP_LNS"
    lab_ping lns "$PPP_LAC"
    lab_data_moved lns "$D/lns.ctl" "$1" "$rxp0" "$txp0" "$rxo0" "$txo0"
}

# Round 1: the LAC drops the tunnel (StopCCN).
dial_and_check "round 1"
echo "d test" >"$D/lac.control"
lab_wait 30 "LNS ppp gone" no_ppp lns
lab_wait 30 "LNS kernel tunnel gone" no_tunnel lns
lab_wait 30 "LNS pppd gone" no_pppd
grep -q "ppp exit" "$D/lns-prol2tpd.log" || lab_fail "prol2tpd did not log pppd's exit"
lab_alive "$LNS_PID" || lab_fail "prol2tpd died"
lab_log "ok: after StopCCN no kernel tunnel, PPP interface or pppd left on the LNS"

# Round 2: prol2tpd is stopped with SIGTERM while the call is up.
lab_wait 30 "LAC ppp gone" no_ppp lac
dial_and_check "round 2"
kill -TERM "$LNS_PID"
lab_wait 15 "prol2tpd exited" sh -c "! kill -0 $LNS_PID 2>/dev/null"
wait "$LNS_PID" 2>/dev/null || true
lab_wait 30 "LNS ppp gone after SIGTERM" no_ppp lns
lab_wait 10 "LNS kernel tunnel gone after SIGTERM" no_tunnel lns
lab_wait 30 "LNS pppd gone after SIGTERM" no_pppd
[ -z "$(ip -n lns l2tp show session)" ] || lab_fail "kernel session left"
[ -z "$(ip netns pids lns)" ] || lab_fail "lns: processes left: $(ip netns pids lns | xargs)"
lab_log "ok: after SIGTERM no kernel tunnel, session, PPP interface or process left on the LNS"
LAB_PASSED=1
lab_log "PASS"
