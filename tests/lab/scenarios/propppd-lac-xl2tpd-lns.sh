#!/bin/bash
# prol2tpd + propppd LAC dialling xl2tpd + pppd LNS (issue 5, done item 4),
# kernel data plane: prol2tpd creates the configured tunnel and session at
# start-up and hands the PPPoL2TP socket to propppd, which authenticates to
# the LNS's pppd with CHAP as a client and brings up the PPP unit, renamed
# to the session's interface_name (dsl0), with the address the LNS gives.
# Checks: the LNS's pppd authenticated our user with CHAP;
# both ends have their addresses; ping crosses both ways; propppctl shows
# the instance up; after SIGTERM to both daemons nothing is left.
#
#   LAC 192.0.2.1 (netns lac, prol2tpd+propppd) --veth-- LNS 192.0.2.2 (netns lns, xl2tpd+pppd)
#   PPP: LAC 198.51.100.10 <-> LNS 198.51.100.1
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
LAC_ADDR=192.0.2.1
LNS_ADDR=192.0.2.2
PPP_LNS=198.51.100.1
PPP_LAC=198.51.100.10
PPP_USER=lab@example.net
lab_need_prol2tpd
lab_need_propppd

lab_two_hosts
lab_keep_files "$D" '*.log' '*.conf' '*.options'

echo "* * lab-s3cr3t" >"$D/l2tp-secrets"
# The LNS's pppd reads /etc/ppp/chap-secrets only: cover the guest's
# (read-only) view of the host's file with the scenario's own.
printf '%s\n' "$PPP_USER * lab-ppp-pw *" >"$D/chap-secrets"
chmod 600 "$D/chap-secrets"
lab_run mount --bind "$D/chap-secrets" /etc/ppp/chap-secrets
lab_on_exit 'umount /etc/ppp/chap-secrets'
printf '%s\n' auth require-chap "name lab-lns" "mtu 1400" "mru 1400" ipcp-accept-local ipcp-accept-remote \
    nodefaultroute noccp novj "lcp-echo-interval 0" debug "logfile $D/lns-pppd.log" \
    "ip-up-script /bin/true" "ip-down-script /bin/true" >"$D/lns.options"

lab_xl2tpd_lns_conf "$D/lns.conf" "$D/l2tp-secrets" "$D/lns.options"

cat >"$D/lac.conf" <<CONF
[system]
dataplane = kernel
host_name = lab-lac
listen = $LAC_ADDR
propppd_socket = $D/ppp.chan

[ppp_profile "lac"]
mtu = 1400
mru = 1400

[tunnel "lns"]
peer = $LNS_ADDR
version = 2
secret = lab-s3cr3t
hello_timeout = 0

[session "lns/dsl0"]
call_type = incoming
ppp_profile = lac
interface_name = dsl0
CONF

cat >"$D/propppd.conf" <<CONF
[system]
log_level = debug
control_socket = $D/ppp.ctl
channel_socket = $D/ppp.chan

[profile "lac"]
auth = none
user_name = $PPP_USER
password = lab-ppp-pw
mru = 1400
ipv6 = no
echo_interval = 10
CONF
"$PPPD_BIN" -n -c "$D/propppd.conf" || lab_fail "propppd -n rejects the scenario's config"

ip netns exec lns xl2tpd -D -c "$D/lns.conf" -p "$D/lns.pid" -C "$D/lns.control" >"$D/lns-xl2tpd.log" 2>&1 &
XL_PID=$!
lab_on_exit "lab_kill_wait $XL_PID"
lab_wait 20 "LNS xl2tpd listening" grep -q "Listening on IP address" "$D/lns-xl2tpd.log"

ip netns exec lac "$PPPD_BIN" -f -c "$D/propppd.conf" >"$D/lac-propppd.log" 2>&1 &
PPPD_PID=$!
lab_wait 20 "propppd listening" test -S "$D/ppp.chan"
T_DIAL=$(cut -d' ' -f1 /proc/uptime)
ip netns exec lac env PROL2TP_CONTROL="$D/lac.ctl" "$BIN" -f -c "$D/lac.conf" >"$D/lac-prol2tpd.log" 2>&1 &
LAC_PID=$!
lab_on_exit 'lab_kill_wait $LAC_PID $PPPD_PID'
lab_wait 20 "prol2tpd started" grep -q "start version=" "$D/lac-prol2tpd.log"

has_ppp_addr() { ip -n "$1" -4 -o addr show | grep -q "inet $2 peer $3/32"; }
no_ppp() { ! ip -n "$1" -o link show type ppp | grep -q .; }
no_tunnel() { [ -z "$(ip -n "$1" l2tp show tunnel)" ]; }

lab_wait 60 "LAC ppp up ($PPP_LAC peer $PPP_LNS)" has_ppp_addr lac "$PPP_LAC" "$PPP_LNS"
lab_wait 30 "LNS ppp up ($PPP_LNS peer $PPP_LAC)" has_ppp_addr lns "$PPP_LNS" "$PPP_LAC"
lab_log "PPP up $(awk -v a="$T_DIAL" '{ printf "%.1f", $1 - a }' /proc/uptime)s after prol2tpd started"
grep -q "rcvd \\[CHAP Response .*name = \"$PPP_USER\"" "$D/lns-pppd.log" && grep -q "sent \\[CHAP Success" "$D/lns-pppd.log" \
    || lab_fail "the LNS's pppd did not authenticate $PPP_USER with CHAP"
lab_log "ok: propppd authenticated to the LNS with CHAP as $PPP_USER"
ip -n lac -4 -o addr show dev dsl0 | grep -q "inet $PPP_LAC peer" || lab_fail "the PPP unit is not named dsl0 (the session's interface_name)"
lab_log "ok: the kernel PPP unit carries the configured name dsl0"
ip netns exec lac "$PPPCTL" -s "$D/ppp.ctl" list
ip netns exec lac "$PPPCTL" -s "$D/ppp.ctl" -j list | grep -q '"state":"network"' || lab_fail "propppctl does not show the instance in the network phase"
lab_ping lac "$PPP_LNS"
lab_ping lns "$PPP_LAC"

kill -TERM "$LAC_PID" "$PPPD_PID"
lab_wait 15 "prol2tpd exited" sh -c "! kill -0 $LAC_PID 2>/dev/null"
lab_wait 15 "propppd exited" sh -c "! kill -0 $PPPD_PID 2>/dev/null"
lab_wait 30 "LAC ppp gone" no_ppp lac
lab_wait 10 "LAC kernel tunnel gone" no_tunnel lac
lab_wait 30 "LAC namespace has no process left" sh -c '[ -z "$(ip netns pids lac)" ]'
lab_wait 30 "LNS ppp gone" no_ppp lns
lab_log "ok: after SIGTERM no kernel tunnel, PPP interface or process left on the LAC"
LAB_PASSED=1
lab_log "PASS"
