#!/usr/bin/env bash
# Side-by-side benchmark: virthostd against the bare libmicrohttpd server and the Flask +
# libvirt-python peer (../shared/peers, or VIRTHOST_PEERS), each load measured with wrk on
# loopback (2 threads, 64 connections), medians of RUNS runs, ratios from the same run.
#   scripts/bench.sh            RUNS=3 DURATION=5 by default
#   QEMU=0 scripts/bench.sh     skip the loads on the real libvirtd
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
duration=${DURATION:-5}
peers=${VIRTHOST_PEERS:-../shared/peers}
work=.build/bench
mkdir -p "$work"

sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
missing=()
for package in wrk gcc python3-venv python3-dev procps curl; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
((${#missing[@]} == 0)) || { $sudo apt-get update -qq; $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
scripts/install-deps.sh --test >/dev/null
[[ ${QEMU:-1} == 0 ]] || scripts/start-libvirtd.sh >/dev/null

swift build -c release --product virthostd >/dev/null
swift build -c release --product RenderBenchmark >/dev/null
gcc -O2 -o "$work/mhd_hello" "$peers/mhd_hello.c" $(pkg-config --cflags --libs libmicrohttpd)
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
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME PORT COMMAND...: starts a server and waits for its port.
start() {
    local port=$2; shift 2
    "$@" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0; sleep 0.05; done
    echo "server on $port did not start" >&2; exit 1
}

exec_to_ready_ms=$(python3 - <<'PY'
import subprocess, time, urllib.request
start = time.monotonic()
p = subprocess.Popen([".build/release/virthostd", "--listen", "127.0.0.1:18190"], stderr=subprocess.DEVNULL)
while True:
    try:
        if urllib.request.urlopen("http://127.0.0.1:18190/readyz", timeout=1).status == 200: break
    except Exception: time.sleep(0.002)
print(round((time.monotonic() - start) * 1000))
p.terminate(); p.wait()
PY
)

start virthost 18101 .build/release/virthostd --listen 127.0.0.1:18101 --instances-path /tmp
start virthost1000 18102 .build/release/virthostd --listen 127.0.0.1:18102 --uri "test://$PWD/$work/1000-domains.xml" --instances-path /tmp
start mhd 18103 "$work/mhd_hello" 18103 2
(cd "$peers" && start flask 18104 "$OLDPWD/$work/venv/bin/gunicorn" -w 2 -k gthread --threads 8 -b 127.0.0.1:18104 flask_peer:app)
pids+=($(pgrep -f "127.0.0.1:18104" | tr '\n' ' '))
(cd "$peers" && LIBVIRT_URI="test://$OLDPWD/$work/1000-domains.xml" start flask1000 18105 "$OLDPWD/$work/venv/bin/gunicorn" -w 2 -k gthread --threads 8 -b 127.0.0.1:18105 flask_peer:app)
pids+=($(pgrep -f "127.0.0.1:18105" | tr '\n' ' '))
sleep 1
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/"$(pgrep -f 'listen 127.0.0.1:18101')"/status)
if [[ ${QEMU:-1} != 0 ]]; then
    start virthostq 18106 .build/release/virthostd --listen 127.0.0.1:18106 --uri qemu:///system
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

echo "| load | req/s | p50 ms | p99 ms | ratio |"
echo "|---|---|---|---|---|"
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
fi
row "GET /v1/domains, 1 domain" "$(measure http://127.0.0.1:18101/v1/domains)" "$(measure http://127.0.0.1:18104/v1/domains)" "Flask"
row "GET /v1/domains, 1,000 domains" "$(measure http://127.0.0.1:18102/v1/domains)" "$(measure http://127.0.0.1:18105/v1/domains)" "Flask"
row "POST /v1/guests/render" "$(measure http://127.0.0.1:18101/v1/guests/render -s "$work/render.lua")" "$mhd" "libmicrohttpd"
echo
echo "in-process render, one core: $(.build/release/RenderBenchmark Tests/GuestConfigTests/Golden/every-device.json 3 | awk '{print $2}') guests/s (every-device spec), $(.build/release/RenderBenchmark Tests/GuestConfigTests/Golden/minimal.json 3 | awk '{print $2}') guests/s (minimal)"
echo "idle RSS: $((idle_rss_kb / 1024)) MiB; exec to first /readyz 200: ${exec_to_ready_ms} ms (test:///default)"
