#!/bin/bash
# prol2tpd against prol2tpd, L2TPv3 Ethernet pseudowire with cookies, kernel
# data plane (issue 3, done item 3, in part): over UDP/IPv4, UDP/IPv6,
# IP/IPv6 and IP/IPv4. For each: both daemons report their l2tpeth
# interface up, the kernel session carries the configured cookies, ping
# crosses the pseudowire both ways and moves both daemons' session counters
# (the kernel's, read through `prol2tp -j show session`) by as much, and
# after SIGTERM to both daemons no kernel tunnel or l2tpeth interface is
# left. Issue 4: the LNS's SESSION UP event (prol2tpwatch -j) names its
# l2tpeth interface, and the LAC's session-up hook script runs with the
# documented arguments and INTERFACE_NAME=pw0 while pw0 exists.
#
#   LAC 192.0.2.2, 2001:db8::2 (netns lac) --veth-- LNS 192.0.2.1, 2001:db8::1 (netns lns)
#   pseudowire: LNS 203.0.113.1/24 <-> LAC 203.0.113.2/24
#
# Needs the host's build of prol2tpd: $PROL2TPD, else target/debug/prol2tpd.
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
lab_need_prol2tpd

WATCH=${PROL2TPWATCH:-$LAB_REPO/target/debug/prol2tpwatch}
[ -x "$WATCH" ] || lab_fail "no prol2tpwatch binary at $WATCH (cargo build first)"

lab_modprobe l2tp_netlink l2tp_eth l2tp_ip l2tp_ip6 veth
lab_keep_files "$D" '*.log' '*.conf' '*.out'

start() { # NS NAME -> sets PID_<NAME>
    ip netns exec "$1" env PROL2TP_CONTROL="$D/$2.ctl" "$BIN" -f -c "$D/$2.conf" >"$D/$2.log" 2>&1 &
    eval "PID_$2=$!"
}
ifname_of() { # LOG
    grep -o 'dataplane interface up .* interface=[^ ]*' "$1" | head -n 1 | sed 's/.*interface=//'
}
watching() { # NS CTL: one watcher is subscribed
    lab_cli "$1" "$2" -j show system | grep -q '"watchers":1'
}
no_l2tp_left() { # NS
    [ -z "$(ip -n "$1" l2tp show tunnel)" ] && ! ip -n "$1" -o link show | grep -q "l2tpeth\|pw0"
}

run() { # TAG ENCAP LNS_PEER
    local tag=$1 encap=$2 peer=$3 lns_if lac_if lac_addr
    lab_netns "lns$tag" "lac$tag"
    lab_veth "lns$tag" "v-lns$tag" 192.0.2.1/24 "lac$tag" "v-lac$tag" 192.0.2.2/24
    lab_addr "lns$tag" "v-lns$tag" 2001:db8::1/64
    lab_addr "lac$tag" "v-lac$tag" 2001:db8::2/64
    cat >"$D/lns$tag.conf" <<CONF
[system]
dataplane = kernel
host_name = lns.example

[tunnel_profile "v3"]
version = 3
secret = pw-secret
session_profile = eth

[session_profile "eth"]
pseudowire = eth
cookie = 0x5e6f7a8b
peer_cookie = 0x1a2b3c4d5e6f7081

[peer_profile "v4"]
peer = 192.0.2.0/24
tunnel_profile = v3

[peer_profile "v6"]
peer = 2001:db8::/64
tunnel_profile = v3
CONF
    cat >"$D/lac$tag.conf" <<CONF
[system]
dataplane = kernel
host_name = lac.example
script_dir = $D/hooks$tag

[tunnel "t"]
peer = $peer
version = 3
encap = $encap
secret = pw-secret

[session "t/pw"]
pseudowire = eth
interface_name = pw0
cookie = 0x1a2b3c4d5e6f7081
peer_cookie = 0x5e6f7a8b
CONF
    mkdir -p "$D/hooks$tag"
    cat >"$D/hooks$tag/session-up" <<'HOOK'
#!/bin/sh
out=$(dirname "$0")/session-up.out
{ echo "args=$*"; echo "INTERFACE_NAME=$INTERFACE_NAME"; echo "PROL2TP_EVENT=$PROL2TP_EVENT"
  ip link show "$INTERFACE_NAME" >/dev/null 2>&1 && echo "link=present"; } >"$out.tmp"
mv "$out.tmp" "$out"
HOOK
    chmod 755 "$D/hooks$tag/session-up"
    start "lns$tag" "lns$tag"
    lab_wait 20 "$tag: LNS started" grep -q "start version=" "$D/lns$tag.log"
    ip netns exec "lns$tag" env PROL2TP_CONTROL="$D/lns$tag.ctl" "$WATCH" -j -n 1 -e session-up >"$D/watch$tag.out" 2>&1 &
    local watch_pid=$!
    lab_wait 10 "$tag: watcher subscribed" watching "lns$tag" "$D/lns$tag.ctl"
    start "lac$tag" "lac$tag"
    local lns_pid lac_pid
    eval "lns_pid=\$PID_lns$tag lac_pid=\$PID_lac$tag"
    lab_on_exit "lab_kill_wait $lns_pid $lac_pid"
    lab_wait 30 "$tag: LNS interface up" grep -q "dataplane interface up" "$D/lns$tag.log"
    lab_wait 30 "$tag: LAC interface up" grep -q "dataplane interface up" "$D/lac$tag.log"
    lns_if=$(ifname_of "$D/lns$tag.log")
    lac_if=$(ifname_of "$D/lac$tag.log")
    [ "$lac_if" = pw0 ] || lab_fail "$tag: LAC interface is '$lac_if', not pw0"
    ip -n "lns$tag" l2tp show session
    ip -n "lns$tag" l2tp show tunnel
    ip -n "lns$tag" l2tp show tunnel | grep -qi "encap $encap" || lab_fail "$tag: LNS kernel tunnel is not encap $encap"
    case $peer in *:*) lac_addr=2001:db8::2 ;; *) lac_addr=192.0.2.2 ;; esac
    ip -n "lns$tag" l2tp show tunnel | grep -q "From $peer to $lac_addr\$" || lab_fail "$tag: LNS kernel tunnel is not $peer -> $lac_addr"
    ip -n "lns$tag" l2tp show session | grep -q "cookie 5e6f7a8b" || lab_fail "$tag: LNS kernel session lacks its cookie"
    ip -n "lac$tag" l2tp show session | grep -q "cookie 1a2b3c4d5e6f7081" || lab_fail "$tag: LAC kernel session lacks its cookie"
    lab_addr "lns$tag" "$lns_if" 203.0.113.1/24
    lab_addr "lac$tag" "$lac_if" 203.0.113.2/24
    local before_lns before_lac
    lab_data_counters "lns$tag" "$D/lns$tag.ctl"
    before_lns="$RXP $TXP $RXO $TXO"
    lab_data_counters "lac$tag" "$D/lac$tag.ctl"
    before_lac="$RXP $TXP $RXO $TXO"
    lab_ping "lac$tag" 203.0.113.1
    lab_ping "lns$tag" 203.0.113.2
    # shellcheck disable=SC2086 # four numbers
    lab_data_moved "lns$tag" "$D/lns$tag.ctl" "$tag: LNS" $before_lns
    # shellcheck disable=SC2086
    lab_data_moved "lac$tag" "$D/lac$tag.ctl" "$tag: LAC" $before_lac
    lab_wait 10 "$tag: LNS watcher saw SESSION UP" sh -c "! kill -0 $watch_pid 2>/dev/null"
    cat "$D/watch$tag.out"
    grep -q "\"interface_name\":\"$lns_if\"" "$D/watch$tag.out" || lab_fail "$tag: SESSION UP event lacks interface_name=$lns_if"
    grep -q '"session_type":"ETH"' "$D/watch$tag.out" || lab_fail "$tag: SESSION UP event is not ETH"
    lab_wait 10 "$tag: LAC session-up hook ran" test -f "$D/hooks$tag/session-up.out"
    cp "$D/hooks$tag/session-up.out" "$D/hook$tag.out"
    cat "$D/hook$tag.out"
    grep -qx "args=[0-9]* [0-9]* ETH" "$D/hook$tag.out" || lab_fail "$tag: hook arguments are not TID SID ETH"
    grep -qx "INTERFACE_NAME=pw0" "$D/hook$tag.out" || lab_fail "$tag: hook INTERFACE_NAME is not pw0"
    grep -qx "link=present" "$D/hook$tag.out" || lab_fail "$tag: pw0 did not exist when the hook ran"
    kill -TERM "$lac_pid" "$lns_pid"
    lab_wait 15 "$tag: daemons exited" sh -c "! kill -0 $lac_pid 2>/dev/null && ! kill -0 $lns_pid 2>/dev/null"
    lab_wait 10 "$tag: nothing left on the LNS" no_l2tp_left "lns$tag"
    lab_wait 10 "$tag: nothing left on the LAC" no_l2tp_left "lac$tag"
    lab_log "ok: $tag: L2TPv3 Ethernet over $encap ($peer) carried pings both ways; teardown clean"
}

run u4 udp 192.0.2.1
run u6 udp 2001:db8::1
run i6 ip 2001:db8::1
run i4 ip 192.0.2.1
LAB_PASSED=1
lab_log "PASS"
