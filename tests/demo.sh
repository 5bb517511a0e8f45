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
# and the PPP instances ended.
# Part 3, the wholesale PPPoE chain on the userspace data plane (no kernel
# PPP or PPPoE needed): a third namespace runs the suite's own PPPoE client
# (proacd `[client]` + propppd as CHAP client); proacd in the LAC namespace
# is its access concentrator and switches the session into L2TP through the
# LAC's prol2tpd (`switch_socket`); the LNS's prol2tpd + propppd
# authenticate the client and give it a pool address. It shows `proac_info`
# on the AC, the client's address and a ping end to end, then
# `proac_manage delete` ends the session (PADT to the client, CDN to the
# LNS) and everything stops cleanly.
# Needs root (network namespaces). Addresses are documentation ranges only;
# nothing leaves this machine.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (network namespaces); try: sudo make demo" >&2
    exit 1
fi

echo "== building prol2tpd, propppd and proacd (release)"
cargo build --release -q -p prol2tpd -p propppd -p proacd
bin="$top/target/release"

tag="demo$$"
lns="${tag}lns"
lac="${tag}lac"
dir=$(mktemp -d "/tmp/prol2tp-${tag}.XXXX")
lns_pid=""
lac_pid=""
lns_ppp_pid=""
lac_ppp_pid=""
cl="${tag}cl"
part3_pids=""

cleanup() {
    local p
    for p in $part3_pids; do kill -TERM "$p" 2>/dev/null || true; done
    [ -n "$lac_pid" ] && kill -TERM "$lac_pid" 2>/dev/null || true
    [ -n "$lns_pid" ] && kill -TERM "$lns_pid" 2>/dev/null || true
    [ -n "$lac_ppp_pid" ] && kill -TERM "$lac_ppp_pid" 2>/dev/null || true
    [ -n "$lns_ppp_pid" ] && kill -TERM "$lns_ppp_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$lns" 2>/dev/null || true
    ip netns del "$lac" 2>/dev/null || true
    ip netns del "$cl" 2>/dev/null || true
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

# poll SECONDS WHAT CMD...: until CMD succeeds (every 0.1 s).
poll() {
    local i secs=$1 what=$2
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "demo: timed out after ${secs}s waiting for $what" >&2
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

echo "== part 3: PPPoE client -> proacd (AC) -> L2TP (LAC $lac) -> LNS $lns, userspace data plane"
echo "   network: $cl (PPPoE client) <-veth-> $lac (proacd + prol2tpd LAC) <-veth-> $lns (prol2tpd + propppd LNS)"
ip netns add "$cl"
ip -n "$cl" link set lo up
ip link add "${tag}c" type veth peer name "${tag}d"
ip link set "${tag}c" netns "$cl"
ip link set "${tag}d" netns "$lac"
ip -n "$cl" link set "${tag}c" up
ip -n "$lac" link set "${tag}d" up

# The LNS: prol2tpd hands PPP to propppd (lns-ppp.conf: CHAP, the pool).
cat > "$dir/lns3.conf" <<EOF
[system]
dataplane = userspace
host_name = lns.example
propppd_socket = $dir/lns-ppp.chan

[tunnel_profile "lns"]
secret = demo-secret
hide_avps = yes

[peer_profile "lacs"]
peer = 192.0.2.0/24
tunnel_profile = lns
EOF
# The LAC: no PPP of its own; proacd asks it for sessions on its switch
# socket, by tunnel profile (one tunnel, reused while it has room).
cat > "$dir/lac3.conf" <<EOF
[system]
dataplane = userspace
host_name = lac.example
propppd_socket = $dir/lac3-no-propppd.chan
switch_socket = $dir/lac-switch.chan

[tunnel_profile "isp"]
peer = 192.0.2.1
version = 2
secret = demo-secret
hide_avps = yes
EOF
# The access concentrator: every session on ${tag}d goes into L2TP.
cat > "$dir/ac.conf" <<EOF
[system]
control_socket = $dir/ac.ctl
pid_file = $dir/ac.pid
propppd_socket = $dir/ac-no-propppd.chan
prol2tpd_socket = $dir/lac-switch.chan
dataplane = userspace

[interface "${tag}d"]
ac_name = bras.example

[route "isp"]
destination = l2tp
tunnel_profile = isp
EOF
# The client: proacd dials PPPoE on ${tag}c and hands the session to its
# propppd, which logs in as alice (profile "dsl").
cat > "$dir/cl-ppp.conf" <<EOF
[system]
control_socket = $dir/cl-ppp.ctl
channel_socket = $dir/cl-ppp.chan
pid_file = $dir/cl-ppp.pid

[profile "dsl"]
auth = none
user_name = alice@example.net
password = wonderland
ipv6 = no
EOF
cat > "$dir/cl.conf" <<EOF
[system]
control_socket = $dir/cl.ctl
pid_file = $dir/cl.pid
propppd_socket = $dir/cl-ppp.chan
prol2tpd_socket = $dir/cl-no-prol2tpd.chan
dataplane = userspace

[client "dsl0"]
interface = ${tag}c
ppp_profile = dsl
persist = no
EOF
for c in lns3 lac3; do echo "== $c config check: $("$bin/prol2tpd" -n -c "$dir/$c.conf" | tail -n 1)"; done
for c in ac cl; do "$bin/proacd" -n -c "$dir/$c.conf" > /dev/null && echo "== $c config check (proacd -n): OK"; done

# start NS NAME CMD...: CMD in NS in the background, output in NAME.log,
# its pid ($! afterwards) kept for the cleanup.
start() {
    local ns=$1 name=$2
    shift 2
    ip netns exec "$ns" "$@" > "$dir/$name.log" 2>&1 &
    part3_pids="$! $part3_pids"
}
start "$lns" lns3-ppp "$bin/propppd" -f -c "$dir/lns-ppp.conf"
lns3_ppp_pid=$!
wait_for "$dir/lns3-ppp.log" "start version" 1 10
start "$lns" lns3 env PROL2TP_CONTROL="$dir/lns3.ctl" "$bin/prol2tpd" -f -c "$dir/lns3.conf"
lns3_pid=$!
wait_for "$dir/lns3.log" "start version" 1 10
start "$lac" lac3 env PROL2TP_CONTROL="$dir/lac3.ctl" "$bin/prol2tpd" -f -c "$dir/lac3.conf"
lac3_pid=$!
poll 10 "the LAC's switch socket" test -S "$dir/lac-switch.chan"
start "$lac" ac "$bin/proacd" -f -c "$dir/ac.conf"
ac_pid=$!
poll 10 "proacd (AC) control socket" test -S "$dir/ac.ctl"
start "$cl" cl-ppp "$bin/propppd" -f -c "$dir/cl-ppp.conf"
cl_ppp_pid=$!
poll 10 "the client's propppd" test -S "$dir/cl-ppp.chan"
start "$cl" cl "$bin/proacd" -f -c "$dir/cl.conf"
cl_pid=$!

echo "== the client dials: PADI/PADO/PADR/PADS, the AC asks the LAC for a session, PPP (CHAP) with the LNS"
client_up() { ip -n "$cl" -4 -o addr show | grep -q "inet 198.51.100.10 peer 198.51.100.1/32"; }
poll 30 "the client's address" client_up || { tail -n 20 "$dir"/{cl,ac,lac3,lns3}.log >&2; exit 1; }
echo "-- proac_info on the AC (system, interfaces, routes, sessions):"
ip netns exec "$lac" "$bin/proac_info" -s "$dir/ac.ctl" | sed 's/^/   /'
echo "-- prol2tp show sessions (LAC):"
ip netns exec "$lac" env PROL2TP_CONTROL="$dir/lac3.ctl" "$bin/prol2tp" show sessions | sed 's/^/   /'
echo "-- the client's PPP interface:"
ip -n "$cl" -4 -o addr show | grep peer | sed 's/\\ .*//; s/^/   /'
echo "-- ping from the client to the LNS and back, end to end:"
ip netns exec "$cl" ping -c 3 -i 0.2 -W 2 198.51.100.1 | sed 's/^/   /'
ip netns exec "$lns" ping -c 3 -i 0.2 -W 2 198.51.100.10 | sed 's/^/   /'

sid=$(ip netns exec "$lac" "$bin/proac_info" -s "$dir/ac.ctl" -j sessions | grep -o '"session_id":[0-9]*' | head -n 1 | cut -d: -f2 || true)
[ -n "$sid" ] || { echo "demo: proac_info lists no session on the AC" >&2; exit 1; }
echo "== proac_manage delete ${tag}d/$sid on the AC: PADT to the client, CDN to the LNS"
ip netns exec "$lac" "$bin/proac_manage" -s "$dir/ac.ctl" delete "${tag}d/$sid" | sed 's/^/   /'
client_down() { ! client_up; }
no_ac_session() { ! ip netns exec "$lac" "$bin/proac_info" -s "$dir/ac.ctl" -j sessions | grep -q '"session_id"'; }
poll 30 "the client's PPP to go" client_down
poll 10 "the AC to forget the session" no_ac_session
wait_for "$dir/lns3.log" "session down" 1 30
echo "-- LNS log:"
grep -E "session (up|down)" "$dir/lns3.log" | sed 's/^/   /'
echo "-- proac_info sessions on the AC, then on the client (none left):"
ip netns exec "$lac" "$bin/proac_info" -s "$dir/ac.ctl" sessions | sed 's/^/   /'
ip netns exec "$cl" "$bin/proac_info" -s "$dir/cl.ctl" sessions | sed 's/^/   /'
echo "-- propppctl list (LNS; no instance left):"
ip netns exec "$lns" "$bin/propppctl" -s "$dir/lns-ppp.ctl" list | sed 's/^/   /'
echo "== stopping part 3's daemons (SIGTERM)"
# The client first, the LNS last; each must exit by itself.
for p in "$cl_pid" "$cl_ppp_pid" "$ac_pid" "$lac3_pid" "$lns3_pid" "$lns3_ppp_pid"; do
    kill -TERM "$p"
    wait "$p" || { echo "demo: pid $p exited with $?" >&2; exit 1; }
done
part3_pids=""
left=$(for ns in "$cl" "$lac" "$lns"; do ip -n "$ns" -o link show type tun; done)
[ -z "$left" ] || { echo "demo: TUN devices left: $left" >&2; exit 1; }
echo "-- every daemon exited with status 0; no TUN device is left in the three namespaces"
echo "== demo complete: both tunnels and sessions came up, PPP (CHAP, IPCP) and IP crossed the L2TPv2 session, Ethernet frames crossed the L2TPv3 pseudowire ($plane), the suite's PPPoE client reached the LNS through proacd and the LAC (userspace), and everything was torn down cleanly"
