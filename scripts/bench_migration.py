"""One guest live-migrated to the second host and back, by the service and by virsh in turns.

    python3 bench_migration.py PORT NAME DESTINATION BACK_URI BACK_MIGRATE_URI ROUNDS

Each round times the move to DESTINATION two ways, one after the other: through the service
(POST /v1/domains/NAME/migrate, then GET /v1/operations/{id} every 5 ms until it has ended) and
with `virsh migrate --live --p2p --persistent --undefinesource --abort-on-error`, the same flags
the service passes. After each move the guest comes back with virsh (untimed). The downtime is
the destination's own record of the incoming migration (`virsh domjobinfo --completed`), read
the same way for both. Prints the medians, one Markdown row per way, and the ratios.
"""

import json
import re
import statistics
import subprocess
import sys
import time
import urllib.request

port, name, destination, back_uri, back_migrate_uri, rounds = sys.argv[1:7]
rounds = int(rounds)
base = f"http://127.0.0.1:{port}"


def request(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data, method=method, headers=headers)) as answer:
        return json.load(answer)


def downtime_ms():
    info = subprocess.run(["virsh", "-c", destination, "domjobinfo", "--completed", name],
                          check=True, capture_output=True, text=True).stdout
    found = re.search(r"Total downtime:\s+(\d+)\s+ms", info)
    return int(found.group(1)) if found else None


def back():
    subprocess.run(["virsh", "-c", destination, "migrate", "--live", "--p2p", "--persistent", "--undefinesource",
                    name, back_uri, "--migrateuri", back_migrate_uri], check=True, capture_output=True)


def by_service():
    start = time.monotonic()
    operation = request("POST", f"/v1/domains/{name}/migrate", {"destination": destination})
    while operation["state"] == "running":
        time.sleep(0.005)
        operation = request("GET", f"/v1/operations/{operation['id']}")
    wall = time.monotonic() - start
    if operation["state"] != "succeeded":
        raise SystemExit(f"the service's migration ended {operation['state']}: {operation['error']}")
    return wall


def by_virsh():
    start = time.monotonic()
    subprocess.run(["virsh", "-c", "qemu:///system", "migrate", "--live", "--p2p", "--persistent", "--undefinesource",
                    "--abort-on-error", name, destination], check=True, capture_output=True)
    return time.monotonic() - start


figures = {"virsh migrate --live --p2p": ([], []), "virthostd": ([], [])}
for _ in range(rounds):
    for way, move in (("virsh migrate --live --p2p", by_virsh), ("virthostd", by_service)):
        wall = move()
        figures[way][0].append(wall * 1000)
        figures[way][1].append(downtime_ms())
        back()

peer_wall = statistics.median(figures["virsh migrate --live --p2p"][0])
peer_down = statistics.median([d for d in figures["virsh migrate --live --p2p"][1] if d is not None])
for way, (walls, downs) in figures.items():
    wall = statistics.median(walls)
    down = statistics.median([d for d in downs if d is not None])
    print(f"| {way} | {rounds} | {wall:.0f} | {max(walls):.0f} | {down:.0f} | {wall / peer_wall:.2f}× | {down / peer_down:.2f}× |")
