# Helpers for kernel lab scenarios (bash). Source with
#   . "$LAB_REPO/tests/lab/lib.sh"
# Scenarios run inside the guest, chrooted into the host's read-only root,
# with tmpfs on /tmp, /run and /var/lib. Everything a scenario writes goes
# under $LAB_TMP (a fresh directory in /tmp); files it wants to keep for the
# host go to $LAB_OUT (build/lab/runs/SCENARIO on the host).
#
# Namespaces created with lab_netns are deleted on exit (lab_cleanup runs from
# an EXIT trap, after the scenario's own cleanup registered with lab_on_exit).

set -u

# shellcheck disable=SC2034 # used by the scenarios
LAB_TMP=$(mktemp -d /tmp/lab.XXXXXX)
LAB_NETNS=""
LAB_EXIT_HOOKS=""
LAB_T0=$(cut -d' ' -f1 /proc/uptime)
# Where the project's binaries are: run.sh passes the cargo build directory
# it was given (LAB_BIN_DIR, else $CARGO_TARGET_DIR/debug, else
# REPO/target/debug, where `make check` and `make lab` build them).
LAB_BIN_DIR=${LAB_BIN_DIR:-$LAB_REPO/target/debug}
# The PPP login the scenarios' clients use and their servers accept.
LAB_PPP_USER=lab@example.net
LAB_PPP_PASSWORD=lab-ppp-pw

# Prints a progress line with the guest's seconds since the scenario started.
lab_log() {
    local t
    t=$(awk -v a="$LAB_T0" '{ printf "%.1f", $1 - a }' /proc/uptime)
    echo "[+${t}s] $*"
}

# Fails the scenario with a message (exit 1, cleanup runs).
lab_fail() {
    lab_log "FAIL: $*"
    exit 1
}

# Runs "$@" and fails the scenario with the command line if it fails.
lab_run() {
    "$@" || lab_fail "command failed ($?): $*"
}

# lab_wait SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds;
# fails the scenario after SECONDS.
lab_wait() {
    local secs=$1 what=$2 n=0 max
    shift 2
    max=$((secs * 5))
    until "$@" >/dev/null 2>&1; do
        n=$((n + 1))
        [ "$n" -lt "$max" ] || lab_fail "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
    lab_log "ok: $what"
}

# Registers a shell command to run at exit (last registered runs first).
lab_on_exit() {
    LAB_EXIT_HOOKS="$1
$LAB_EXIT_HOOKS"
}

# Loads kernel modules (busybox modprobe over the initramfs' modules).
lab_modprobe() {
    local m
    for m in "$@"; do
        modprobe "$m" || lab_fail "modprobe $m"
    done
}

# Succeeds when module NAME is loaded.
lab_module_loaded() {
    grep -q "^$1 " /proc/modules
}

# lab_netns NAME...: creates network namespaces with lo up; deleted at exit.
lab_netns() {
    local ns
    for ns in "$@"; do
        lab_run ip netns add "$ns"
        LAB_NETNS="$LAB_NETNS $ns"
        lab_run ip -n "$ns" link set lo up
    done
}

# lab_veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: joins two namespaces with a veth pair
# and addresses both ends (ADDR with prefix length, e.g. 192.0.2.1/24; IPv6
# addresses are added with nodad).
lab_veth() {
    local ns1=$1 if1=$2 a1=$3 ns2=$4 if2=$5 a2=$6
    lab_run ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2"
    lab_addr "$ns1" "$if1" "$a1"
    lab_addr "$ns2" "$if2" "$a2"
    lab_run ip -n "$ns1" link set "$if1" up
    lab_run ip -n "$ns2" link set "$if2" up
}

# lab_addr NS IF ADDR...: adds addresses to an interface.
lab_addr() {
    local ns=$1 ifname=$2 a
    shift 2
    for a in "$@"; do
        case $a in
            *:*) lab_run ip -n "$ns" addr add "$a" dev "$ifname" nodad ;;
            *) lab_run ip -n "$ns" addr add "$a" dev "$ifname" ;;
        esac
    done
}

# lab_ping NS ADDR [COUNT]: pings ADDR from NS (fails the scenario if no reply).
lab_ping() {
    local ns=$1 addr=$2 count=${3:-3}
    ip netns exec "$ns" ping -n -c "$count" -i 0.2 -W 2 "$addr" \
        || lab_fail "ping $addr from $ns"
    lab_log "ok: ping $ns -> $addr"
}

# Succeeds while process PID exists and is not a zombie.
lab_alive() {
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ]
}

# lab_kill_wait PID...: sends TERM, then KILL to those still alive after 5 s,
# and reaps them (when they are children of the scenario's shell).
lab_kill_wait() {
    local p n
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "$@"; do
        n=0
        while lab_alive "$p" && [ "$n" -lt 25 ]; do
            sleep 0.2
            n=$((n + 1))
        done
        if lab_alive "$p"; then
            lab_log "pid $p ignored TERM for 5 s: KILL"
            kill -KILL "$p" 2>/dev/null || true
        fi
        wait "$p" 2>/dev/null || true
    done
}

# lab_l2tp_sessions NS: prints one line per kernel L2TP session (id 0, the
# tunnel's control "session" of PPPoL2TP tunnel sockets, excluded) in network
# namespace NS: "SESSION_ID PEER_SESSION_ID TX_PACKETS RX_PACKETS", read from
# l2tp_debugfs (/sys/kernel/debug/l2tp/tunnels, which shows the reader's netns).
lab_l2tp_sessions() {
    local ns=$1
    lab_module_loaded l2tp_debugfs || lab_modprobe l2tp_debugfs
    [ -e /sys/kernel/debug/l2tp ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    [ -r /sys/kernel/debug/l2tp/tunnels ] || lab_fail "no /sys/kernel/debug/l2tp/tunnels"
    nsenter --net="/run/netns/$ns" cat /sys/kernel/debug/l2tp/tunnels | awk '
        $1 == "SESSION" && $2 ~ /^[0-9]+,$/ { id = $2 + 0; peer = $4 + 0; next }
        id != "" && $2 == "tx" && $4 == "rx" {
            split($3, t, "/"); split($5, r, "/")
            if (id != 0) print id, peer, t[1], r[1]
            id = ""
        }'
}

# lab_need_prol2tpd: sets BIN (prol2tpd: $PROL2TPD, else the one in
# $LAB_BIN_DIR) and CLI (prol2tp: $PROL2TP, else likewise) and fails the
# scenario when either is missing (build before starting the lab).
lab_need_prol2tpd() {
    BIN=${PROL2TPD:-$LAB_BIN_DIR/prol2tpd}
    CLI=${PROL2TP:-$LAB_BIN_DIR/prol2tp}
    [ -x "$BIN" ] || lab_fail "no prol2tpd binary at $BIN (cargo build first)"
    [ -x "$CLI" ] || lab_fail "no prol2tp binary at $CLI (cargo build first)"
}

# The two hosts of the L2TP/PPP interop scenarios: netns lac (LAC_ADDR) and
# lns (LNS_ADDR, both /24) joined by a veth pair, with the L2TP and PPP
# modules loaded; the scenario sets LAC_ADDR and LNS_ADDR first.
lab_two_hosts() {
    lab_modprobe l2tp_netlink l2tp_ppp ppp_generic pppox ppp_async veth
    lab_netns lac lns
    lab_veth lac veth-lac "$LAC_ADDR/24" lns veth-lns "$LNS_ADDR/24"
}

# lab_xl2tpd_lac_conf OUT AUTH_FILE PPPOPTFILE: xl2tpd LAC config listening
# on LAC_ADDR, dialling LNS_ADDR ("c test" on its control FIFO), challenge
# on, hidden AVPs off.
lab_xl2tpd_lac_conf() {
    sed -e "s|@LISTEN_ADDR@|$LAC_ADDR|; s|@PORT@|1701|; s|@AUTH_FILE@|$2|" \
        -e "s|@HOSTNAME@|lab-lac|; s|@CHALLENGE@|yes|; s|@HIDDEN@|no|" \
        -e "s|@AUTODIAL@|no|; s|@PPPOPTFILE@|$3|; s|@LNS_ADDR@|$LNS_ADDR|" \
        "$LAB_REPO/tests/xl2tpd/lac.conf.in" >"$1"
}

# lab_xl2tpd_lns_conf OUT AUTH_FILE PPPOPTFILE: xl2tpd LNS config listening
# on LNS_ADDR that gives the peer PPP_LAC and takes PPP_LNS.
lab_xl2tpd_lns_conf() {
    sed -e "s|@LISTEN_ADDR@|$LNS_ADDR|; s|@PORT@|1701|; s|@AUTH_FILE@|$2|" \
        -e "s|@HOSTNAME@|lab-lns|; s|@CHALLENGE@|yes|; s|@HIDDEN@|no|" \
        -e "s|@PPPOPTFILE@|$3|" \
        -e "s|^ip range = .*|ip range = $PPP_LAC - $PPP_LAC|; s|^local ip = .*|local ip = $PPP_LNS|" \
        "$LAB_REPO/tests/xl2tpd/lns.conf.in" >"$1"
    grep -q "ip range = $PPP_LAC" "$1" || lab_fail "lns.conf template changed (ip range)"
}

# lab_need_propppd: sets PPPD_BIN (propppd: $PROPPPD, else the one in
# $LAB_BIN_DIR), PPPCTL (propppctl) and PPPWATCH (propppwatch) and fails the
# scenario when one is missing.
lab_need_propppd() {
    PPPD_BIN=${PROPPPD:-$LAB_BIN_DIR/propppd}
    PPPCTL=$LAB_BIN_DIR/propppctl
    PPPWATCH=$LAB_BIN_DIR/propppwatch
    local b
    for b in "$PPPD_BIN" "$PPPCTL" "$PPPWATCH"; do
        [ -x "$b" ] || lab_fail "no binary at $b (cargo build first)"
    done
}

# lab_keep_files DIR GLOB...: at exit, copies DIR's files matching the globs
# to $LAB_OUT (the host's run directory) and, unless the scenario set
# LAB_PASSED=1, prints the last 40 lines of each DIR/*.log on the console.
lab_keep_files() {
    LAB_KEEP_DIR=$1
    shift
    LAB_KEEP_GLOBS=("$@")
    lab_on_exit 'lab_keep_files_now'
}
lab_keep_files_now() {
    local g f
    for g in "${LAB_KEEP_GLOBS[@]}"; do
        for f in "$LAB_KEEP_DIR"/$g; do [ -f "$f" ] && cp "$f" "$LAB_OUT/"; done
    done
    [ "${LAB_PASSED:-}" = 1 ] && return
    for f in "$LAB_KEEP_DIR"/*.log; do
        [ -f "$f" ] || continue
        echo "----- $(basename "$f") (last 40 lines) -----"
        tail -n 40 "$f"
    done
}

# prol2tpd's data counters through its own `l2tp` netlink get, as an
# operator reads them (`prol2tp -j show session`); needs lab_need_prol2tpd.
#   lab_cli NS CTL ARGS...          prol2tp in NS against control socket CTL
#   lab_json_num JSON KEY           the number KEY has in JSON (empty if none)
#   lab_data_counters NS CTL        sets DT DS (the one session) and RXP TXP RXO TXO
#   lab_data_moved NS CTL WHAT RX0 TX0 RXO0 TXO0
#                                   fails unless the session moved >= 6 packets
#                                   each way and the tunnel counts at least as much
lab_cli() { # NS CTL ARGS...: prol2tp in NS against the control socket CTL
    local ns=$1 ctl=$2
    shift 2
    ip netns exec "$ns" env PROL2TP_CONTROL="$ctl" "$CLI" "$@"
}
lab_json_num() { # JSON KEY: the number KEY has in JSON (empty if none)
    grep -o "\"$2\":[0-9]*" <<<"$1" | head -n 1 | cut -d: -f2
}
lab_data_counters() {
    local list json k v
    lab_cli "$1" "$2" -j show system | grep -q '"dataplane":"kernel"' || lab_fail "$1: show system does not say dataplane kernel"
    list=$(lab_cli "$1" "$2" -j show sessions) || lab_fail "$1: prol2tp -j show sessions failed"
    [ "$(grep -o '"session_id":' <<<"$list" | wc -l)" = 1 ] || lab_fail "$1: expected one session, got: $list"
    DT=$(lab_json_num "$list" tunnel_id) DS=$(lab_json_num "$list" session_id)
    json=$(lab_cli "$1" "$2" -j show session "$DT" "$DS") || lab_fail "$1: prol2tp -j show session $DT $DS failed"
    for k in RXP:data_rx_packets TXP:data_tx_packets RXO:data_rx_octets TXO:data_tx_octets; do
        v=$(lab_json_num "$json" "${k#*:}")
        [ -n "$v" ] || lab_fail "$1: no ${k#*:} in prol2tp -j show session $DT $DS: $json"
        eval "${k%%:*}=$v"
    done
}
lab_data_moved() {
    local ns=$1 ctl=$2 what=$3 rx0=$4 tx0=$5 rxo0=$6 txo0=$7 tj
    lab_data_counters "$ns" "$ctl"
    lab_log "$what: prol2tp show session $DT $DS: data_rx_packets $rx0->$RXP data_tx_packets $tx0->$TXP data_rx_octets $rxo0->$RXO data_tx_octets $txo0->$TXO"
    [ $((RXP - rx0)) -ge 6 ] && [ $((TXP - tx0)) -ge 6 ] || lab_fail "$what: session data counters did not move by 6 packets each way"
    [ "$RXO" -gt "$rxo0" ] && [ "$TXO" -gt "$txo0" ] || lab_fail "$what: session octet counters did not move"
    tj=$(lab_cli "$ns" "$ctl" -j show tunnel "$DT") || lab_fail "$what: prol2tp -j show tunnel $DT failed"
    [ "$(lab_json_num "$tj" data_rx_packets)" -ge "$RXP" ] && [ "$(lab_json_num "$tj" data_tx_packets)" -ge "$TXP" ] \
        || lab_fail "$what: tunnel counters below the session's: $tj"
    lab_log "ok: $what: kernel session counters (prol2tp show session) moved; tunnel $DT rx $(lab_json_num "$tj" data_rx_packets) tx $(lab_json_num "$tj" data_tx_packets)"
}

lab_cleanup() {
    local rc=$? ns
    trap - EXIT
    set +e
    eval "$LAB_EXIT_HOOKS"
    for ns in $LAB_NETNS; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    exit "$rc"
}
trap lab_cleanup EXIT
trap 'exit 130' INT TERM

# --- proacd (issue 6) ---------------------------------------------------------

# lab_need_proac DIR NAME...: sets PROAC_DIR (DIR if not empty, else
# $LAB_BIN_DIR) and fails the scenario unless each binary NAME is there.
# The proacd scenarios take DIR as their first, optional argument, so a
# build with its own CARGO_TARGET_DIR can be used without rebuilding:
# run.sh proacd-bridge /tmp/t/debug
lab_need_proac() {
    PROAC_DIR=${1:-$LAB_BIN_DIR}
    shift
    local b
    for b in "$@"; do
        [ -x "$PROAC_DIR/$b" ] || lab_fail "no $b in $PROAC_DIR (cargo build first, or pass the build directory as the scenario's first argument)"
    done
}

# Succeeds when netns NS has no kernel PPPoE session.
lab_no_pppoe() { # NS
    [ -z "$(lab_pppoe_sessions "$1")" ]
}

# lab_mac NS IF: prints the Ethernet address of interface IF in netns NS.
lab_mac() {
    ip -n "$1" -o link show "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2
}

# lab_pppoe_sessions NS: prints the kernel's PPPoE sessions of netns NS
# (/proc/net/pppoe without its header: "SID PEER_MAC DEVICE", SID in hex).
lab_pppoe_sessions() {
    ip netns exec "$1" cat /proc/net/pppoe 2>/dev/null | awk 'NR > 1 { print $1, $2, $3 }'
}

# --- PPP and PPPoE building blocks (the propppd and proacd scenarios) ---------

# lab_chap_secrets FILE: a secrets file (CHAP or PAP, mode 0600) that
# accepts LAB_PPP_USER with LAB_PPP_PASSWORD from any peer.
lab_chap_secrets() {
    printf '%s\n' "\"$LAB_PPP_USER\" * $LAB_PPP_PASSWORD *" >"$1"
    chmod 600 "$1"
}

# lab_propppd_conf FILE CTL CHAN: writes propppd's [system] section (debug
# log, control socket CTL, channel socket CHAN) to FILE; the scenario
# appends its pools and profiles (e.g. with lab_propppd_chap_server).
lab_propppd_conf() {
    printf '%s\n' "[system]" "log_level = debug" "control_socket = $2" "channel_socket = $3" "" >"$1"
}

# lab_propppd_chap_server FILE LOCAL_IP FIRST LAST [LINE...]: appends to
# FILE a pool "lab" (FIRST-LAST) and the profile "default" that terminates
# PPP: CHAP against $LAB_TMP/chap-secrets (written here), LOCAL_IP as its
# own address, the peer's from the pool, LCP echo every 10 s; each LINE
# ("key = value") is added to the profile.
lab_propppd_chap_server() {
    local file=$1 local_ip=$2 first=$3 last=$4
    shift 4
    lab_chap_secrets "$LAB_TMP/chap-secrets"
    printf '%s\n' "[pool \"lab\"]" "range = $first-$last" "" "[profile \"default\"]" "auth = chap" \
        "local_ip = $local_ip" "pool = lab" "echo_interval = 10" "chap_secrets = $LAB_TMP/chap-secrets" "$@" >>"$file"
}

# lab_proacd_conf FILE CTL PPP_CHAN L2TP_CHAN [LINE...]: writes proacd's
# [system] section to FILE: debug log, control socket CTL (pid file next to
# it), propppd's channel socket PPP_CHAN, prol2tpd's switch socket
# L2TP_CHAN, the kernel data plane, then each LINE; the scenario appends
# its [interface], [route] and [client] sections.
lab_proacd_conf() {
    local file=$1 ctl=$2 ppp=$3 l2tp=$4
    shift 4
    printf '%s\n' "[system]" "log_level = debug" "control_socket = $ctl" "pid_file = ${ctl%.ctl}.pid" \
        "propppd_socket = $ppp" "prol2tpd_socket = $l2tp" "dataplane = kernel" "$@" "" >"$file"
}

# lab_conf_value FILE KEY: the value of the first "KEY = VALUE" line of FILE.
lab_conf_value() {
    sed -n "s/^$2[[:space:]]*=[[:space:]]*//p" "$1" | head -n 1
}

# lab_propppd_start NS BIN CONF LOG: checks CONF (propppd -n), starts BIN
# in the foreground in netns NS (output appended to LOG), waits for the
# channel socket CONF names and sets LAB_PID. A stale socket file (from a
# killed propppd) is removed first.
lab_propppd_start() {
    local ns=$1 bin=$2 conf=$3 log=$4 chan
    chan=$(lab_conf_value "$conf" channel_socket)
    [ -n "$chan" ] || lab_fail "no channel_socket in $conf"
    "$bin" -n -c "$conf" >/dev/null || lab_fail "propppd -n rejects $conf"
    rm -f "$chan"
    ip netns exec "$ns" "$bin" -f -c "$conf" >>"$log" 2>&1 &
    LAB_PID=$!
    lab_wait 20 "$ns: propppd listening on $(basename "$chan")" test -S "$chan"
}

# lab_proacd_start NS BIN CONF LOG: as lab_propppd_start for proacd (with
# -D, debug output), waiting for its control socket.
lab_proacd_start() {
    local ns=$1 bin=$2 conf=$3 log=$4 ctl
    ctl=$(lab_conf_value "$conf" control_socket)
    [ -n "$ctl" ] || lab_fail "no control_socket in $conf"
    "$bin" -n -c "$conf" >/dev/null || lab_fail "proacd -n rejects $conf"
    ip netns exec "$ns" "$bin" -f -D -c "$conf" >"$log" 2>&1 &
    LAB_PID=$!
    lab_wait 20 "$ns: proacd control socket" test -S "$ctl"
}

# lab_pppoe_dial NS IFACE NAME MTU [OPTION...]: starts pppd with the
# rp-pppoe.so plugin in netns NS on IFACE (options in $LAB_TMP/NAME.options,
# log $LAB_TMP/NAME-pppd.log): CHAP/PAP login as LAB_PPP_USER, no
# authentication of the AC, MTU and MRU MTU, LCP echo every second, the
# host's ip-up/ip-down scripts replaced by /bin/true, plus each OPTION
# (e.g. "pppoe-service internet"). Sets LAB_PID; does not wait.
lab_pppoe_dial() {
    local ns=$1 ifname=$2 name=$3 mtu=$4
    shift 4
    printf '%s\n' noauth "user $LAB_PPP_USER" "password $LAB_PPP_PASSWORD" noipdefault nodefaultroute \
        noccp novj "lcp-echo-interval 1" "lcp-echo-failure 5" "mtu $mtu" "mru $mtu" debug \
        "logfile $LAB_TMP/$name-pppd.log" "ip-up-script /bin/true" "ip-down-script /bin/true" \
        "plugin rp-pppoe.so" "$@" "$ifname" >"$LAB_TMP/$name.options"
    ip netns exec "$ns" pppd nodetach file "$LAB_TMP/$name.options" >/dev/null 2>&1 &
    LAB_PID=$!
}

# Succeeds when netns NS has a point-to-point IPv4 address LOCAL peer PEER
# (a PPP interface up with IPCP done).
lab_has_ppp_addr() { # NS LOCAL PEER
    ip -n "$1" -4 -o addr show | grep -q "inet $2 peer $3/32"
}

# Succeeds when netns NS has no PPP interface.
lab_no_ppp() { # NS
    ! ip -n "$1" -o link show type ppp | grep -q .
}

# lab_wait_ppp SECS NS LOCAL PEER [WHAT]: waits until NS has its PPP
# interface addressed LOCAL peer PEER.
lab_wait_ppp() {
    lab_wait "$1" "${5:+$5: }$2 ppp up ($3 peer $4)" lab_has_ppp_addr "$2" "$3" "$4"
}

# lab_prol2tpd_lns_conf FILE LISTEN PEERS PPP_CHAN: prol2tpd as LNS on the
# kernel data plane (host name lab-lns), listening on LISTEN, accepting
# tunnels from the network PEERS (e.g. 192.0.2.0/24) with the shared secret
# lab-s3cr3t, PPP handed to propppd's channel socket PPP_CHAN.
lab_prol2tpd_lns_conf() {
    printf '%s\n' "[system]" "dataplane = kernel" "host_name = lab-lns" "listen = $2" "propppd_socket = $4" "" \
        "[tunnel_profile \"lns\"]" "secret = lab-s3cr3t" "" \
        "[peer_profile \"lacs\"]" "peer = $3" "tunnel_profile = lns" >"$1"
}

# lab_prol2tpd_start NS BIN CONF CTL LOG: checks CONF (prol2tpd -n),
# starts BIN in the foreground in netns NS with control socket CTL (output
# appended to LOG), waits for its start line and sets LAB_PID.
lab_prol2tpd_start() {
    local ns=$1 bin=$2 conf=$3 ctl=$4 log=$5 n
    "$bin" -n -c "$conf" >/dev/null || lab_fail "prol2tpd -n rejects $conf"
    n=$(grep -c "start version=" "$log" 2>/dev/null || true)
    ip netns exec "$ns" env PROL2TP_CONTROL="$ctl" "$bin" -f -c "$conf" >>"$log" 2>&1 &
    LAB_PID=$!
    lab_wait 20 "$ns: prol2tpd started ($(basename "$conf"))" lab_grep_more "$log" "start version=" "${n:-0}"
}

# Succeeds when FILE has more than N lines matching PATTERN.
lab_grep_more() { # FILE PATTERN N
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -gt "$3" ]
}
