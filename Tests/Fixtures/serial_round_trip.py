"""Types a command into a booted guest's shell through the service's serial-console WebSocket
(Python's `websockets` client) and reads its answer: `echo $((6*7))` must come back as 42,
which only the guest's shell can compute. Prints one JSON object: the answer and each round
trip's time (keystrokes sent to the answer's line read), in milliseconds.
Usage: serial_round_trip.py PORT NAME [ROUNDS]"""
import asyncio, json, re, sys, time

from websockets.asyncio.client import connect
from test_timing import seconds

PORT, NAME = int(sys.argv[1]), sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
CONSOLE = f"ws://127.0.0.1:{PORT}/v1/domains/{NAME}/console/serial"


async def read_until(ws, pattern, limit):
    """Bytes from the console until `pattern` (a compiled bytes regex) matches them, or None."""
    seen = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        seen += message if isinstance(message, bytes) else message.encode()
        if pattern.search(seen):
            return seen
    return None


async def main():
    seen = {"answers": [], "round_trip_ms": []}
    async with connect(CONSOLE, open_timeout=seconds(10), max_size=None) as ws:
        # A fresh prompt first: the shell may be mid-line from boot messages.
        await ws.send(b"\r")
        await read_until(ws, re.compile(rb"[#$] $"), seconds(10))
        for round in range(ROUNDS):
            # A marker per round, so an answer is never taken from an earlier round's output.
            marker = f"r{round}"
            started = time.monotonic()
            await ws.send(f"echo {marker}-$((6*7))\r".encode())
            output = await read_until(ws, re.compile(rb"\n" + marker.encode() + rb"-(\d+)\r?\n"), seconds(15))
            if output is None:
                seen["answers"].append(None)
                continue
            seen["round_trip_ms"].append((time.monotonic() - started) * 1000)
            seen["answers"].append(re.search(rb"\n" + marker.encode() + rb"-(\d+)\r?\n", output).group(1).decode())
    print(json.dumps(seen))


asyncio.run(main())
