#!/usr/bin/env bash
# A second libvirt host ("host B") on this machine, for the live-migration tests and the
# migration benchmark: migrations need two hosts, and host A is the ordinary libvirtd
# (qemu:///system). B is a second libvirtd + virtlogd in network namespace vhB and a private
# mount namespace, with its own /run/libvirt, /var/{lib,cache,log}/libvirt and /etc/libvirt.
#
#   scripts/second-host.sh up      set B up (idempotent) and print, one per line:
#                                    uri=qemu+tcp://10.250.0.2/system       B, seen from A
#                                    back_uri=qemu+unix:///system?socket=…  A, seen from B's daemon (p2p back)
#                                    back_migrate_uri=tcp://10.250.0.1      migration URI for B -> A
#                                    shared_dir=/srv/vh-shared              same directory on A and B
#                                    local_dir=/srv/vh-local                A's; B has its own at this path
#                                    local_dir_b=<state>/local              B's /srv/vh-local, as seen on A
#                                    state_dir=<state>                      B's pid files (libvirtd.pid) and state
#   scripts/second-host.sh status  print the same lines if B answers, else exit 1
#   scripts/second-host.sh test-env  `up`, then its lines as `export VIRTHOST_TEST_SECOND_HOST_…` for the
#                                  tests; sets vm.unprivileged_userfaultfd=1 for post-copy
#   scripts/second-host.sh down    tear B down (only what this script made)
#
# Storage pools (dir): on B "vh-local" (/srv/vh-local) and "vh-shared" (/srv/vh-shared); on A the
# same two unless A already has pools for those paths. Bridges: "vhbr0" on A only, "vhbr1" in B
# only (for "bridge missing on the destination"). Root only (re-runs itself through sudo).
# State: $VIRTHOST_SECOND_HOST_DIR, default /tmp/virthost-second-host. Startup takes ~10 s
# (B's libvirtd probes QEMU's capabilities).
#
# Notes for tests (see also the migration facts): on this nested KVM a guest with a plain
# <cpu mode='host-passthrough'/> dies at start ("failed to set MSR 0x10a"): add
# <feature policy='disable' name='arch-capabilities'/>. Post-copy needs
# vm.unprivileged_userfaultfd=1 (QEMU runs as libvirt-qemu), else "Postcopy is not supported".
# Guests on B run without cgroups. Addresses outside 10.250.0.0/30 are not "unreachable" here:
# the machine's gateway accepts any TCP connection (libvirt then reports "packet ... too large").
set -euo pipefail

B=${VIRTHOST_SECOND_HOST_DIR:-/tmp/virthost-second-host}
[[ $(id -u) -eq 0 ]] || exec sudo VIRTHOST_SECOND_HOST_DIR="$B" bash "$0" "$@"
B=$(realpath -m "$B")
case $B in /|/tmp|/srv|/run|/var|/etc|/usr|/root|/home) echo "refusing state dir $B" >&2; exit 2 ;; esac

NS=vhB                       # network namespace of B
VETH_A=vhB-root VETH_B=vhB-ns
IP_A=10.250.0.1 IP_B=10.250.0.2
URI_A=qemu:///system
URI_B=qemu+tcp://$IP_B/system
SHARED=/srv/vh-shared LOCAL=/srv/vh-local
BRIDGE_A=vhbr0 BRIDGE_B=vhbr1
MADE=$B/made                 # what `up` created on A (pools, bridge, dirs): `down` removes only these

log() { echo "second-host: $*" >&2; }

b_answers() { timeout 10 virsh -c "$URI_B" version >/dev/null 2>&1; }

print_lines() {
    echo "uri=$URI_B"
    # Inside B's mount namespace qemu:///system is B itself and A does not listen on TCP: B's
    # daemon reaches A through A's socket directory, bind-mounted at $B/arun before the over-mount.
    echo "back_uri=qemu+unix:///system?socket=$B/arun/libvirt-sock"
    # A advertises its host name ("vm" -> 127.0.0.1 here) for incoming migrations: B -> A needs this.
    echo "back_migrate_uri=tcp://$IP_A"
    echo "shared_dir=$SHARED"
    echo "local_dir=$LOCAL"
    echo "local_dir_b=$B/local"
    # B's daemons' pid files are here: `nsenter -t "$(cat $B/libvirtd.pid)" -m -n` runs a command beside B.
    echo "state_dir=$B"
}

netns_exists() { [[ -e /run/netns/$NS ]]; }

# Runs a command with no stdio of ours and no other inherited descriptor (output to the start
# log): whoever reads this script's output to the end must not wait on a daemon holding its pipe.
detached() {
    (
        for fd in "/proc/$BASHPID/fd"/*; do
            fd=${fd##*/}
            if [[ $fd -gt 2 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec "$@" </dev/null >>"$B/start.log" 2>&1
    )
}

# Our daemon: pid file names a live process with the right executable, in B's network namespace
# (or, if the netns is already gone, at least not in ours, so never A's daemon).
our_daemon_pid() {
    local name=$1 f=$B/$1.pid pid nsid
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "/usr/sbin/$name" ]] || return 1
    if netns_exists; then
        nsid=$(ip netns exec "$NS" readlink /proc/self/ns/net)
        [[ $(readlink "/proc/$pid/ns/net") == "$nsid" ]] || return 1
    else
        [[ $(readlink "/proc/$pid/ns/net") != "$(readlink /proc/self/ns/net)" ]] || return 1
    fi
    echo "$pid"
}

stop_pid() {
    local pid=$1 exe
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    # Still there after 15 s: kill hard, if it is still the same program.
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] && kill -9 "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

down() {
    local pid d kind name
    if b_answers; then
        for d in $(virsh -c "$URI_B" list --name 2>/dev/null); do
            virsh -q -c "$URI_B" destroy "$d" >/dev/null 2>&1 || true
        done
    fi
    for d in libvirtd virtlogd; do
        if pid=$(our_daemon_pid "$d"); then stop_pid "$pid"; fi
    done
    # Guests of a dead B daemon would keep B's namespaces alive: only QEMUs inside netns vhB.
    if netns_exists; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do
            if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/bin/qemu-system-* ]]; then
                log "killing B's leftover QEMU $pid"; stop_pid "$pid"
            fi
        done
    fi
    ip link del "$VETH_A" 2>/dev/null || true     # deletes both ends
    if netns_exists; then ip netns del "$NS"; fi  # vhbr1 lives (and goes) with the netns
    if [[ -f $MADE ]]; then
        while read -r kind name; do
            case $kind in
                pool)
                    virsh -q -c "$URI_A" pool-destroy "$name" >/dev/null 2>&1 || true
                    virsh -q -c "$URI_A" pool-undefine "$name" >/dev/null 2>&1 || true ;;
                bridge) ip link del "$name" 2>/dev/null || true ;;
                dir) rm -rf --one-file-system "$name" ;;
            esac
        done < <(tac "$MADE")
    fi
    if [[ -d $B ]]; then
        # Never delete through a mount (e.g. arun = A's /run/libvirt if it ever leaked out here).
        for d in arun run lib cache log etc local; do
            if mountpoint -q "$B/$d"; then log "$B/$d is a mount point here; not removing $B"; return 1; fi
        done
        rm -rf --one-file-system "$B"
    fi
}

# A dir pool on A for $2 named $1, unless A already has one for that path (then reuse it).
ensure_pool_a() {
    local name=$1 path=$2 p target
    for p in $(virsh -c "$URI_A" pool-list --all --name); do
        target=$(virsh -c "$URI_A" pool-dumpxml "$p" --xpath '/pool/target/path/text()' 2>/dev/null) || target=""
        if [[ $target == "$path" ]]; then
            [[ $(virsh -c "$URI_A" pool-info "$p" | awk '$1 == "State:" {print $2}') == running ]] ||
                virsh -q -c "$URI_A" pool-start "$p" >/dev/null
            return 0
        fi
    done
    if virsh -c "$URI_A" pool-info "$name" >/dev/null 2>&1; then
        log "A already has a pool named $name for another path; not touching it"; return 1
    fi
    virsh -q -c "$URI_A" pool-define-as "$name" dir --target "$path" >/dev/null
    echo "pool $name" >>"$MADE"
    virsh -q -c "$URI_A" pool-start "$name" >/dev/null
    # Autostart: the pool comes back if the tests restart A's libvirtd.
    virsh -q -c "$URI_A" pool-autostart "$name" >/dev/null
}

up() {
    if b_answers; then print_lines; return 0; fi
    # Half-made state of an earlier run (netns there, daemon dead, ...): clear it first.
    if netns_exists || ip link show "$VETH_A" >/dev/null 2>&1 || [[ -e $B ]]; then
        log "clearing a previous half-made state"
        down
    fi

    mkdir -p "$B"/{run,lib,cache,log,local,arun}
    chmod 755 "$B" "$B/local"           # B's QEMU (libvirt-qemu) reaches images under $B/local
    : >"$MADE"
    for d in "$SHARED" "$LOCAL"; do
        [[ -d $d ]] || { mkdir -p "$d"; echo "dir $d" >>"$MADE"; }
    done

    # Only *.conf and nwfilter: all of /etc/libvirt would give B copies of A's persistent
    # guests, pools, networks and autostart links.
    mkdir "$B/etc"
    cp -a /etc/libvirt/*.conf "$B/etc/"
    [[ -d /etc/libvirt/nwfilter ]] && cp -a /etc/libvirt/nwfilter "$B/etc/"
    # Own host_uuid: with A's, migrating would be refused as a migration to the same host.
    cat >"$B/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$IP_B"
auth_tcp = "none"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
    # B advertises its host name ("vm" -> 127.0.0.1) for incoming migrations unless told its address.
    echo "migration_host = \"$IP_B\"" >"$B/etc/qemu.conf"

    ip netns add "$NS"
    ip link add "$VETH_A" type veth peer name "$VETH_B"
    ip link set "$VETH_B" netns "$NS"
    ip addr add "$IP_A/30" dev "$VETH_A"
    ip link set "$VETH_A" up
    ip -n "$NS" addr add "$IP_B/30" dev "$VETH_B"
    ip -n "$NS" link set "$VETH_B" up
    ip -n "$NS" link set lo up
    ip -n "$NS" link add "$BRIDGE_B" type bridge
    ip -n "$NS" link set "$BRIDGE_B" up
    if ! ip link show "$BRIDGE_A" >/dev/null 2>&1; then
        ip link add "$BRIDGE_A" type bridge
        echo "bridge $BRIDGE_A" >>"$MADE"
    fi
    ip link set "$BRIDGE_A" up
    ip link show "$BRIDGE_B" >/dev/null 2>&1 && log "warning: A also has a $BRIDGE_B"

    # The mount namespace lives as long as B's daemons (and guests) do. Order matters: A's
    # /run/libvirt must be bind-mounted at arun before /run/libvirt is over-mounted (/var/run is
    # a symlink to /run on Debian, so that covers both). Own pid files: the defaults
    # /run/libvirtd.pid and /run/virtlogd.pid are outside /run/libvirt, i.e. A's.
    detached ip netns exec "$NS" unshare -m --propagation private bash -ec "
        mount --bind /run/libvirt '$B/arun'
        mount --bind '$B/run'   /run/libvirt
        mount --bind '$B/lib'   /var/lib/libvirt
        mount --bind '$B/cache' /var/cache/libvirt
        mount --bind '$B/log'   /var/log/libvirt
        mount --bind '$B/etc'   /etc/libvirt
        mount --bind '$B/local' '$LOCAL'
        virtlogd -d -p '$B/virtlogd.pid'
        libvirtd -d --listen -p '$B/libvirtd.pid'
    " || { log "starting B failed:"; cat "$B/start.log" >&2; return 1; }

    for _ in $(seq 120); do b_answers && break; sleep 0.5; done
    if ! b_answers; then
        log "B does not answer on $URI_B; start log:"; cat "$B/start.log" >&2
        return 1
    fi

    local name path
    for name in vh-local vh-shared; do
        path=/srv/$name
        virsh -q -c "$URI_B" pool-define-as "$name" dir --target "$path" >/dev/null
        virsh -q -c "$URI_B" pool-start "$name" >/dev/null
        virsh -q -c "$URI_B" pool-autostart "$name" >/dev/null
    done
    ensure_pool_a vh-shared "$SHARED"
    ensure_pool_a vh-local "$LOCAL"
    print_lines
}

# The lines of `up` as the environment the tests read (VIRTHOST_TEST_SECOND_HOST_URI, …_DIR, …),
# quoted for the shell: `eval "$(scripts/second-host.sh test-env)"`. The post-copy test needs
# userfaultfd for QEMU, which runs unprivileged (as libvirt-qemu): without this sysctl libvirt
# answers "Postcopy is not supported".
test_env() {
    local line key
    sysctl -qw vm.unprivileged_userfaultfd=1
    up | while IFS= read -r line; do
        key=${line%%=*}
        [[ $key == state_dir ]] && key=dir
        printf 'export VIRTHOST_TEST_SECOND_HOST_%s=%q\n' "${key^^}" "${line#*=}"
    done
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) b_answers && print_lines ;;
    test-env) test_env ;;
    *) echo "usage: $0 up|down|status|test-env" >&2; exit 2 ;;
esac
