#!/bin/bash
# Capture one xl2tpd LAC <-> xl2tpd LNS exchange between two network
# namespaces and write the pcap plus its `tshark -V` decoding.
#
# usage: tests/xl2tpd/capture.sh hidden|plain OUT.pcap
#   hidden: challenge = yes, hidden bit = yes, secret "s3cr3t-test"
#   plain : challenge = no,  hidden bit = no
# Needs root, iproute2, xl2tpd, dumpcap/tshark. Addresses: 192.0.2.1 (LNS),
# 192.0.2.2 (LAC). pppd cannot run without /dev/ppp, so both xl2tpd run with
# tests/xl2tpd/fake-pppd bind-mounted over /usr/sbin/pppd (only inside their
# own mount namespace). Sequence: autodial -> SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/
# ICCN; the script kills the LAC's fake pppd -> CDN from the LAC; then it
# writes "d test" to the LAC control pipe -> StopCCN from the LAC.
set -euo pipefail

mode=${1:?usage: capture.sh hidden|plain OUT.pcap}
out=${2:?usage: capture.sh hidden|plain OUT.pcap}
here=$(cd "$(dirname "$0")" && pwd)
tag="h5cap$$"
dir=$(mktemp -d "/tmp/${tag}.XXXX")
lns="${tag}lns"
lac="${tag}lac"

case "$mode" in
hidden) challenge=yes; hidden=yes ;;
plain) challenge=no; hidden=no ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for f in "$dir"/*ppp/pppd.*; do [ -e "$f" ] && kill -TERM "${f##*.}" 2>/dev/null || true; done
    ip netns del "$lns" 2>/dev/null || true
    ip netns del "$lac" 2>/dev/null || true
}
trap cleanup EXIT

# wait_for FILE PATTERN SECONDS
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timeout waiting for '$2' in $1" >&2
    return 1
}

ip netns add "$lns"
ip netns add "$lac"
ip link add "${tag}a" type veth peer name "${tag}b"
ip link set "${tag}a" netns "$lns"
ip link set "${tag}b" netns "$lac"
ip -n "$lns" addr add 192.0.2.1/24 dev "${tag}a"
ip -n "$lac" addr add 192.0.2.2/24 dev "${tag}b"
for n in "$lns" "$lac"; do ip -n "$n" link set lo up; done
ip -n "$lns" link set "${tag}a" up
ip -n "$lac" link set "${tag}b" up

echo "* * s3cr3t-test" > "$dir/secrets"
echo "noauth" > "$dir/ppp.opts"
subst() { # template role hostname
    sed -e "s|@LISTEN_ADDR@|0.0.0.0|" -e "s|@PORT@|1701|" \
        -e "s|@AUTH_FILE@|$dir/secrets|" -e "s|@HOSTNAME@|$3|" \
        -e "s|@CHALLENGE@|$challenge|" -e "s|@HIDDEN@|$hidden|" \
        -e "s|@PPPOPTFILE@|$dir/ppp.opts|" -e "s|@LNS_ADDR@|192.0.2.1|" \
        -e "s|@AUTODIAL@|yes|" "$1" > "$dir/$2.conf"
}
subst "$here/lns.conf.in" lns lns.example
subst "$here/lac.conf.in" lac lac.example

echo "capturing on ${tag}a in $lns -> $dir/raw.pcap"
exec_dumpcap() { exec ip netns exec "$lns" dumpcap "$@"; }
exec_dumpcap -q -P -i "${tag}a" -f "udp port 1701" -w "$dir/raw.pcap" \
    > "$dir/dumpcap.log" 2>&1 &
pids+=($!)
wait_for "$dir/dumpcap.log" "Capturing on" 10

mkdir -p "$dir/lnsppp" "$dir/lacppp"
# run_xl2tpd NETNS ROLE: xl2tpd in the foreground with the fake pppd.
run_xl2tpd() {
    FAKE_PPPD_DIR="$dir/${2}ppp" exec ip netns exec "$1" sh -c \
        'mount --bind "$0" /usr/sbin/pppd && exec xl2tpd -D -c "$1" -p "$2" -C "$3"' \
        "$here/fake-pppd" "$dir/$2.conf" "$dir/$2.pid" "$dir/$2.ctl" > "$dir/$2.log" 2>&1
}
run_xl2tpd "$lns" lns &
pids+=($!)
wait_for "$dir/lns.log" "Listening on" 10
run_xl2tpd "$lac" lac &
pids+=($!)

echo "waiting for the call"
wait_for "$dir/lns.log" "Call established" 20
wait_for "$dir/lac.log" "Call established" 20
for ((i = 0; i < 100; i++)); do
    compgen -G "$dir/lacppp/pppd.*" > /dev/null && break
    sleep 0.1
done
echo "ending the LAC's (fake) pppd -> CDN"
for f in "$dir"/lacppp/pppd.*; do kill -TERM "${f##*.}"; done
wait_for "$dir/lns.log" "Call-Disconnect-Notify" 20
echo "asking the LAC to close the tunnel (StopCCN)"
echo "d test" > "$dir/lac.ctl"
wait_for "$dir/lns.log" "Stop-Control-Connection-Notification" 20
# Let the LNS acknowledge the StopCCN before stopping the capture.
wait_for "$dir/lac.log" "recv packet from 192.0.2.1, size = 12, tunnel = [0-9]*, call = 0" 5 || true
sleep 1
cleanup
pids=()
trap - EXIT

cp "$dir/raw.pcap" "$out"
chmod 644 "$out"
tshark -r "$out" -V > "${out%.pcap}.txt" 2>/dev/null
tshark -r "$out" 2>/dev/null
cp "$dir/lns.log" "${out%.pcap}.lns.log"
cp "$dir/lac.log" "${out%.pcap}.lac.log"
rm -rf "$dir"
echo "wrote $out ${out%.pcap}.txt ${out%.pcap}.lns.log ${out%.pcap}.lac.log"
