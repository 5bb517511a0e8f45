#!/bin/bash
# The suite's demonstration (`make demo`): two network namespaces joined by a
# veth pair, prol2tpd + propppd as LNS in one and as LAC in the other. The
# LAC opens
#   - an L2TPv2 tunnel over UDP/IPv4 with a PPP session: the LAC's propppd
#     authenticates with CHAP, the LNS's gives it an address from its pool,
#     and
#   - an L2TPv3 tunnel over IP (protocol 115)/IPv6 with an Ethernet
#     pseudowire session with cookies,
# both with tunnel authentication (challenge / message digest) and hidden AVPs.
# It shows them established (logs, `prol2tp show`, `propppctl list`), pings
# across the PPP link and across the Ethernet pseudowire (kernel data plane
# where the modules exist, userspace TUN/TAP devices otherwise; it says
# which), then tears everything down and shows the StopCCN reached the LNS
# and the PPP instances ended. Needs root (network namespaces). Addresses are
# documentation ranges only; nothing leaves this machine.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (network namespaces); try: sudo make demo" >&2
    exit 1
fi

echo "== building prol2tpd and propppd (release)"
cargo build --release -q -p prol2tpd -p propppd
bin="$top/target/release"

tag="demo$$"
lns="${tag}lns"
lac="${tag}lac"
dir=$(mktemp -d "/tmp/prol2tp-${tag}.XXXX")
lns_pid=""
lac_pid=""
lns_ppp_pid=""
lac_ppp_pid=""

cleanup() {
    [ -n "$lac_pid" ] && kill -TERM "$lac_pid" 2>/dev/null || true
    [ -n "$lns_pid" ] && kill -TERM "$lns_pid" 2>/dev/null || true
    [ -n "$lac_ppp_pid" ] && kill -TERM "$lac_ppp_pid" 2>/dev/null || true
    [ -n "$lns_ppp_pid" ] && kill -TERM "$lns_ppp_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$lns" 2>/dev/null || true
    ip netns del "$lac" 2>/dev/null || true
    [ -n "${PROL2TP_KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

# wait_for FILE PATTERN COUNT SECONDS: until PATTERN appears COUNT times.
wait_for() {
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        n=$(grep -c -- "$2" "$1" 2>/dev/null || true)
        [ "${n:-0}" -ge "$3" ] && return 0
        sleep 0.1
    done
    echo "demo: timed out waiting for '$2' in $1" >&2
    tail -n 30 "$1" >&2
    return 1
}

echo "== network: $lac (192.0.2.2, 2001:db8::2) <-veth-> $lns (192.0.2.1, 2001:db8::1)"
ip netns add "$lns"
ip netns add "$lac"
ip link add "${tag}a" type veth peer name "${tag}b"
ip link set "${tag}a" netns "$lns"
ip link set "${tag}b" netns "$lac"
ip -n "$lns" addr add 192.0.2.1/24 dev "${tag}a"
ip -n "$lac" addr add 192.0.2.2/24 dev "${tag}b"
ip -n "$lns" addr add 2001:db8::1/64 dev "${tag}a" nodad
ip -n "$lac" addr add 2001:db8::2/64 dev "${tag}b" nodad
for ns in "$lns" "$lac"; do ip -n "$ns" link set lo up; done
ip -n "$lns" link set "${tag}a" up
ip -n "$lac" link set "${tag}b" up

cat > "$dir/lns.conf" <<'EOF'
# LNS: accept tunnels from the demo LAC's networks, authenticated, hidden AVPs.
[system]
dataplane = auto
host_name = lns.example
propppd_socket = @DIR@/lns-ppp.chan

[tunnel_profile "lns"]
secret = demo-secret
hide_avps = yes

[peer_profile "lac-v4"]
peer = 192.0.2.0/24
tunnel_profile = lns

# L2TPv3 Ethernet pseudowires from the IPv6 side, with cookies both ways.
[tunnel_profile "lns-v3"]
version = 3
secret = demo-secret
hide_avps = yes
session_profile = eth

[session_profile "eth"]
pseudowire = eth
interface_name = pw0
cookie = 0x5e6f7a8b
peer_cookie = 0x1a2b3c4d

[peer_profile "lac-v6"]
peer = 2001:db8::/64
tunnel_profile = lns-v3
EOF

cat > "$dir/lac.conf" <<'EOF'
# LAC: one L2TPv2 tunnel with a PPP session, one L2TPv3 Ethernet pseudowire.
[system]
dataplane = auto
host_name = lac.example
propppd_socket = @DIR@/lac-ppp.chan

# PPP sessions use propppd's profile of the same name.
[ppp_profile "dsl"]
mtu = 1400
mru = 1400

[tunnel "v2"]
peer = 192.0.2.1
version = 2
secret = demo-secret
hide_avps = yes

[session "v2/ppp0"]
pseudowire = ppp
ppp_profile = dsl

[tunnel "v3"]
peer = [2001:db8::1]
version = 3
encap = ip
secret = demo-secret
hide_avps = yes

[session "v3/eth0"]
pseudowire = eth
interface_name = pw0
cookie = 0x1a2b3c4d
peer_cookie = 0x5e6f7a8b
EOF

sed -i "s|@DIR@|$dir|" "$dir/lns.conf" "$dir/lac.conf"

# propppd: the LNS authenticates with CHAP and gives addresses from a pool;
# the LAC's profile "dsl" (the name prol2tpd's ppp_profile gives) logs in.
echo '"alice@example.net" * wonderland *' > "$dir/chap-secrets"
chmod 600 "$dir/chap-secrets"
cat > "$dir/lns-ppp.conf" <<PPP
[system]
control_socket = $dir/lns-ppp.ctl
channel_socket = $dir/lns-ppp.chan
pid_file = $dir/lns-ppp.pid

[pool "subscribers"]
range = 198.51.100.10-198.51.100.250

[profile "default"]
auth = chap
local_ip = 198.51.100.1
pool = subscribers
dns = 192.0.2.53
ipv6 = no
chap_secrets = $dir/chap-secrets
PPP
cat > "$dir/lac-ppp.conf" <<PPP
[system]
control_socket = $dir/lac-ppp.ctl
channel_socket = $dir/lac-ppp.chan
pid_file = $dir/lac-ppp.pid

[profile "dsl"]
auth = none
user_name = alice@example.net
password = wonderland
ipv6 = no
PPP

for role in lns lac; do
    echo "== $role config check: $("$bin/prol2tpd" -n -c "$dir/$role.conf" | tail -n 1)"
    echo "== $role-ppp config check: $("$bin/propppd" -n -c "$dir/$role-ppp.conf" 2>&1 | tail -n 1)"
done

ip netns exec "$lns" "$bin/propppd" -f -c "$dir/lns-ppp.conf" > "$dir/lns-ppp.log" 2>&1 &
lns_ppp_pid=$!
ip netns exec "$lac" "$bin/propppd" -f -c "$dir/lac-ppp.conf" > "$dir/lac-ppp.log" 2>&1 &
lac_ppp_pid=$!
wait_for "$dir/lns-ppp.log" "start version" 1 10
wait_for "$dir/lac-ppp.log" "start version" 1 10
PROL2TP_CONTROL="$dir/lns.ctl" ip netns exec "$lns" "$bin/prol2tpd" -f -c "$dir/lns.conf" > "$dir/lns.log" 2>&1 &
lns_pid=$!
wait_for "$dir/lns.log" "start version" 1 10
PROL2TP_CONTROL="$dir/lac.ctl" ip netns exec "$lac" "$bin/prol2tpd" -f -c "$dir/lac.conf" > "$dir/lac.log" 2>&1 &
lac_pid=$!

echo "== waiting for both tunnels and both sessions"
wait_for "$dir/lac.log" "session up" 2 30
wait_for "$dir/lns.log" "session up" 2 30
echo "-- LAC log:"
grep -E "tunnel (created|up)|session (created|up)" "$dir/lac.log" | sed 's/^/   /'
echo "-- LNS log:"
grep -E "tunnel (created|up)|session (created|up)" "$dir/lns.log" | sed 's/^/   /'

echo "-- prol2tp show tunnels (LAC):"
ip netns exec "$lac" env PROL2TP_CONTROL="$dir/lac.ctl" "$bin/prol2tp" show tunnels | sed 's/^/   /'
echo "-- prol2tp show tunnels / sessions (LNS; * = created by the peer):"
ip netns exec "$lns" env PROL2TP_CONTROL="$dir/lns.ctl" "$bin/prol2tp" show tunnels | sed 's/^/   /'
ip netns exec "$lns" env PROL2TP_CONTROL="$dir/lns.ctl" "$bin/prol2tp" show sessions | sed 's/^/   /'

plane=$(grep -o 'dataplane requested=[a-z]* using=[a-z]*' "$dir/lac.log" | head -n 1)
echo "== PPP over the L2TPv2 session ($plane): LCP, CHAP, IPCP"
for i in $(seq 1 100); do
    ip -n "$lac" -4 -o addr show | grep -q "inet 198.51.100.10 peer 198.51.100.1/32" && break
    sleep 0.1
done
echo "-- propppctl list (LNS, then LAC):"
ip netns exec "$lns" "$bin/propppctl" -s "$dir/lns-ppp.ctl" list | sed 's/^/   /'
ip netns exec "$lac" "$bin/propppctl" -s "$dir/lac-ppp.ctl" list | sed 's/^/   /'
echo "-- the LAC's PPP interface:"
ip -n "$lac" -4 -o addr show | grep peer | sed 's/^/   /'
ip netns exec "$lac" ping -c 3 -i 0.2 -W 2 198.51.100.1 | sed 's/^/   /'
ip netns exec "$lns" ping -c 3 -i 0.2 -W 2 198.51.100.10 | sed 's/^/   /'

echo "== traffic across the L2TPv3 Ethernet pseudowire ($plane)"
wait_for "$dir/lac.log" "session up" 2 5
for i in $(seq 1 50); do
    ip -n "$lac" link show pw0 >/dev/null 2>&1 && ip -n "$lns" link show pw0 >/dev/null 2>&1 && break
    sleep 0.1
done
ip -n "$lac" addr add 203.0.113.2/24 dev pw0
ip -n "$lns" addr add 203.0.113.1/24 dev pw0
ip netns exec "$lac" ping -c 3 -i 0.2 -W 2 203.0.113.1 | sed 's/^/   /'
ip netns exec "$lns" ping -c 3 -i 0.2 -W 2 203.0.113.2 | sed 's/^/   /'

echo "== tearing down: SIGTERM to the LAC (StopCCN to the LNS)"
kill -TERM "$lac_pid"
wait "$lac_pid" || true
lac_pid=""
wait_for "$dir/lns.log" "tunnel down" 2 30
echo "-- LNS log (it keeps acknowledging for one retransmission cycle, RFC 2661 §5.7):"
grep -E "tunnel (down|deleted)|session down" "$dir/lns.log" | sed 's/^/   /'
kill -TERM "$lns_pid"
wait "$lns_pid" || true
lns_pid=""
echo "-- propppctl list after the teardown (LNS, then LAC; no instance left):"
ip netns exec "$lns" "$bin/propppctl" -s "$dir/lns-ppp.ctl" list | sed 's/^/   /'
ip netns exec "$lac" "$bin/propppctl" -s "$dir/lac-ppp.ctl" list | sed 's/^/   /'
kill -TERM "$lns_ppp_pid" "$lac_ppp_pid"
wait "$lns_ppp_pid" "$lac_ppp_pid" || true
lns_ppp_pid=""
lac_ppp_pid=""
echo "== demo complete: both tunnels and sessions came up, PPP (CHAP, IPCP) and IP crossed the L2TPv2 session, Ethernet frames crossed the L2TPv3 pseudowire ($plane), and everything was torn down cleanly"
