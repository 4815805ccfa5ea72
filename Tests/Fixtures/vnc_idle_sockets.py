"""Opens COUNT VNC WebSockets through the service, spread evenly over the URLs (QEMU serves at
most 32 VNC clients a display, its `connections` default), each through the RFB handshake to
ServerInit (shared), then leaves them idle and counts the service's threads (/proc/PID/task)
before and while they are open. Handshakes run 16 at a time. Then, with those still open, opens
each guest's serial console too (one WebSocket a URL) and names the service's threads then
(/proc/PID/task/*/comm: name -> count). Prints one JSON object.
Usage: vnc_idle_sockets.py COUNT PID URL..."""
import asyncio, json, os, sys

from websockets.asyncio.client import connect
from test_timing import seconds

COUNT, PID, URLS = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]


def threads():
    return len(os.listdir(f"/proc/{PID}/task"))


def thread_names():
    names = {}
    for task in os.listdir(f"/proc/{PID}/task"):
        try:
            with open(f"/proc/{PID}/task/{task}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue  # the thread ended meanwhile
        names[name] = names.get(name, 0) + 1
    return names


async def exact(ws, buffer, count):
    while len(buffer) < count:
        buffer += await asyncio.wait_for(ws.recv(), seconds(60))
    return buffer[:count], buffer[count:]


async def handshake(ws):
    buffer = b""
    _, buffer = await exact(ws, buffer, 12)
    await ws.send(b"RFB 003.008\n")
    count, buffer = await exact(ws, buffer, 1)
    _, buffer = await exact(ws, buffer, count[0])
    await ws.send(bytes([1]))
    _, buffer = await exact(ws, buffer, 4)
    await ws.send(bytes([1]))
    head, buffer = await exact(ws, buffer, 24)
    name_length = int.from_bytes(head[20:24], "big")
    await exact(ws, buffer, name_length)


async def main():
    seen = {"threads_before": threads()}
    limit = asyncio.Semaphore(16)
    sockets = []

    async def open_one(url):
        async with limit:
            ws = await connect(url, subprotocols=["binary"], ping_interval=None, max_size=None, open_timeout=seconds(60))
            await handshake(ws)
            sockets.append(ws)

    results = await asyncio.gather(*(open_one(URLS[index % len(URLS)]) for index in range(COUNT)),
                                   return_exceptions=True)
    seen["errors"] = [repr(result) for result in results if isinstance(result, BaseException)][:5]
    await asyncio.sleep(2)
    seen["threads_open"] = threads()
    seen["open"] = sum(1 for ws in sockets if ws.close_code is None)
    serials = []
    for url in URLS:
        try:
            serials.append(await connect(url.replace("/console/vnc", "/console/serial"), ping_interval=None,
                                         open_timeout=seconds(60)))
        except Exception as error:  # reported, and counted as not open
            seen["errors"].append(repr(error))
    await asyncio.sleep(1)
    seen["serial_open"] = sum(1 for ws in serials if ws.close_code is None)
    seen["thread_names"] = thread_names()
    await asyncio.gather(*(ws.close() for ws in sockets + serials), return_exceptions=True)
    print(json.dumps(seen))


asyncio.run(main())
