#!/usr/bin/env bash
# Side-by-side benchmark: virthostd against the bare libmicrohttpd server and the Flask +
# libvirt-python peer (../shared/peers, or VIRTHOST_PEERS), each load measured with wrk on
# loopback (2 threads, 64 connections), medians of RUNS runs, ratios from the same run.
#   scripts/bench.sh            RUNS=3 DURATION=5 by default
#   QEMU=0 scripts/bench.sh     skip the loads on the real libvirtd
#   ONLY=qemu scripts/bench.sh  only the host-metrics loads on the real libvirtd
#   ONLY=storage scripts/bench.sh  only volume uploads and downloads against virsh's, on the real libvirtd
#   ONLY=console scripts/bench.sh  only the serial console's round trip against virsh console's, on the
#                                  tiny guest (scripts/tiny-guest.sh) booted on the real libvirtd
#   ONLY=vnc scripts/bench.sh      only the VNC relay, against websockify's and QEMU's own port, on a
#                                  guest whose display changes all the time, on the real libvirtd
#   ONLY=migration scripts/bench.sh  only live migration to a second libvirtd (scripts/second-host.sh),
#                                  against `virsh migrate --live --p2p`
# The real-libvirtd loads run with BENCH_DOMAINS (24) domains defined for the run, each with a
# qcow2 overlay and a sparse raw disk, two of them running; they are removed at the end.
# virthostd is built as it ships (the Dockerfile's --static-swift-stdlib), in .build-static.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
duration=${DURATION:-5}
peers=${VIRTHOST_PEERS:-../shared/peers}
work=.build/bench
mkdir -p "$work"
build=(swift build -c release --static-swift-stdlib --scratch-path .build-static)
bin=.build-static/release
# 1,000 event streams and the servers' sockets need more descriptors than the usual 1,024.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
missing=()
for package in wrk gcc python3-venv python3-dev procps curl; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
((${#missing[@]} == 0)) || { $sudo apt-get update -qq; $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
scripts/install-deps.sh --test >/dev/null
virt_type=qemu
[[ ${QEMU:-1} == 0 ]] || virt_type=$(scripts/start-libvirtd.sh | tail -1)
only=${ONLY:-}
[[ ($only != qemu && $only != storage && $only != console && $only != vnc && $only != migration) || ${QEMU:-1} != 0 ]] || { echo "ONLY=$only needs QEMU=1" >&2; exit 1; }

products=(virthostd RenderBenchmark JSONBenchmark)
[[ $only != qemu && $only != storage && $only != console && $only != vnc && $only != migration ]] || products=(virthostd)
for product in "${products[@]}"; do "${build[@]}" --product "$product" >/dev/null; done

# ONLY=console: the tiny guest booted through the service; a command's round trip through its
# serial console, typed through the service's WebSocket and through `virsh console`, in turns
# (scripts/bench_serial.py), RUNS × 10 rounds each.
if [[ $only == console ]]; then
    guest_dir=$(scripts/tiny-guest.sh)
    suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    name=virthost-bench-console-$suffix
    root=/var/lib/libvirt/images/$name
    mkdir -p "$root"; cp "$guest_dir/vmlinuz" "$guest_dir/initrd.gz" "$root/"
    [[ -x $work/console-venv/bin/python ]] || { python3 -m venv "$work/console-venv"
        "$work/console-venv/bin/pip" install --quiet --disable-pip-version-check websockets; }
    "$bin/virthostd" --listen 127.0.0.1:18120 --uri qemu:///system --instances-path "$root" \
        --allowed-disk-root "$root" >/dev/null 2>&1 &
    service=$!
    trap 'kill $service 2>/dev/null; virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1
          virsh -q -c qemu:///system undefine "$name" >/dev/null 2>&1; rm -rf "$root"' EXIT
    for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:18120/readyz && break; sleep 0.05; done
    curl -sf -o /dev/null -X POST http://127.0.0.1:18120/v1/guests -H 'Content-Type: application/json' -d @- <<JSON
{"spec":{"name":"$name","memory_mb":128,"virt_type":"qemu","cpu":{"mode":"custom","model":"qemu64"},
 "os":{"machine":"pc","kernel":"$root/vmlinuz","initrd":"$root/initrd.gz","cmdline":"console=ttyS0 panic=-1 quiet"},
 "graphics":{"type":"none"}},"start":true}
JSON
    # Booted when the guest's rc has written its marker to the console log.
    for _ in $(seq 1 120); do
        curl -s "http://127.0.0.1:18120/v1/domains/$name/console/log?tail_bytes=4096" | grep -q VIRTHOST-GUEST-READY && break
        sleep 0.5
    done
    echo "| load | rounds | p50 ms | p90 ms | ratio |"
    echo "|---|---|---|---|---|"
    "$work/console-venv/bin/python" scripts/bench_serial.py 18120 "$name" qemu:///system $((runs * 10))
    exit 0
fi

# ONLY=vnc: one guest's VNC display three ways, in turns (scripts/bench_vnc.py): straight to
# QEMU's VNC port (the floor), through websockify (Debian's python3-websockify, the proxy noVNC,
# Kimchi and WebVirtCompute use) and through the service; RUNS × 50 full updates each. The guest
# boots an 82-byte boot sector that sets the Bochs VBE display to 1920×1080 at 32 bits through
# its I/O ports (0x1CE/0x1CF) and then rewrites the first 64 KiB of it at every timer tick, so
# QEMU keeps refreshing at its fastest (every 30 ms). In GNU as (.code16, linked at 0x7c00):
#   cli; xor ax,ax; mov ss,ax; mov sp,0x7c00; mov dx,0x1ce
#   for (index, value) in (4,0) (1,1920) (2,1080) (3,32) (4,1): out index at dx; out value at dx+1
#   mov ax,0xa000; mov es,ax; xor bx,bx; sti
#   again: xor di,di; mov cx,0x8000; mov ax,bx; cld; rep stosw; inc bx; hlt; jmp again
if [[ $only == vnc ]]; then
    dpkg-query -W -f='${Status}' python3-websockify 2>/dev/null | grep -q "install ok installed" \
        || { $sudo apt-get install -y -qq --no-install-recommends python3-websockify >/dev/null; }
    suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    name=virthost-bench-vnc-$suffix
    root=/var/lib/libvirt/images/$name
    mkdir -p "$root"
    boot=fa31c08ed0bc007cbace01b80400ef4231c0ef4ab80100ef42b88007ef4ab80200ef42b83804ef4ab80300ef42b82000ef4a
    boot+=b80400ef42b80100efb800a08ec031dbfb31ffb9008089d8fcf3ab43f4ebf2
    echo "$boot" | xxd -r -p > "$root/boot.raw"
    truncate -s 510 "$root/boot.raw"; printf '\x55\xaa' >> "$root/boot.raw"; truncate -s 1M "$root/boot.raw"
    "$bin/virthostd" --listen 127.0.0.1:18120 --uri qemu:///system --allowed-disk-root "$root" \
        --allowed-disk-root "$pool_dir" >/dev/null 2>&1 &
    service=$! websockify=""
    trap 'kill $service $websockify 2>/dev/null; virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1
          virsh -q -c qemu:///system undefine "$name" >/dev/null 2>&1; rm -rf "$root"' EXIT
    for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:18120/readyz && break; sleep 0.05; done
    # host-model less arch-capabilities: nested KVM cannot set that MSR (as in the tests).
    cat > "$work/vnc-guest.json" <<JSON
{"spec":{"name":"$name","memory_mb":64,"virt_type":"$virt_type","cpu":{"mode":"host-model","features":[{"name":"arch-capabilities","policy":"disable"}]},
 "disks":[{"source":"$root/boot.raw","format":"raw"}]},
 "start":true}
JSON
    status=$(curl -s -o "$work/vnc-create.json" -w '%{http_code}' -X POST http://127.0.0.1:18120/v1/guests \
        -H 'Content-Type: application/json' -d @"$work/vnc-guest.json")
    [[ $status == 201 ]] || { echo "creating the guest: $status $(cat "$work/vnc-create.json")" >&2; exit 1; }
    display=$(virsh -q -c qemu:///system domdisplay "$name")
    vnc_port=$((5900 + ${display##*:}))
    websockify 127.0.0.1:18122 "127.0.0.1:$vnc_port" >/dev/null 2>&1 &
    websockify=$!
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/18122) 2>/dev/null && break; sleep 0.05; done
    sleep 2  # the boot sector has set the mode
    echo "| way | updates | p50 ms | p90 ms | MiB/s | latency vs direct | throughput vs websockify |"
    echo "|---|---|---|---|---|---|---|"
    python3 scripts/bench_vnc.py "$vnc_port" 18122 18120 "/v1/domains/$name/console/vnc" 50 "$runs"
    exit 0
fi

# ONLY=migration: one 256 MiB guest with no disk live-migrated to a second libvirtd
# (scripts/second-host.sh) and back, RUNS × 5 times each way in turns: through the service, and
# with `virsh migrate --live --p2p` and the same flags (scripts/bench_migration.py).
if [[ $only == migration ]]; then
    second_host=$(scripts/second-host.sh test-env)
    eval "$second_host"
    suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    name=virthost-bench-migration-$suffix
    "$bin/virthostd" --listen 127.0.0.1:18120 --uri qemu:///system >/dev/null 2>&1 &
    service=$!
    trap 'kill $service 2>/dev/null
          for uri in qemu:///system "$VIRTHOST_TEST_SECOND_HOST_URI"; do
              virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1; virsh -q -c "$uri" undefine "$name" >/dev/null 2>&1
          done' EXIT
    for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:18120/readyz && break; sleep 0.05; done
    # host-passthrough less arch-capabilities: nested KVM cannot set that MSR (as in the tests).
    cpu=""
    [[ $virt_type != kvm ]] || cpu="<cpu mode='host-passthrough'><feature policy='disable' name='arch-capabilities'/></cpu>"
    cat > "$work/migration-guest.xml" <<XML
<domain type='$virt_type'><name>$name</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>$cpu<on_crash>destroy</on_crash>
<devices><serial type='pty'><target port='0'/></serial><memballoon model='none'/></devices></domain>
XML
    virsh -q -c qemu:///system define "$work/migration-guest.xml" >/dev/null
    virsh -q -c qemu:///system start "$name" >/dev/null
    echo "| way | migrations | p50 wall ms | max wall ms | p50 downtime ms | wall vs virsh | downtime vs virsh |"
    echo "|---|---|---|---|---|---|---|"
    python3 scripts/bench_migration.py 18120 "$name" "$VIRTHOST_TEST_SECOND_HOST_URI" "$VIRTHOST_TEST_SECOND_HOST_BACK_URI" \
        "$VIRTHOST_TEST_SECOND_HOST_BACK_MIGRATE_URI" $((runs * 5))
    exit 0
fi

# ONLY=storage: volume content through the service against libvirt's own client, same files,
# same run, taking turns: a 1 GiB raw image with holes and a 1 GiB qcow2 image, uploaded
# (`curl -T` / `virsh vol-upload`, and `virsh vol-upload --sparse`, which skips the holes) and
# downloaded (`curl` / `virsh vol-download`, both to /dev/null), each the median of RUNS; the
# service's RSS growth during its transfers (sampled every 20 ms), and p99 of GET /v1/host under
# wrk (1 thread, 4 connections) while uploads run back to back. The pool is in /dev/shm when
# there is one, so that what is measured is the transfer, not the disk's writeback.
if [[ $only == storage ]]; then
    suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    root=$PWD/$work/storage-$suffix
    pool=virthost-bench-$suffix
    pool_dir=$root/pool
    [[ -d /dev/shm ]] && pool_dir=/dev/shm/$pool
    mkdir -p "$root" "$pool_dir"
    trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
          virsh -q -c qemu:///system pool-destroy "$pool" >/dev/null 2>&1 || true; rm -rf "$root" "$pool_dir"' EXIT
    virsh -q -c qemu:///system pool-create-as "$pool" dir --target "$pool_dir" >/dev/null
    # Raw: 16 MiB of random data every 32 MiB (512 MiB of data, 512 MiB of holes).
    truncate -s 1G "$root/image.raw"
    for i in $(seq 0 31); do
        dd if=/dev/urandom of="$root/image.raw" bs=16M count=1 seek=$((i * 2)) conv=notrunc status=none
    done
    # qcow2: 1 GiB of random data, so the file is 1 GiB.
    head -c 1G /dev/urandom > "$root/data.raw"
    qemu-img convert -f raw -O qcow2 "$root/data.raw" "$root/image.qcow2"
    rm "$root/data.raw"
    "$bin/virthostd" --listen 127.0.0.1:18120 --uri qemu:///system --allowed-disk-root "$root" \
        --allowed-disk-root "$pool_dir" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:18120/readyz && break; sleep 0.05; done
    python3 - "$root" "$pool" "${pids[-1]}" "$runs" <<'PY'
import os, re, statistics, subprocess, sys, threading, time
root, pool, pid, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:18120/v1/storage/pools/{pool}/volumes"
virsh = ["virsh", "-q", "-c", "qemu:///system"]

def rss_mib():
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024

def timed(command, sample=False):
    """Seconds the command took and, when sampled, the service's RSS growth meanwhile (MiB)."""
    start_rss, peak, done = rss_mib(), [0.0], threading.Event()
    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib() - start_rss)
            time.sleep(0.02)
    thread = threading.Thread(target=sampler)
    if sample: thread.start()
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    done.set()
    if sample: thread.join()
    if result.returncode != 0 or ("-w" in command and not result.stdout.startswith("2")):
        sys.exit(f"{' '.join(command)} failed: {result.stdout} {result.stderr}")
    return elapsed, peak[0]

def delete(volume):
    subprocess.run(virsh + ["vol-delete", volume, "--pool", pool], capture_output=True)

def curl(*arguments):
    return ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *arguments]

size = lambda path: os.path.getsize(path) / 2**20
rows = []
rss = []
def peer_upload(name, path, *flags):
    delete("peer-" + name)
    subprocess.run(virsh + ["vol-create-as", pool, "peer-" + name, "0", "--format", "raw"], check=True,
                   capture_output=True)
    return timed(virsh + ["vol-upload", "peer-" + name, path, "--pool", pool, *flags])[0]

for name, fmt in (("image.raw", "raw"), ("image.qcow2", "qcow2")):
    path = f"{root}/{name}"
    ours_up, peer_up, sparse_up, ours_down, peer_down = [], [], [], [], []
    for _ in range(runs):
        peer_up.append(peer_upload(name, path))
        delete(name)
        seconds, grown = timed(curl("-T", path, f"{base}/{name}/content?format={fmt}"), sample=True)
        ours_up.append(seconds); rss.append(grown)
        sparse_up.append(peer_upload(name, path, "--sparse"))
        peer_down.append(timed(virsh + ["vol-download", name, "/dev/null", "--pool", pool])[0])
        seconds, grown = timed(curl(f"{base}/{name}/content"), sample=True)
        ours_down.append(seconds); rss.append(grown)
    mib = size(path)
    rate = lambda times: mib / statistics.median(times)
    o, p, q = rate(ours_up), rate(peer_up), rate(sparse_up)
    rows.append(f"| upload {fmt} ({mib:,.0f} MiB file) | {o:,.0f} | {p:,.0f} | {o / p:.2f} × virsh "
                f"| {q:,.0f} | {o / q:.2f} × |")
    o, p = rate(ours_down), rate(peer_down)
    rows.append(f"| download {fmt} ({mib:,.0f} MiB file) | {o:,.0f} | {p:,.0f} | {o / p:.2f} × virsh | | |")

def wrk_p99(seconds):
    out = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", "http://127.0.0.1:18120/v1/host"],
                         capture_output=True, text=True).stdout
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

def p99_during(command):
    """p99 of GET /v1/host under wrk while `command` runs back to back; and how often it ran."""
    stop, count = threading.Event(), [0]
    def loop():
        while not stop.is_set():
            subprocess.run(command, capture_output=True)
            count[0] += 1
    loader = threading.Thread(target=loop)
    loader.start()
    time.sleep(0.5)
    p99 = wrk_p99(10)
    stop.set(); loader.join()
    return p99, count[0]

idle_p99 = wrk_p99(5)
busy_p99, uploads = p99_during(curl("-T", f"{root}/image.raw", f"{base}/image.raw/content?overwrite=true"))
# The same load on libvirtd from its own client: what of the latency is libvirtd's and the CPU's.
peer_p99, peer_uploads = p99_during(virsh + ["vol-upload", "peer-image.raw", f"{root}/image.raw", "--pool", pool,
                                             "--sparse"])
print("| transfer | virthostd MiB/s | virsh MiB/s | ratio | virsh --sparse MiB/s | ratio |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
print(f"\nvirthostd RSS growth during a transfer: max {max(rss):.1f} MiB over {len(rss)} transfers")
print(f"GET /v1/host p99 under wrk -t1 -c4: {idle_p99:.2f} ms idle, {busy_p99:.2f} ms while 1 GiB raw uploads"
      f" through the service ran back to back ({uploads} uploads), {peer_p99:.2f} ms while virsh vol-upload"
      f" did the same ({peer_uploads} uploads)")
print(f"load average at the end: {open('/proc/loadavg').read().split()[0]}")
PY
    exit 0
fi
gcc -O2 -o "$work/mhd_hello" "$peers/mhd_hello.c" $(pkg-config --cflags --libs libmicrohttpd)
gcc -O2 -o "$work/sse_fanout" Benchmarks/SSEFanOut/sse_fanout.c
if [[ ! -x $work/venv/bin/gunicorn ]]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check flask gunicorn libvirt-python
fi

# A test-driver node with 1,000 domains.
python3 - "$work/1000-domains.xml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("<node>\n")
    for i in range(1000):
        f.write(f"<domain type='test'><name>bench-{i:04d}</name><memory>65536</memory><vcpu>1</vcpu>"
                f"<os><type>hvm</type></os></domain>\n")
    f.write("</node>\n")
PY
cat > "$work/render.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","memory_mb":1024,"vcpus":2,"virt_type":"test","disks":[{"source":"/tmp/bench.qcow2"}],"interfaces":[{"type":"ethernet"}]}'
LUA

pids=()
bench_domains=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for domain in "${bench_domains[@]}"; do
        virsh -q -c qemu:///system destroy "$domain" >/dev/null 2>&1 || true
        virsh -q -c qemu:///system undefine "$domain" >/dev/null 2>&1 || true
    done
    rm -rf "$work/disks" "$work"/virthost-bench-*.xml
}
trap cleanup EXIT

# Domains for the host-metrics sweep on qemu:///system: each has a qcow2 overlay (on a shared
# base) and a sparse raw file with a few MiB written, the disks disk_available_least counts.
if [[ ${QEMU:-1} != 0 ]]; then
    mkdir -p "$work/disks"
    disks=$PWD/$work/disks
    qemu-img create -q -f qcow2 "$disks/base.qcow2" 1G
    suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    for i in $(seq -w 1 "${BENCH_DOMAINS:-24}"); do
        name=virthost-bench-$suffix-$i
        qemu-img create -q -f qcow2 -b "$disks/base.qcow2" -F qcow2 "$disks/$name.qcow2" 2G
        truncate -s 1G "$disks/$name.raw"
        dd if=/dev/urandom of="$disks/$name.raw" bs=1M count=2 seek=8 conv=notrunc status=none
        python3 - "$name" "$virt_type" "$disks" > "$work/$name.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
name, virt_type, disks = sys.argv[1:4]
domain = ET.Element("domain", type=virt_type)
ET.SubElement(domain, "name").text = name
ET.SubElement(domain, "memory", unit="MiB").text = "64"
ET.SubElement(domain, "vcpu").text = "1"
os_ = ET.SubElement(domain, "os")
ET.SubElement(os_, "type", arch="x86_64", machine="q35").text = "hvm"
ET.SubElement(os_, "boot", dev="network")
devices = ET.SubElement(domain, "devices")
for target, fmt, suffix in (("vda", "qcow2", "qcow2"), ("vdb", "raw", "raw")):
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type=fmt)
    ET.SubElement(disk, "source", file=f"{disks}/{name}.{suffix}")
    ET.SubElement(disk, "target", dev=target, bus="virtio")
print(ET.tostring(domain, encoding="unicode"))
PY
        virsh -q -c qemu:///system define "$work/$name.xml" >/dev/null
        bench_domains+=("$name")
    done
    for domain in "${bench_domains[@]:0:2}"; do virsh -q -c qemu:///system start "$domain" >/dev/null; done
fi

# start NAME PORT COMMAND...: starts a server and waits for its port.
start() {
    local port=$2; shift 2
    "$@" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0; sleep 0.05; done
    echo "server on $port did not start" >&2; exit 1
}

if [[ $only != qemu ]]; then
# exec to the first /readyz 200, median of five starts.
exec_to_ready_ms=$(python3 - <<'PY'
import statistics, subprocess, time, urllib.request
times = []
for _ in range(5):
    start = time.monotonic()
    p = subprocess.Popen([".build-static/release/virthostd", "--listen", "127.0.0.1:18190"], stderr=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen("http://127.0.0.1:18190/readyz", timeout=1).status == 200: break
        except Exception: time.sleep(0.002)
    times.append((time.monotonic() - start) * 1000)
    p.terminate(); p.wait()
print(round(statistics.median(times)))
PY
)

start virthost 18101 "$bin/virthostd" --listen 127.0.0.1:18101 --instances-path /tmp
start virthost1000 18102 "$bin/virthostd" --listen 127.0.0.1:18102 --uri "test://$PWD/$work/1000-domains.xml" --instances-path /tmp
start mhd 18103 "$work/mhd_hello" 18103 2
(cd "$peers" && start flask 18104 "$OLDPWD/$work/venv/bin/gunicorn" -w 2 -k gthread --threads 8 -b 127.0.0.1:18104 flask_peer:app)
pids+=($(pgrep -f "127.0.0.1:18104" | tr '\n' ' '))
(cd "$peers" && LIBVIRT_URI="test://$OLDPWD/$work/1000-domains.xml" start flask1000 18105 "$OLDPWD/$work/venv/bin/gunicorn" -w 2 -k gthread --threads 8 -b 127.0.0.1:18105 flask_peer:app)
pids+=($(pgrep -f "127.0.0.1:18105" | tr '\n' ' '))
sleep 1
idle_pid=$(pgrep -f 'listen 127.0.0.1:18101')
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/"$idle_pid"/status)
idle_anon_kb=$(awk '/RssAnon/ {print $2}' /proc/"$idle_pid"/status)
idle_pss_kb=$(awk '/^Pss:/ {print $2}' /proc/"$idle_pid"/smaps_rollup)
fi
if [[ ${QEMU:-1} != 0 ]]; then
    start virthostq 18106 "$bin/virthostd" --listen 127.0.0.1:18106 --uri qemu:///system --instances-path "$disks"
    (cd "$peers" && LIBVIRT_URI=qemu:///system start flaskq 18107 "$OLDPWD/$work/venv/bin/gunicorn" -w 2 -k gthread --threads 8 -b 127.0.0.1:18107 flask_peer:app)
    pids+=($(pgrep -f "127.0.0.1:18107" | tr '\n' ' '))
fi

# measure URL [wrk args...] → "rps p50_ms p99_ms" (median of runs)
measure() {
    local url=$1; shift
    for _ in $(seq 1 "$runs"); do
        wrk -t2 -c64 -d"${duration}s" --latency "$@" "$url" | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(v, unit): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p = dict((q, ms(v, u)) for q, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", text))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(rps, p["50"], p["99"], errors.group(1) if errors else 0)'
    done | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2) {print}'
}

row() {  # LABEL OURS PEER PEERNAME
    python3 - "$@" <<'PY'
import sys
label, ours, peer, peer_name = sys.argv[1:5]
o = [float(x) for x in ours.split()]; p = [float(x) for x in peer.split()] if peer else None
ratio = f"{o[0] / p[0]:.2f} × {peer_name}" if p else ""
errors = f"  ({int(o[3])} non-2xx)" if o[3] else ""
print(f"| {label} | {o[0]:,.0f} | {o[1]:.2f} | {o[2]:.2f} | {ratio}{errors} |")
PY
}

if [[ ${QEMU:-1} != 0 ]]; then
    # What the sweeps read: the domains, and the over-commit of their disks.
    curl -s 'http://127.0.0.1:18106/v1/host/metrics?max_age_ms=0' > "$work/sweep.json"
    python3 - "$work/sweep.json" <<'PY'
import json, subprocess, sys
disk = json.load(open(sys.argv[1]))["disk_gb"]
assert disk["error"] is None, disk
def count(*flags):
    out = subprocess.run(["virsh", "-q", "-c", "qemu:///system", "list", "--name", *flags],
                         capture_output=True, text=True).stdout
    return len(out.split())
print(f"qemu:///system: {count('--all')} domains defined ({count()} running), "
      f"{disk['over_committed_bytes'] / 2**30:.1f} GiB over-committed in their file disks; "
      f"load average at start {open('/proc/loadavg').read().split()[0]}")
PY
    echo
fi
echo "| load | req/s | p50 ms | p99 ms | ratio |"
echo "|---|---|---|---|---|"
if [[ $only == qemu ]]; then
    flaskq=$(measure http://127.0.0.1:18107/v1/host/metrics)
    row "Flask peer /v1/host/metrics, qemu:///system" "$flaskq" "" ""
    row "GET /v1/host/metrics?max_age_ms=0, qemu:///system" "$(measure 'http://127.0.0.1:18106/v1/host/metrics?max_age_ms=0')" "$flaskq" "Flask"
    flaskq1=$(measure http://127.0.0.1:18107/v1/host/metrics -t1 -c1)
    row "Flask peer /v1/host/metrics, qemu:///system, one connection" "$flaskq1" "" ""
    row "GET /v1/host/metrics?max_age_ms=0, qemu:///system, one connection" "$(measure 'http://127.0.0.1:18106/v1/host/metrics?max_age_ms=0' -t1 -c1)" "$flaskq1" "Flask"
    exit 0
fi
mhd=$(measure http://127.0.0.1:18103/)
row "bare libmicrohttpd (peer)" "$mhd" "" ""
row "GET /v1/host" "$(measure http://127.0.0.1:18101/v1/host)" "$mhd" "libmicrohttpd"
flask=$(measure http://127.0.0.1:18104/v1/host/metrics)
row "Flask peer /v1/host/metrics, test driver" "$flask" "" ""
row "GET /v1/host/metrics, test driver" "$(measure http://127.0.0.1:18101/v1/host/metrics)" "$flask" "Flask"
row "GET /v1/host/metrics?max_age_ms=0, test driver" "$(measure 'http://127.0.0.1:18101/v1/host/metrics?max_age_ms=0')" "$flask" "Flask"
if [[ ${QEMU:-1} != 0 ]]; then
    flaskq=$(measure http://127.0.0.1:18107/v1/host/metrics)
    row "Flask peer /v1/host/metrics, qemu:///system" "$flaskq" "" ""
    row "GET /v1/host/metrics, qemu:///system" "$(measure http://127.0.0.1:18106/v1/host/metrics)" "$flaskq" "Flask"
    row "GET /v1/host/metrics?max_age_ms=0, qemu:///system" "$(measure 'http://127.0.0.1:18106/v1/host/metrics?max_age_ms=0')" "$flaskq" "Flask"
    flaskq1=$(measure http://127.0.0.1:18107/v1/host/metrics -t1 -c1)
    row "Flask peer /v1/host/metrics, qemu:///system, one connection" "$flaskq1" "" ""
    row "GET /v1/host/metrics?max_age_ms=0, qemu:///system, one connection" "$(measure 'http://127.0.0.1:18106/v1/host/metrics?max_age_ms=0' -t1 -c1)" "$flaskq1" "Flask"
fi
row "GET /v1/domains, 1 domain" "$(measure http://127.0.0.1:18101/v1/domains)" "$(measure http://127.0.0.1:18104/v1/domains)" "Flask"
flask1000=$(measure http://127.0.0.1:18105/v1/domains)
row "GET /v1/domains, 1,000 domains" "$(measure http://127.0.0.1:18102/v1/domains)" "$flask1000" "Flask"
row "GET /v1/domains, 1,000 domains, one connection" "$(measure http://127.0.0.1:18102/v1/domains -t1 -c1)" "" ""
row "POST /v1/guests/render" "$(measure http://127.0.0.1:18101/v1/guests/render -s "$work/render.lua")" "$mhd" "libmicrohttpd"
echo
render() { "$bin/RenderBenchmark" "$1" 3 | awk '{print $2}'; }
echo "in-process render, one core (renders per CPU second): $(render Benchmarks/typical-spec.json) typical spec," \
     "$(render Tests/GuestConfigTests/Golden/every-device.json) every-device spec, $(render Tests/GuestConfigTests/Golden/minimal.json) minimal"
echo "JSON of 1,000 domains: $("$bin/JSONBenchmark" 2 | paste -sd ';' | sed 's/;/; /')"
echo "idle: RSS $((idle_rss_kb / 1024)) MiB (anonymous $((idle_anon_kb / 1024)) MiB, PSS $((idle_pss_kb / 1024)) MiB);" \
     "exec to first /readyz 200: ${exec_to_ready_ms} ms (test:///default)"

# Event fan-out: 1,000 streams on a fresh server each run, 100 lifecycle events (pause, resume
# of `test`), each timed from its action's request to the last stream; medians of RUNS runs.
for port in $(seq 18110 $((18109 + runs))); do
    start events "$port" "$bin/virthostd" --listen "127.0.0.1:$port"
    events_pid=${pids[-1]}
    "$work/sse_fanout" "$port" "$events_pid" 1000 100 || true
    kill "$events_pid"
done | python3 -c '
import statistics, sys
runs = [dict(zip(line.split()[::2], map(float, line.split()[1::2]))) for line in sys.stdin if line.startswith("clients")]
median = lambda key: statistics.median(run[key] for run in runs)
print("event fan-out, 1,000 streams, 100 events: p50 %.1f ms, p99 %.1f ms from the action to the last stream"
      " (first to last stream: p50 %.1f ms); server threads %d, RSS %d MiB"
      % (median("p50_ms"), median("p99_ms"), median("spread_p50_ms"),
         max(run["threads"] for run in runs), max(run["rss_mb"] for run in runs)))'
