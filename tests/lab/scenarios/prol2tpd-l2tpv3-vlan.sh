#!/bin/bash
# prol2tpd against prol2tpd, L2TPv3 VLAN pseudowire (RFC 4719 pseudowire
# type 0x0004) over UDP/IPv4 with cookies, kernel data plane (issue 3,
# done item 3, VLAN part). Both ends configure `pseudowire = vlan`,
# `vlan_id = 100`: each daemon makes the l2tpeth master (the LAC names it
# pw0), brings it up unaddressed and puts the 802.1Q sub-interface
# MASTER.100 on it. Checks: the daemons report MASTER.100 up; it is a VLAN
# interface with id 100 on the session's l2tpeth; the addresses go on the
# sub-interfaces only and ping crosses both ways, moving both daemons'
# session counters (`prol2tp -j show session`) by as much; the masters carry
# the tagged frames (their counters move) and hold no address; after SIGTERM to
# both daemons no kernel tunnel, session, l2tpeth or VLAN interface is left.
#
#   LAC 192.0.2.2 (netns lac) --veth-- LNS 192.0.2.1 (netns lns)
#   VLAN 100: LNS 203.0.113.1/24 <-> LAC 203.0.113.2/24
#
# Needs the host's build of prol2tpd: $PROL2TPD, else target/debug/prol2tpd.
. "$LAB_REPO/tests/lab/lib.sh"

D=$LAB_TMP
VID=100
lab_need_prol2tpd

lab_modprobe l2tp_netlink l2tp_eth 8021q veth
lab_keep_files "$D" '*.log' '*.conf'

lab_netns lns lac
lab_veth lns v-lns 192.0.2.1/24 lac v-lac 192.0.2.2/24

cat >"$D/lns.conf" <<CONF
[system]
dataplane = kernel
host_name = lns.example

[tunnel_profile "v3"]
version = 3
secret = pw-secret
session_profile = vlan

[session_profile "vlan"]
pseudowire = vlan
vlan_id = $VID
cookie = 0x5e6f7a8b
peer_cookie = 0x1a2b3c4d5e6f7081

[peer_profile "v4"]
peer = 192.0.2.0/24
tunnel_profile = v3
CONF
cat >"$D/lac.conf" <<CONF
[system]
dataplane = kernel
host_name = lac.example

[tunnel "t"]
peer = 192.0.2.1
version = 3
encap = udp
secret = pw-secret

[session "t/pw"]
pseudowire = vlan
vlan_id = $VID
interface_name = pw0
cookie = 0x1a2b3c4d5e6f7081
peer_cookie = 0x5e6f7a8b
CONF

start() { # NS (its pid is then $!)
    ip netns exec "$1" env PROL2TP_CONTROL="$D/$1.ctl" "$BIN" -f -c "$D/$1.conf" >"$D/$1.log" 2>&1 &
}
ifname_of() { # LOG
    grep -o 'dataplane interface up .* interface=[^ ]*' "$1" | head -n 1 | sed 's/.*interface=//'
}
# Packets the interface received and sent ("RX TX").
link_packets() { # NS IF
    ip -n "$1" -s -o link show dev "$2" | sed 's/\\/\n/g' | awk '
        $1 == "RX:" { rx = 1; next } $1 == "TX:" { tx = 1; next }
        rx == 1 { r = $2; rx = 2 } tx == 1 { t = $2; tx = 2 }
        END { print r, t }'
}
# No IPv4 address and no global IPv6 address on NS's interface IF.
unaddressed() { # NS IF
    ! ip -n "$1" -o addr show dev "$2" | grep -q "inet \|inet6 .*scope global"
}
no_l2tp_left() { # NS
    [ -z "$(ip -n "$1" l2tp show tunnel)" ] && [ -z "$(ip -n "$1" l2tp show session)" ] \
        && ! ip -n "$1" -o link show | grep -q "l2tpeth\|pw0\|\.$VID@"
}

start lns
PID_LNS=$!
lab_on_exit "lab_kill_wait $PID_LNS"
lab_wait 20 "LNS started" grep -q "start version=" "$D/lns.log"
start lac
PID_LAC=$!
lab_on_exit "lab_kill_wait $PID_LAC"
lab_wait 30 "LNS VLAN interface up" grep -q "dataplane interface up" "$D/lns.log"
lab_wait 30 "LAC VLAN interface up" grep -q "dataplane interface up" "$D/lac.log"
LNS_IF=$(ifname_of "$D/lns.log")
LAC_IF=$(ifname_of "$D/lac.log")
[ "$LAC_IF" = "pw0.$VID" ] || lab_fail "LAC interface is '$LAC_IF', not pw0.$VID"
case $LNS_IF in
    l2tpeth*."$VID") ;;
    *) lab_fail "LNS interface is '$LNS_IF', not l2tpethN.$VID" ;;
esac
# The LNS took the pseudowire type from the LAC's ICRQ (RFC 4719 type 4).
grep -q "session created .* pseudowire=VLAN" "$D/lns.log" || lab_fail "LNS session is not a VLAN pseudowire"
LNS_MASTER=${LNS_IF%."$VID"}
LAC_MASTER=pw0
ip -n lns l2tp show session
ip -n lns l2tp show session | grep -q "interface name: $LNS_MASTER" || lab_fail "LNS kernel session's interface is not $LNS_MASTER"
ip -n lns l2tp show session | grep -q "cookie 5e6f7a8b" || lab_fail "LNS kernel session lacks its cookie"
ip -n lac l2tp show session | grep -q "cookie 1a2b3c4d5e6f7081" || lab_fail "LAC kernel session lacks its cookie"
for x in "lns $LNS_MASTER $LNS_IF" "lac $LAC_MASTER $LAC_IF"; do
    set -- $x
    ip -n "$1" -d link show dev "$3"
    ip -n "$1" -d -o link show dev "$3" | grep -q "^[0-9]*: $3@$2:.*vlan protocol 802.1Q id $VID " \
        || lab_fail "$1: $3 is not 802.1Q id $VID on $2"
    ip -n "$1" -o link show dev "$2" | grep -q "state UP\|,UP" || lab_fail "$1: master $2 is not up"
    ip -n "$1" -o link show dev "$3" | grep -q "state UP\|,UP" || lab_fail "$1: $3 is not up"
done
lab_log "ok: both ends have $VID-tagged sub-interfaces up on their l2tpeth masters ($LNS_IF, $LAC_IF)"

lab_addr lns "$LNS_IF" 203.0.113.1/24
lab_addr lac "$LAC_IF" 203.0.113.2/24
read -r M_RX0 M_TX0 <<<"$(link_packets lac "$LAC_MASTER")"
lab_data_counters lns "$D/lns.ctl"
BEFORE_LNS="$RXP $TXP $RXO $TXO"
lab_data_counters lac "$D/lac.ctl"
BEFORE_LAC="$RXP $TXP $RXO $TXO"
lab_ping lac 203.0.113.1
lab_ping lns 203.0.113.2
# shellcheck disable=SC2086 # four numbers
lab_data_moved lns "$D/lns.ctl" "LNS" $BEFORE_LNS
# shellcheck disable=SC2086
lab_data_moved lac "$D/lac.ctl" "LAC" $BEFORE_LAC
read -r M_RX1 M_TX1 <<<"$(link_packets lac "$LAC_MASTER")"
lab_log "LAC master $LAC_MASTER packets rx $M_RX0->$M_RX1 tx $M_TX0->$M_TX1"
[ $((M_RX1 - M_RX0)) -ge 6 ] && [ $((M_TX1 - M_TX0)) -ge 6 ] || lab_fail "the master did not carry the VLAN's frames"
unaddressed lns "$LNS_MASTER" || lab_fail "LNS master $LNS_MASTER has an address"
unaddressed lac "$LAC_MASTER" || lab_fail "LAC master $LAC_MASTER has an address"
lab_log "ok: VLAN $VID carried pings both ways over the unaddressed masters"

kill -TERM "$PID_LAC" "$PID_LNS"
lab_wait 15 "daemons exited" sh -c "! kill -0 $PID_LAC 2>/dev/null && ! kill -0 $PID_LNS 2>/dev/null"
lab_wait 10 "nothing left on the LNS" no_l2tp_left lns
lab_wait 10 "nothing left on the LAC" no_l2tp_left lac
[ -z "$(ip netns pids lns)$(ip netns pids lac)" ] || lab_fail "processes left: $(ip netns pids lns) $(ip netns pids lac)"
lab_log "ok: after SIGTERM no kernel tunnel, session, l2tpeth or VLAN interface left"
LAB_PASSED=1
lab_log "PASS"
