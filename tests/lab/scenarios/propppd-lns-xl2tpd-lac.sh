#!/bin/bash
# xl2tpd + pppd LAC dialling prol2tpd + propppd LNS (issue 5, done items 3
# and 6), kernel data plane: prol2tpd hands each PPPoL2TP socket to propppd,
# which attaches it to /dev/ppp, negotiates and brings up pppN.
#
# Rounds 1-3: the LAC's pppd refuses all but one method, so propppd
# (offering MS-CHAPv2, CHAP, PAP) converges through LCP Nak on PAP, then
# CHAP-MD5, then MS-CHAPv2. Each round checks: the client gets the pool's
# address and both DNS servers, IPv6CP comes up (link-local addresses on
# both ends), ping crosses both ways over IPv4 and IPv6, and propppwatch
# printed CREATED, UP, DOWN (with the pings in its counters) and DESTROYED.
# Round 4: propppd is killed (SIGKILL) while the call is up: prol2tpd closes
# the session with a CDN and no PPP interface or kernel session is left; a
# restarted propppd serves the next call. Round 5: prol2tpd is killed: propppd
# tears its instance down and no interface is left.
#
#   LAC 192.0.2.1 (netns lac, xl2tpd+pppd) --veth-- LNS 192.0.2.2 (netns lns, prol2tpd+propppd)
#   PPP: LAC 198.51.100.10 (pool) <-> LNS 198.51.100.1
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
LAC_ADDR=192.0.2.1
LNS_ADDR=192.0.2.2
PPP_LNS=198.51.100.1
PPP_LAC=198.51.100.10
PPP_USER=$LAB_PPP_USER
lab_need_prol2tpd
lab_need_propppd

lab_two_hosts
lab_keep_files "$D" '*.log' '*.conf' '*.options' '*.watch'

echo "* * lab-s3cr3t" >"$D/l2tp-secrets"
lab_chap_secrets "$D/chap-secrets"
lab_chap_secrets "$D/pap-secrets"

lac_options() { # ROUND REFUSALS...
    local round=$1
    shift
    printf '%s\n' noauth "user $PPP_USER" "password $LAB_PPP_PASSWORD" noipdefault usepeerdns +ipv6 \
        nodefaultroute noccp novj "lcp-echo-interval 0" debug "logfile $D/lac-pppd-$round.log" \
        "ip-up-script /bin/true" "ip-down-script /bin/true" "$@" >"$D/lac.options"
}

lab_xl2tpd_lac_conf "$D/lac.conf" "$D/l2tp-secrets" "$D/lac.options"

lab_prol2tpd_lns_conf "$D/lns.conf" "$LNS_ADDR" 192.0.2.0/24 "$D/ppp.chan"

lab_propppd_conf "$D/propppd.conf" "$D/ppp.ctl" "$D/ppp.chan"
cat >>"$D/propppd.conf" <<CONF
[pool "lab"]
range = $PPP_LAC-198.51.100.20

[profile "default"]
auth = mschapv2, chap, pap
mru = 1400
local_ip = $PPP_LNS
pool = lab
dns = 192.0.2.53, 192.0.2.54
ipv6 = yes
echo_interval = 10
chap_secrets = $D/chap-secrets
pap_secrets = $D/pap-secrets
CONF

start_propppd() {
    lab_propppd_start lns "$PPPD_BIN" "$D/propppd.conf" "$D/lns-propppd.log"
    PPPD_PID=$LAB_PID
}
start_prol2tpd() {
    lab_prol2tpd_start lns "$BIN" "$D/lns.conf" "$D/lns.ctl" "$D/lns-prol2tpd.log"
    LNS_PID=$LAB_PID
}
start_watch() { # ROUND
    ip netns exec lns "$PPPWATCH" -s "$D/ppp.ctl" >"$D/round-$1.watch" 2>&1 &
    WATCH_PID=$!
    lab_wait 10 "propppwatch subscribed" sh -c "ip netns exec lns '$PPPCTL' -s '$D/ppp.ctl' -j status | grep -q '\"instances\"'"
}
start_propppd
start_prol2tpd
lab_on_exit 'lab_kill_wait $LNS_PID $PPPD_PID'

ip netns exec lac xl2tpd -D -c "$D/lac.conf" -p "$D/lac.pid" -C "$D/lac.control" >"$D/lac-xl2tpd.log" 2>&1 &
LAC_PID=$!
lab_on_exit 'lab_kill_wait $LAC_PID'
lab_wait 20 "LAC xl2tpd control FIFO" test -p "$D/lac.control"

has_ll() { ip -n "$1" -6 -o addr show scope link | grep -q "ppp"; }
no_session() { [ -z "$(ip -n "$1" l2tp show session)" ]; }
ppp_list_empty() { ! ip netns exec lns "$PPPCTL" -s "$D/ppp.ctl" list | grep -q ' 0x'; }

dial() { # ROUND
    echo "c test" >"$D/lac.control"
    lab_wait_ppp 60 lac "$PPP_LAC" "$PPP_LNS" "$1"
    lab_wait_ppp 30 lns "$PPP_LNS" "$PPP_LAC" "$1"
}
hang_up() { # ROUND
    echo "d test" >"$D/lac.control"
    lab_wait 30 "$1: LNS ppp gone" lab_no_ppp lns
    lab_wait 30 "$1: LAC ppp gone" lab_no_ppp lac
    lab_wait 10 "$1: LNS kernel session gone" no_session lns
}

# field LINE KEY: the value of KEY= in a propppwatch line.
field() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" <<<"$1" | tr -d "'"; }

method_round() { # ROUND METHOD PPPD-WORD REFUSALS...
    local round=$1 method=$2 word=$3 up down
    shift 3
    lac_options "$round" "$@"
    start_watch "$round"
    dial "$round"
    grep -q "$word" "$D/lac-pppd-$round.log" || lab_fail "$round: the client did not authenticate with $method"
    grep -q "primary   DNS address 192.0.2.53" "$D/lac-pppd-$round.log" || lab_fail "$round: no primary DNS"
    grep -q "secondary DNS address 192.0.2.54" "$D/lac-pppd-$round.log" || lab_fail "$round: no secondary DNS"
    lab_wait 20 "$round: IPv6CP up on the LAC" has_ll lac
    lab_wait 20 "$round: IPv6CP up on the LNS" has_ll lns
    local ll_lns
    ll_lns=$(ip -n lns -6 -o addr show scope link | awk '/ppp/ { print $4 }' | head -n 1)
    ll_lns=${ll_lns%%/*}
    lab_ping lac "$PPP_LNS" 5
    lab_ping lns "$PPP_LAC" 5
    if ! ip netns exec lac ping -6 -n -c 3 -i 0.2 -W 2 "$ll_lns%ppp0"; then
        for ns in lac lns; do
            echo "--- $ns:"; ip -n "$ns" -6 addr show dev ppp0; ip -n "$ns" -6 route show table all dev ppp0; ip -n "$ns" -s link show ppp0
        done
        lab_fail "$round: IPv6 ping to $ll_lns"
    fi
    lab_log "ok: $round: IPv6 ping to $ll_lns"
    ip netns exec lns "$PPPCTL" -s "$D/ppp.ctl" list
    hang_up "$round"
    lab_wait 10 "$round: propppwatch DESTROYED" grep -q "^PPP_DESTROYED_IND:" "$D/round-$round.watch"
    kill "$WATCH_PID" 2>/dev/null
    wait "$WATCH_PID" 2>/dev/null
    cat "$D/round-$round.watch"
    grep -q "^PPP_CREATED_IND: handle=0x[0-9a-f]* name=" "$D/round-$round.watch" || lab_fail "$round: no CREATED event"
    up=$(grep "^PPP_UP_IND:" "$D/round-$round.watch") || lab_fail "$round: no UP event"
    [ "$(field "$up" peer)" = "$PPP_LAC" ] && [ "$(field "$up" local)" = "$PPP_LNS" ] || lab_fail "$round: UP addresses: $up"
    [ "$(field "$up" user)" = "$PPP_USER" ] || lab_fail "$round: UP user: $up"
    [ "$(field "$up" linktype)" = pppoltp ] || lab_fail "$round: UP linktype: $up"
    down=$(grep "^PPP_DOWN_IND:" "$D/round-$round.watch") || lab_fail "$round: no DOWN event"
    local pin pout
    pin=$(sed -n 's/.*packets_in\/out=\([0-9]*\)\/\([0-9]*\).*/\1/p' <<<"$down")
    pout=$(sed -n 's/.*packets_in\/out=\([0-9]*\)\/\([0-9]*\).*/\2/p' <<<"$down")
    [ "${pin:-0}" -ge 13 ] && [ "${pout:-0}" -ge 13 ] || lab_fail "$round: DOWN counters do not hold the pings (in=$pin out=$pout): $down"
    lab_log "ok: $round: $method; propppwatch CREATED/UP/DOWN/DESTROYED, packets in/out $pin/$pout"
}

method_round r1 PAP "PAP authentication succeeded" refuse-chap refuse-mschap refuse-mschap-v2 refuse-eap
method_round r2 CHAP-MD5 "<auth chap MD5>" refuse-pap refuse-mschap refuse-mschap-v2 refuse-eap
grep -q "CHAP authentication succeeded" "$D/lac-pppd-r2.log" || lab_fail "r2: CHAP did not succeed"
method_round r3 MS-CHAPv2 "<auth chap MS-v2>" refuse-pap refuse-chap refuse-mschap refuse-eap
grep -q "CHAP authentication succeeded" "$D/lac-pppd-r3.log" || lab_fail "r3: MS-CHAPv2 did not succeed"

# Round 4: propppd dies with the call up.
lac_options r4 refuse-pap refuse-mschap refuse-mschap-v2 refuse-eap
dial r4
kill -KILL "$PPPD_PID"
wait "$PPPD_PID" 2>/dev/null
lab_wait 30 "r4: LNS ppp interface gone with propppd" lab_no_ppp lns
lab_wait 30 "r4: LNS kernel session closed" no_session lns
lab_wait 30 "r4: prol2tpd closed the session (CDN)" grep -q "PPP daemon went away" "$D/lns-prol2tpd.log"
lab_wait 30 "r4: LAC ppp gone" lab_no_ppp lac
lab_alive "$LNS_PID" || lab_fail "prol2tpd died with propppd"
lab_log "ok: r4: killing propppd closed its L2TP session, no interface left"
start_propppd
dial r4b
lab_ping lac "$PPP_LNS"
lab_log "ok: r4: a restarted propppd serves the next call"

# Round 5: prol2tpd dies with the call up: propppd ends the instance.
kill -KILL "$LNS_PID"
wait "$LNS_PID" 2>/dev/null
lab_wait 30 "r5: LNS ppp interface gone with prol2tpd" lab_no_ppp lns
lab_wait 10 "r5: propppd has no instance left" ppp_list_empty
lab_alive "$PPPD_PID" || lab_fail "propppd died with prol2tpd"
ip -n lns -o link show | grep -v "lo\|veth" && lab_fail "r5: interface left in the LNS namespace"
lab_log "ok: r5: killing prol2tpd tore propppd's instance down, no interface left"
kill -TERM "$PPPD_PID"
lab_wait 15 "propppd exited on SIGTERM" sh -c "! kill -0 $PPPD_PID 2>/dev/null"
LAB_PASSED=1
lab_log "PASS"
