#!/usr/bin/env bash
# Proves the Dockerfile without a container engine: builds it with buildah (vfs storage, chroot
# isolation) and checks the image it makes.
#   1. base images: if missing, makes the Dockerfile's two FROM images locally, tagged with
#      exactly those names (no registry is reachable here):
#      - the runtime base: a Debian 12 minbase debootstrap from this machine's apt mirror;
#      - the build base: that rootfs plus the Swift image's build packages and the local Swift
#        toolchain (a stand-in for the official image, laid out like it: toolchain in /usr).
#   2. build: `buildah bud` of the Dockerfile as it is. Where git maps GitHub to a local mirror
#      (`url.<dir>.insteadOf`, as on this machine), the mirror and that mapping are mounted
#      read-only into the build's RUN steps, so SwiftPM resolves offline; the Dockerfile is not
#      changed for it. OFFLINE=0 builds with the network instead.
#   3. checks, in a working container of the built image: ldd finds every library; virthostd
#      starts on test:///default as the image's non-root user, and /healthz (with the image's
#      own curl, as its HEALTHCHECK does) and /v1/host answer.
# Prints each step's time. Base images are kept for the next run (REBUILD_BASES=1 remakes
# them); `--remove-images` removes everything this script made.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-localhost/virthost:buildah}
work=${WORK:-/var/tmp/virthost-image}
bh() { buildah --storage-driver vfs "$@"; }

# The names Docker would give the Dockerfile's FROM lines (docker.io/library/NAME:TAG).
qualify() { if [[ $1 == */* ]]; then echo "$1"; else echo "docker.io/library/$1"; fi; }
build_base=$(qualify "$(awk 'toupper($1) == "FROM" && toupper($3) == "AS" && $4 == "build" { print $2 }' Dockerfile)")
run_base=$(qualify "$(awk 'toupper($1) == "FROM" { base = $2 } END { print base }' Dockerfile)")

if [[ ${1:-} == --remove-images ]]; then
    for name in "$image" "$build_base" "$run_base"; do
        if bh rmi "$name" >/dev/null 2>&1; then echo "removed $name"; fi
    done
    exit 0
fi

declare -a timings=()
step_started=0
begin() { step_started=$SECONDS; echo; echo "== $1"; }
end() {
    local took=$((SECONDS - step_started))
    timings+=("$(printf '%-44s %4d:%02d' "$1" $((took / 60)) $((took % 60)))")
    echo "-- $1: $((took / 60))m$((took % 60))s"
}

containers=()
server_runner=""
pid=""
cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
    if [[ -n $server_runner ]]; then kill "$server_runner" 2>/dev/null || true; fi
    for ctr in "${containers[@]}"; do bh rm "$ctr" >/dev/null 2>&1 || true; done
    rm -rf "$work/rootfs"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# Debian's mirror as this machine's apt uses it (deb822 or one-line sources), else deb.debian.org.
apt_mirror() {
    local want=$1 # "main" or "security"
    { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } | awk -v want="$want" '
        /^URIs:/ { uri = $2 } /^Suites:/ { suites = $0 }
        /^$/ { uri = ""; suites = "" }
        /^Suites:/ || /^URIs:/ { if (uri != "" && suites ~ /bookworm/ && (suites ~ /-security/) == (want == "security")) { print uri; exit } }
        /^deb / && $3 ~ /bookworm/ && ($3 ~ /-security/) == (want == "security") { print $2; exit }'
}
mirror=${DEBIAN_MIRROR:-$(apt_mirror main)}
mirror=${mirror:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror security)}
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}

total_started=$SECONDS
begin "tools"
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    apt-get install -y --no-install-recommends "${missing[@]}" || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
fi
buildah --version
echo "build base: $build_base; runtime base: $run_base; mirror: $mirror (security: $security_mirror)"
mkdir -p "$work"
end "tools"

have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }
if [[ ${REBUILD_BASES:-0} == 1 ]]; then
    bh rmi "$build_base" "$run_base" 2>/dev/null || true
fi

if ! have_image "$run_base"; then
    begin "runtime base $run_base (debootstrap)"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror"
    # Like Debian's images: sources in deb822 with updates and security, no docs, man pages or
    # locales from later installs, no package lists or downloaded packages kept.
    rm -f "$work/rootfs/etc/apt/sources.list"
    cat >"$work/rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$work/rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/*.bin \
        "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/log/*.log \
        "$work/rootfs/etc/hostname" "$work/rootfs/etc/resolv.conf"
    ctr=$(bh from --name virthost-base-debian scratch)
    containers+=("$ctr")
    cp -a "$work/rootfs/." "$(bh mount "$ctr")/"
    bh umount "$ctr" >/dev/null
    bh config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --label "org.opencontainers.image.description=local stand-in for $run_base: debootstrap minbase bookworm from $mirror" \
        "$ctr"
    bh commit --quiet --rm "$ctr" "$run_base" >/dev/null
    containers=()
    rm -rf "$work/rootfs"
    end "runtime base (debootstrap, import)"
fi

if ! have_image "$build_base"; then
    begin "build base $build_base (stand-in: debootstrap + local toolchain)"
    # The toolchain `swift` resolves to, laid out as the official image has it (in /usr).
    toolchain=${SWIFT_TOOLCHAIN:-$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")}
    version=$("$toolchain/bin/swift" --version 2>&1 | sed -n 's/^Swift version \([0-9.]*\).*/\1/p')
    tag_version=${build_base##*:}
    tag_version=${tag_version%%-*}
    if [[ $version != "$tag_version" && $version != "$tag_version".* ]]; then
        echo "the local toolchain is Swift $version, the Dockerfile asks for $build_base: not a stand-in for it" >&2
        exit 1
    fi
    ctr=$(bh from --pull=never --name virthost-base-swift "$run_base")
    containers+=("$ctr")
    # The official Debian 12 image's package list (swiftlang/swift-docker, 6.3/debian/12).
    bh run --isolation chroot "$ctr" -- sh -c 'export DEBIAN_FRONTEND=noninteractive \
        && apt-get -q update \
        && apt-get -q install -y binutils libicu-dev libcurl4-openssl-dev libedit-dev libsqlite3-dev \
            libncurses-dev libpython3-dev libxml2-dev pkg-config uuid-dev tzdata git gcc libstdc++-12-dev \
        && rm -rf /var/lib/apt/lists/*'
    mnt=$(bh mount "$ctr")
    cp -a "$toolchain/." "$mnt/usr/"
    chmod -R o+r "$mnt/usr/lib/swift"
    bh umount "$ctr" >/dev/null
    bh run --isolation chroot "$ctr" -- swift --version
    bh config --cmd bash \
        --label "org.opencontainers.image.description=local stand-in for $build_base: $run_base, the official image's build packages and the local Swift $version toolchain from $toolchain" \
        "$ctr"
    bh commit --quiet --rm "$ctr" "$build_base" >/dev/null
    containers=()
    end "build base (packages, toolchain, commit)"
fi

begin "buildah bud"
volumes=()
if [[ ${OFFLINE:-1} != 0 ]]; then
    # git's own URL rewrites (e.g. url./opt/swift-packages/.insteadOf https://github.com/), copied
    # into a file mounted as the build's /etc/gitconfig, and each local mirror they point at.
    gitconfig="$work/gitconfig"
    : >"$gitconfig"
    while read -r key value; do
        base=${key#url.}
        base=${base%.insteadof}
        if [[ $base == /* && -d $base ]]; then
            git config -f "$gitconfig" --add "url.$base.insteadOf" "$value"
            mirror_dir=${base%/}
            [[ " ${volumes[*]} " == *" $mirror_dir:$mirror_dir:ro "* ]] || volumes+=(--volume "$mirror_dir:$mirror_dir:ro")
        fi
    done < <(git config --get-regexp '^url\..*\.insteadof$' || true)
    if ((${#volumes[@]})); then
        volumes+=(--volume "$gitconfig:/etc/gitconfig:ro")
        echo "offline: SwiftPM resolves from ${volumes[*]}"
    fi
fi
previous=$(bh images --quiet --no-trunc "$image" 2>/dev/null || true)
# Docker format: OCI image configs have no HEALTHCHECK, and buildah would drop it.
bh bud --isolation chroot --pull=never --format docker "${volumes[@]}" -f Dockerfile -t "$image" .
# The image this build replaces would stay behind untagged (vfs: a full copy of every layer).
if [[ -n $previous && $previous != "$(bh images --quiet --no-trunc "$image")" ]]; then
    bh rmi "$previous" >/dev/null
fi
end "buildah bud (both stages, release build)"

begin "checks"
ctr=$(bh from --pull=never --name virthost-check "$image")
containers+=("$ctr")
echo "image config: user $(bh inspect --format '{{.Docker.Config.User}}' "$image"), entrypoint $(bh inspect --format '{{.Docker.Config.Entrypoint}}' "$image"), healthcheck $(bh inspect --format '{{.Docker.Config.Healthcheck.Test}}' "$image")"

echo "ldd /usr/local/bin/virthostd (in the runtime image):"
linked=$(bh run --isolation chroot "$ctr" -- ldd /usr/local/bin/virthostd)
echo "$linked"
if grep -q "not found" <<<"$linked"; then
    echo "FAIL: the runtime image lacks a library the binary links" >&2
    exit 1
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$work/virthostd.log"
# The image's user and entrypoint, on the test driver; chroot isolation shares the host's network.
bh run --isolation chroot --env VIRTHOST_URI=test:///default --env "VIRTHOST_LISTEN=127.0.0.1:$port" \
    "$ctr" -- /usr/local/bin/virthostd >"$log" 2>&1 &
server_runner=$!
for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    kill -0 "$server_runner" 2>/dev/null || { cat "$log" >&2; echo "FAIL: virthostd exited" >&2; exit 1; }
    sleep 0.5
done
pid=$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[[ -n $pid ]] || { cat "$log" >&2; echo "FAIL: nothing listens on $port" >&2; exit 1; }
echo "virthostd (pid $pid) listens on 127.0.0.1:$port; $(tr '\0' ' ' <"/proc/$pid/cmdline")"
grep -E '^(Uid|Gid):' "/proc/$pid/status"
read -r _ uid _ < <(grep '^Uid:' "/proc/$pid/status")
read -r _ gid _ < <(grep '^Gid:' "/proc/$pid/status")
if [[ $uid == 0 || $gid == 0 || "$uid:$gid" != "$(bh inspect --format '{{.Docker.Config.User}}' "$image")" ]]; then
    echo "FAIL: virthostd runs as $uid:$gid, not as the image's non-root user" >&2
    exit 1
fi
echo "GET /healthz (the image's curl, as its HEALTHCHECK):"
bh run --isolation chroot "$ctr" -- curl -fsS "http://127.0.0.1:$port/healthz"
echo
echo "GET /v1/host:"
host_json=$(curl -fsS "http://127.0.0.1:$port/v1/host")
echo "$host_json"
python3 -c 'import json, sys; host = json.loads(sys.argv[1]); assert host["uri"] == "test:///default" and host["hypervisor"]["type"] == "TEST", host' "$host_json"
kill -TERM "$pid"
wait "$server_runner" || true
server_runner=""
pid=""
echo "log:"
cat "$log"
end "checks (ldd, user, /healthz, /v1/host)"

echo
echo "== images"
bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E "virthost|swift|debian" || true
echo "storage: $(du -sh "$(bh info --format '{{.store.GraphRoot}}')" | cut -f1) in buildah's vfs store"
echo
echo "== timings (m:ss)"
printf '%s\n' "${timings[@]}"
total=$((SECONDS - total_started))
printf '%-44s %4d:%02d\n' "total" $((total / 60)) $((total % 60))
echo "image $image built; ldd complete; virthostd ran as uid $uid gid $gid and answered /healthz and /v1/host"
