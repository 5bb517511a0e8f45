#!/bin/bash
# xl2tpd + pppd LAC dialling xl2tpd + pppd LNS, each in its own network
# namespace inside the lab VM, with the real pppd over the kernel's PPPoL2TP
# data plane. Checks: PPP comes up with the LNS's addresses on both ends, ping
# crosses the tunnel both ways, the kernel holds the L2TP tunnel and session
# (generic netlink "l2tp"), and after the LAC drops the tunnel (StopCCN) and
# both xl2tpd are stopped, no PPP interface, L2TP tunnel, pppd or xl2tpd is
# left. Uses the config templates of tests/xl2tpd/.
#
#   LAC 192.0.2.1 (netns lac) --veth-- LNS 192.0.2.2 (netns lns)
#   PPP: LAC 198.51.100.10 <-> LNS 198.51.100.1
# shellcheck source=tests/lab/lib.sh
. "$LAB_REPO/tests/lab/lib.sh"

TPL=$LAB_REPO/tests/xl2tpd
D=$LAB_TMP
LAC_ADDR=192.0.2.1
LNS_ADDR=192.0.2.2
PPP_LNS=198.51.100.1
PPP_LAC=198.51.100.10

lab_modprobe l2tp_ppp ppp_generic pppox ppp_async veth

lab_netns lac lns
lab_veth lac veth-lac "$LAC_ADDR/24" lns veth-lns "$LNS_ADDR/24"

# Keep the logs for the host whatever happens.
lab_keep_files "$D" '*.log'

echo "* * lab-s3cr3t" >"$D/l2tp-secrets"

# pppd options. /etc/ppp/options (Debian: auth, lock, crtscts...) is read
# first; these override it. ip-up/ip-down scripts are replaced so the host's
# /etc/ppp/ip-up.d is not run.
ppp_opts() { # NAME
    cat <<OPTS
noauth
ipcp-accept-local
ipcp-accept-remote
nodefaultroute
noccp
novj
mtu 1400
mru 1400
lcp-echo-interval 0
debug
logfile $D/$1-pppd.log
ip-up-script /bin/true
ip-down-script /bin/true
OPTS
}
ppp_opts lns >"$D/lns.options"
{ ppp_opts lac; echo noipdefault; } >"$D/lac.options"

fill() { # TEMPLATE OUT NAME ADDR
    sed -e "s|@LISTEN_ADDR@|$4|; s|@PORT@|1701|; s|@AUTH_FILE@|$D/l2tp-secrets|" \
        -e "s|@HOSTNAME@|lab-$3|; s|@CHALLENGE@|yes|; s|@HIDDEN@|no|" \
        -e "s|@AUTODIAL@|no|; s|@PPPOPTFILE@|$D/$3.options|; s|@LNS_ADDR@|$LNS_ADDR|" \
        -e "s|^ip range = .*|ip range = $PPP_LAC - $PPP_LAC|; s|^local ip = .*|local ip = $PPP_LNS|" \
        "$1" >"$2"
}
fill "$TPL/lns.conf.in" "$D/lns.conf" lns "$LNS_ADDR"
fill "$TPL/lac.conf.in" "$D/lac.conf" lac "$LAC_ADDR"
grep -q "ip range = $PPP_LAC" "$D/lns.conf" || lab_fail "lns.conf template changed (ip range)"

start_xl2tpd() { # NAME
    ip netns exec "$1" xl2tpd -D -c "$D/$1.conf" -p "$D/$1.pid" -C "$D/$1.control" \
        >"$D/$1-xl2tpd.log" 2>&1 &
}
start_xl2tpd lns
LNS_PID=$!
start_xl2tpd lac
LAC_PID=$!
lab_on_exit 'lab_kill_wait $LAC_PID $LNS_PID'
lab_wait 20 "LNS xl2tpd listening" grep -q "Listening on IP address" "$D/lns-xl2tpd.log"
lab_wait 20 "LAC xl2tpd control FIFO" test -p "$D/lac.control"
grep -q "kernel support" "$D/lns-xl2tpd.log" && lab_log "LNS: $(grep -m1 'kernel support' "$D/lns-xl2tpd.log")"

# Dial.
T_DIAL=$(cut -d' ' -f1 /proc/uptime)
echo "c test" >"$D/lac.control"

# An IPv4 point-to-point address "LOCAL peer PEER/32" in NS.
has_ppp_addr() { # NS LOCAL PEER
    ip -n "$1" -4 -o addr show | grep -q "inet $2 peer $3/32"
}
lab_wait 60 "LAC ppp up ($PPP_LAC peer $PPP_LNS)" has_ppp_addr lac "$PPP_LAC" "$PPP_LNS"
lab_wait 30 "LNS ppp up ($PPP_LNS peer $PPP_LAC)" has_ppp_addr lns "$PPP_LNS" "$PPP_LAC"
lab_log "PPP up $(awk -v a="$T_DIAL" '{ printf "%.1f", $1 - a }' /proc/uptime)s after dialling"
ip -n lac -4 -o addr show
ip -n lns -4 -o addr show

# The kernel carries the call: L2TP tunnel and session in both namespaces.
for ns in lac lns; do
    ip -n "$ns" l2tp show tunnel | grep -q "^Tunnel" || lab_fail "$ns: no kernel L2TP tunnel"
    ip -n "$ns" l2tp show session | grep -q "^Session" || lab_fail "$ns: no kernel L2TP session"
done
ip -n lns l2tp show tunnel
ip -n lns l2tp show session
lab_log "ok: kernel L2TP tunnel and session in both namespaces"

# Pings both ways; the kernel session counters (l2tp_debugfs) must move by
# at least the 6 echo requests + replies each end sends and receives.
counters() { # NS -> "TX RX" of its only session
    local c
    c=$(lab_l2tp_sessions "$1")
    [ "$(echo "$c" | grep -c .)" = 1 ] || lab_fail "$1: expected one kernel session, got: $c"
    echo "$c" | awk '{ print $3, $4 }'
}
read -r LAC_TX0 LAC_RX0 <<<"$(counters lac)"
read -r LNS_TX0 LNS_RX0 <<<"$(counters lns)"
lab_ping lac "$PPP_LNS"
lab_ping lns "$PPP_LAC"
read -r LAC_TX1 LAC_RX1 <<<"$(counters lac)"
read -r LNS_TX1 LNS_RX1 <<<"$(counters lns)"
lab_log "kernel session packets: lac tx $LAC_TX0->$LAC_TX1 rx $LAC_RX0->$LAC_RX1," \
    "lns tx $LNS_TX0->$LNS_TX1 rx $LNS_RX0->$LNS_RX1"
for v in "$LAC_TX0 $LAC_TX1" "$LAC_RX0 $LAC_RX1" "$LNS_TX0 $LNS_TX1" "$LNS_RX0 $LNS_RX1"; do
    set -- $v
    [ $(($2 - $1)) -ge 6 ] || lab_fail "kernel session counters did not move by 6 ($1 -> $2)"
done
lab_log "ok: kernel session counters moved"

# Teardown: the LAC drops the tunnel (StopCCN), PPP goes down on both ends.
echo "d test" >"$D/lac.control"
no_ppp() { ! ip -n "$1" -o link show type ppp | grep -q .; }
no_tunnel() { [ -z "$(ip -n "$1" l2tp show tunnel)" ]; }
lab_wait 30 "LAC ppp gone" no_ppp lac
lab_wait 30 "LNS ppp gone" no_ppp lns
lab_wait 30 "LAC kernel tunnel gone" no_tunnel lac
lab_wait 30 "LNS kernel tunnel gone" no_tunnel lns
grep -q "Disconnecting from" "$D/lns-xl2tpd.log" || grep -qi "StopCCN\|Stop-Control" "$D/lns-xl2tpd.log" \
    || lab_fail "LNS xl2tpd did not log the tunnel's end"
lab_kill_wait "$LAC_PID" "$LNS_PID"
for ns in lac lns; do
    [ -z "$(ip netns pids "$ns")" ] || lab_fail "$ns: processes left: $(ip netns pids "$ns" | xargs)"
done
lab_log "ok: no xl2tpd/pppd, PPP interface or kernel tunnel left"
LAB_PASSED=1
lab_log "PASS"
