#!/bin/bash
# prol2tpd + pppd LAC dialling xl2tpd + pppd LNS (issue 3, done item 2),
# kernel data plane: prol2tpd creates the configured tunnel and session at
# start-up (tunnel authentication: challenge and shared secret on both
# sides) and runs stock pppd with pppol2tp.so on the PPPoL2TP socket it made
# (ppp_unix), with the PPP profile's pppd_options. Checks: prol2tpd uses the
# kernel plane; PPP comes up with the LNS's addresses on both ends; ping
# crosses both ways; the kernel session counters, read through `prol2tp -j
# show session`, move by the pings both ways on the LAC; after `kill -TERM prol2tpd` the LNS sees the tunnel end and no
# kernel tunnel, session, PPP interface or process is left in the LAC's
# namespace.
#
#   LAC 192.0.2.1 (netns lac, prol2tpd) --veth-- LNS 192.0.2.2 (netns lns, xl2tpd)
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

lab_keep_files "$D" '*.log' '*.conf' '*.options'

# L2TP tunnel secret (xl2tpd's auth file; prol2tpd's `secret`).
echo "* * lab-s3cr3t" >"$D/l2tp-secrets"
# PPP authentication: the LNS's pppd requires CHAP from the LAC's, which
# names itself with `user` (given through prol2tpd's pppd_options). pppd
# reads its secrets only from /etc/ppp/chap-secrets: the guest's view of
# the host's (read-only) file is covered by the scenario's own.
PPP_USER=lab@example.net
printf '%s\n' "$PPP_USER * lab-ppp-pw *" "lab-lns $PPP_USER lab-ppp-pw *" >"$D/chap-secrets"
chmod 600 "$D/chap-secrets"
lab_run mount --bind "$D/chap-secrets" /etc/ppp/chap-secrets
lab_on_exit 'umount /etc/ppp/chap-secrets'
# pppd options. /etc/ppp/options (Debian: auth, lock, crtscts...) is read
# first; these override it. ip-up/ip-down scripts are replaced so the host's
# /etc/ppp/ip-up.d is not run.
ppp_opts() { # NAME
    cat <<OPTS
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
{ ppp_opts lns; printf '%s\n' auth require-chap "name lab-lns" "mtu 1400" "mru 1400"; } >"$D/lns.options"
{ ppp_opts lac; printf '%s\n' noauth "user $PPP_USER" noipdefault; } >"$D/lac.options"

lab_xl2tpd_lns_conf "$D/lns.conf" "$D/l2tp-secrets" "$D/lns.options"

# prol2tpd's pppd_options are split at white space (no quoting): the
# option file's path must not contain any.
cat >"$D/lac.conf" <<CONF
[system]
dataplane = kernel
host_name = lab-lac
listen = $LAC_ADDR

[ppp_profile "lac"]
mtu = 1400
mru = 1400
pppd_options = file $D/lac.options

[tunnel "lns"]
peer = $LNS_ADDR
version = 2
secret = lab-s3cr3t
hello_timeout = 0

[session "lns/dsl0"]
call_type = incoming
ppp_profile = lac
user_name = lab@example.net
CONF

ip netns exec lns xl2tpd -D -c "$D/lns.conf" -p "$D/lns.pid" -C "$D/lns.control" >"$D/lns-xl2tpd.log" 2>&1 &
LNS_PID=$!
lab_on_exit "lab_kill_wait $LNS_PID"
lab_wait 20 "LNS xl2tpd listening" grep -q "Listening on IP address" "$D/lns-xl2tpd.log"

T_DIAL=$(cut -d' ' -f1 /proc/uptime)
ip netns exec lac env PROL2TP_CONTROL="$D/lac.ctl" "$BIN" -f -p ppp_unix -c "$D/lac.conf" >"$D/lac-prol2tpd.log" 2>&1 &
LAC_PID=$!
lab_on_exit "lab_kill_wait $LAC_PID"
lab_wait 20 "prol2tpd started" grep -q "start version=" "$D/lac-prol2tpd.log"
grep -q "dataplane requested=kernel using=kernel" "$D/lac-prol2tpd.log" || lab_fail "prol2tpd is not using the kernel data plane"
lab_log "ok: prol2tpd uses the kernel data plane"

has_ppp_addr() { ip -n "$1" -4 -o addr show | grep -q "inet $2 peer $3/32"; }
no_ppp() { ! ip -n "$1" -o link show type ppp | grep -q .; }
no_tunnel() { [ -z "$(ip -n "$1" l2tp show tunnel)" ]; }
no_session() { [ -z "$(ip -n "$1" l2tp show session)" ]; }
no_lac_pppd() { ! pgrep -f "pppd plugin pppol2tp.so pppol2tp .*file $D/lac.options" >/dev/null; }

lab_wait 60 "LAC ppp up ($PPP_LAC peer $PPP_LNS)" has_ppp_addr lac "$PPP_LAC" "$PPP_LNS"
lab_wait 30 "LNS ppp up ($PPP_LNS peer $PPP_LAC)" has_ppp_addr lns "$PPP_LNS" "$PPP_LAC"
lab_log "PPP up $(awk -v a="$T_DIAL" '{ printf "%.1f", $1 - a }' /proc/uptime)s after prol2tpd started"
ip -n lac -4 -o addr show
grep -q "ppp start tunnel_id=" "$D/lac-prol2tpd.log" || lab_fail "no 'ppp start' line"
pgrep -af "pppd plugin pppol2tp.so pppol2tp [0-9]+ pppol2tp_tunnel_id" >/dev/null \
    || lab_fail "the LAC's pppd does not run without pppol2tp_lns_mode"
# Tunnel authentication both ways (RFC 2661 section 5.1.1): prol2tpd's
# SCCRQ carried a Challenge, and its SCCCN answered xl2tpd's.
grep -q "challenge_avp: challenge avp found" "$D/lns-xl2tpd.log" || lab_fail "prol2tpd did not challenge the LNS"
grep -q "chalresp_avp: Challenge reply found" "$D/lns-xl2tpd.log" || lab_fail "prol2tpd did not answer the LNS's challenge"
grep -q "rcvd \\[CHAP Response .*name = \"$PPP_USER\"" "$D/lns-pppd.log" && grep -q "sent \\[CHAP Success" "$D/lns-pppd.log" \
    || lab_fail "the LNS's pppd did not authenticate $PPP_USER with CHAP"
lab_log "ok: tunnel challenge both ways; PPP CHAP as $PPP_USER"

# The kernel carries the call in the LAC's namespace.
ip -n lac l2tp show tunnel | grep -q "^Tunnel" || lab_fail "lac: no kernel L2TP tunnel"
ip -n lac l2tp show session | grep -q "^Session" || lab_fail "lac: no kernel L2TP session"
ip -n lac l2tp show tunnel
ip -n lac l2tp show session
lab_log "ok: kernel L2TP tunnel and session in the LAC's namespace"

[ "$(ip -n lac l2tp show session | grep -c "^Session")" = 1 ] || lab_fail "lac: expected one kernel session"
lab_data_counters lac "$D/lac.ctl"
set -- "$RXP" "$TXP" "$RXO" "$TXO"
lab_ping lac "$PPP_LNS"
lab_ping lns "$PPP_LAC"
lab_data_moved lac "$D/lac.ctl" "LAC" "$@"

# Teardown: SIGTERM to prol2tpd while the call is up (StopCCN to the LNS).
kill -TERM "$LAC_PID"
lab_wait 15 "prol2tpd exited" sh -c "! kill -0 $LAC_PID 2>/dev/null"
wait "$LAC_PID" 2>/dev/null || true
grep -q "exit tunnels_left=0" "$D/lac-prol2tpd.log" || lab_fail "prol2tpd exited with tunnels left"
lab_wait 30 "LAC ppp gone after SIGTERM" no_ppp lac
lab_wait 10 "LAC kernel tunnel gone after SIGTERM" no_tunnel lac
lab_wait 10 "LAC kernel session gone after SIGTERM" no_session lac
lab_wait 30 "LAC pppd gone after SIGTERM" no_lac_pppd
lab_wait 30 "LAC namespace has no process left" sh -c '[ -z "$(ip netns pids lac)" ]'
lab_wait 30 "LNS saw the tunnel end (StopCCN)" grep -qi "StopCCN\|Stop-Control\|Disconnecting from" "$D/lns-xl2tpd.log"
lab_wait 30 "LNS kernel tunnel gone" no_tunnel lns
lab_log "ok: after SIGTERM no kernel tunnel, session, PPP interface or process left on the LAC"
LAB_PASSED=1
lab_log "PASS"
