#!/usr/bin/env python3
"""Serial-console round trip, side by side: the service's WebSocket (`websockets` client) and
libvirt's own client (`virsh console`, on a pseudo-terminal), on the same booted guest, taking
turns. A round is `echo <marker>-$((6*7))` typed and its `<marker>-42` line read back, so only
the guest's shell can answer it. Prints one line per client with the median and p90 in ms.

  bench_serial.py PORT NAME URI ROUNDS"""
import asyncio, os, pty, re, select, statistics, subprocess, sys, time

from websockets.asyncio.client import connect

PORT, NAME, URI, ROUNDS = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
CONSOLE = f"ws://127.0.0.1:{PORT}/v1/domains/{NAME}/console/serial"


def answer(marker):
    return re.compile(rb"\n" + marker.encode() + rb"-42\r?\n")


async def service_rounds(prefix, rounds):
    times = []
    async with connect(CONSOLE, open_timeout=30, max_size=None) as ws:
        async def read_until(pattern, limit):
            seen, deadline = b"", time.monotonic() + limit
            while time.monotonic() < deadline:
                try:
                    message = await asyncio.wait_for(ws.recv(), max(0.05, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                seen += message if isinstance(message, bytes) else message.encode()
                if pattern.search(seen):
                    return True
            return False
        await ws.send(b"\r")
        await read_until(re.compile(rb"[#$] $"), 10)
        for i in range(rounds):
            marker = f"{prefix}{i}"
            started = time.monotonic()
            await ws.send(f"echo {marker}-$((6*7))\r".encode())
            if not await read_until(answer(marker), 15):
                raise SystemExit(f"service: no answer to {marker}")
            times.append((time.monotonic() - started) * 1000)
    return times


def virsh_rounds(prefix, rounds):
    times = []
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("virsh", ["virsh", "-c", URI, "console", NAME, "--force"])

    def read_until(pattern, limit):
        seen, deadline = b"", time.monotonic() + limit
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.01, deadline - time.monotonic()))
            if ready:
                seen += os.read(fd, 65536)
                if pattern.search(seen):
                    return True
        return False
    try:
        read_until(re.compile(rb"Escape character"), 10)
        os.write(fd, b"\r")
        read_until(re.compile(rb"[#$] $"), 10)
        for i in range(rounds):
            marker = f"{prefix}{i}"
            started = time.monotonic()
            os.write(fd, f"echo {marker}-$((6*7))\r".encode())
            if not read_until(answer(marker), 15):
                raise SystemExit(f"virsh: no answer to {marker}")
            times.append((time.monotonic() - started) * 1000)
    finally:
        os.write(fd, b"\x1d")  # virsh console's escape: leave
        time.sleep(0.2)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    return times


ours, peer = [], []
for turn in range(3):  # turns, so neither client always runs on a warmer or colder guest
    ours += asyncio.run(service_rounds(f"s{turn}x", ROUNDS))
    peer += virsh_rounds(f"v{turn}x", ROUNDS)


def figures(times):
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.9))]


(o50, o90), (p50, p90) = figures(ours), figures(peer)
print(f"| serial console round trip, service WebSocket | {len(ours)} | {o50:.1f} | {o90:.1f} | {o50 / p50:.2f} × virsh console (median) |")
print(f"| serial console round trip, virsh console (peer) | {len(peer)} | {p50:.1f} | {p90:.1f} | |")
