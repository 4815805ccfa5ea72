"""Reads a guest's serial console through the service's WebSocket with Python's `websockets`
client and prints one JSON object of what it saw. The guest NAME is defined and shut off; it
is started paused, the console opened, then resumed so SeaBIOS's banner is not missed.
Usage: console_client.py PORT NAME"""
import asyncio, json, sys, time, urllib.error, urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from test_timing import seconds

PORT, NAME = int(sys.argv[1]), sys.argv[2]
BASE = f"127.0.0.1:{PORT}"
CONSOLE = f"ws://{BASE}/v1/domains/{NAME}/console/serial"


def post(path):
    request = urllib.request.Request(f"http://{BASE}{path}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=seconds(60)) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def get_status(path):
    try:
        with urllib.request.urlopen(f"http://{BASE}{path}", timeout=seconds(60)) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def read_until(ws, needle, seconds):
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        seen += message if isinstance(message, bytes) else message.encode()
    return seen


async def closed_code(ws, seconds):
    try:
        await asyncio.wait_for(ws.wait_closed(), seconds)
    except asyncio.TimeoutError:
        return None, None
    return ws.close_code, ws.close_reason


async def refusal(url):
    try:
        async with connect(url, open_timeout=seconds(10)):
            return 101, None
    except InvalidStatus as error:
        return error.response.status_code, json.loads(error.response.body or b"{}").get("type")


async def main():
    seen = {}
    seen["shut_off_status"], seen["shut_off_type"] = await refusal(CONSOLE)
    seen["start_paused"] = post(f"/v1/domains/{NAME}/start?paused=true")
    seen["no_device_status"], seen["no_device_type"] = await refusal(CONSOLE + "?device=nosuch0")
    async with connect(CONSOLE, open_timeout=seconds(10)) as first:
        seen["resume"] = post(f"/v1/domains/{NAME}/resume")
        output = await read_until(first, b"SeaBIOS", 30)
        seen["seabios"] = b"SeaBIOS" in output
        seen["first_output"] = output.decode(errors="replace")[-400:]
        # Keys reach the guest: ESC while SeaBIOS offers its menu opens it.
        if b"Press ESC for boot menu" not in output:
            output += await read_until(first, b"Press ESC for boot menu", 15)
        await first.send(b"\x1b")
        menu = await read_until(first, b"Select boot device", 15)
        seen["boot_menu"] = b"Select boot device" in menu
        seen["menu_output"] = (output + menu).decode(errors="replace")[-600:]
        seen["second_status"], seen["second_type"] = await refusal(CONSOLE)
        # The Host answers while a console is open: the session has a thread of its own.
        started = time.monotonic()
        seen["details_status"] = get_status(f"/v1/domains/{NAME}")
        seen["details_seconds"] = time.monotonic() - started
        async with connect(CONSOLE + "?force=true", open_timeout=seconds(10)) as taker:
            seen["first_close"] = (await closed_code(first, 15))[0]
            # Keys reach the guest: they go out without an error while the guest runs.
            await taker.send(b"\x1b")
            await taker.send("text input")
    # The clients left: their sessions gave the console back, so it opens without force.
    await asyncio.sleep(0.5)
    seen["reopen_status"] = 101
    try:
        again = await connect(CONSOLE, open_timeout=seconds(10))
    except InvalidStatus as error:
        seen["reopen_status"] = error.response.status_code
        print(json.dumps(seen))
        return
    async with again:
        seen["destroy"] = post(f"/v1/domains/{NAME}/destroy")
        code, reason = await closed_code(again, 15)
        seen["destroyed_close"] = code
        seen["destroyed_reason"] = reason
    print(json.dumps(seen))


asyncio.run(main())
