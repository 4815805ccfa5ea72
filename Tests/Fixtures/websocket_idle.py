"""The server's WebSocket idle timeout, seen by Python's strict `websockets` client: a quiet
socket is closed (its code, reason and when), one that keeps talking stays open. Automatic
pings are off, so the client sends nothing it was not told to.
Usage: websocket_idle.py PORT PATH"""
import asyncio, json, sys, time

from websockets.asyncio.client import connect
from test_timing import seconds

PORT, PATH = int(sys.argv[1]), sys.argv[2]
URL = f"ws://127.0.0.1:{PORT}{PATH}"


async def main():
    seen = {}
    async with connect(URL, ping_interval=None, open_timeout=seconds(10)) as quiet:
        started = time.monotonic()
        try:
            await asyncio.wait_for(quiet.wait_closed(), seconds(15))
        except asyncio.TimeoutError:
            pass
        seen["quiet_seconds"] = time.monotonic() - started
        seen["quiet_code"], seen["quiet_reason"] = quiet.close_code, quiet.close_reason
    async with connect(URL, ping_interval=None, open_timeout=seconds(10)) as talking:
        for _ in range(8):
            await talking.send("still here")
            await asyncio.wait_for(talking.recv(), seconds(5))
            await asyncio.sleep(0.3)
        seen["talking_open"] = talking.close_code is None
    print(json.dumps(seen))


asyncio.run(main())
