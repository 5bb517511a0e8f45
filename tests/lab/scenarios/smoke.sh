#!/bin/bash
# Kernel lab smoke test: the modules load, two network namespaces joined by
# veth reach each other (IPv4 and IPv6), the generic netlink family "l2tp"
# answers (`ip l2tp show tunnel`), /dev/ppp exists, and a static L2TPv3
# Ethernet pseudowire over UDP (plus an 802.1Q VLAN on top of it) carries
# pings between the namespaces.
# shellcheck source=tests/lab/lib.sh
. "$LAB_REPO/tests/lab/lib.sh"

MODULES="l2tp_core l2tp_netlink l2tp_ppp l2tp_eth l2tp_ip l2tp_ip6 ppp_generic pppox pppoe 8021q veth"
lab_modprobe $MODULES
for m in $MODULES; do
    lab_module_loaded "$m" || lab_fail "module $m not in /proc/modules"
done
lab_log "ok: modules loaded: $MODULES"
[ -c /dev/ppp ] || lab_fail "/dev/ppp is not a character device"
lab_log "ok: /dev/ppp"

lab_netns a b
lab_veth a veth-a 192.0.2.1/24 b veth-b 192.0.2.2/24
lab_addr a veth-a 2001:db8:1::1/64
lab_addr b veth-b 2001:db8:1::2/64
lab_ping a 192.0.2.2
lab_ping b 192.0.2.1
lab_ping a 2001:db8:1::2

# Generic netlink family l2tp: ip l2tp fails if it is not registered.
ip l2tp show tunnel || lab_fail "ip l2tp show tunnel"
[ -z "$(ip -n a l2tp show tunnel)" ] || lab_fail "unexpected L2TP tunnels"
lab_log "ok: generic netlink family l2tp answers"

# Static L2TPv3 Ethernet pseudowire, UDP encapsulation, with cookies.
lab_run ip -n a l2tp add tunnel tunnel_id 1 peer_tunnel_id 2 encap udp \
    local 192.0.2.1 remote 192.0.2.2 udp_sport 5001 udp_dport 5002
lab_run ip -n b l2tp add tunnel tunnel_id 2 peer_tunnel_id 1 encap udp \
    local 192.0.2.2 remote 192.0.2.1 udp_sport 5002 udp_dport 5001
lab_run ip -n a l2tp add session name pw0 tunnel_id 1 session_id 10 peer_session_id 20 \
    cookie 0102030405060708 peer_cookie 1112131415161718
lab_run ip -n b l2tp add session name pw0 tunnel_id 2 session_id 20 peer_session_id 10 \
    cookie 1112131415161718 peer_cookie 0102030405060708
ip -n a l2tp show session
lab_addr a pw0 203.0.113.1/24
lab_addr b pw0 203.0.113.2/24
lab_run ip -n a link set pw0 up
lab_run ip -n b link set pw0 up
lab_ping a 203.0.113.2
lab_ping b 203.0.113.1

# 802.1Q VLAN 100 on top of the pseudowire.
lab_run ip -n a link add link pw0 name pw0.100 type vlan id 100
lab_run ip -n b link add link pw0 name pw0.100 type vlan id 100
lab_addr a pw0.100 198.51.100.1/24
lab_addr b pw0.100 198.51.100.2/24
lab_run ip -n a link set pw0.100 up
lab_run ip -n b link set pw0.100 up
lab_ping a 198.51.100.2
ip -n b -s link show pw0.100

# Teardown through netlink leaves nothing behind.
lab_run ip -n a l2tp del tunnel tunnel_id 1
lab_run ip -n b l2tp del tunnel tunnel_id 2
lab_wait 5 "no L2TP tunnel left" sh -c '[ -z "$(ip -n a l2tp show tunnel; ip -n b l2tp show tunnel)" ]'
lab_wait 5 "pw0 gone" sh -c '! ip -n a link show pw0 && ! ip -n b link show pw0'
lab_log "PASS"
