"""Speaks RFB (RFC 6143) to a guest's VNC display through the service's WebSocket with
Python's strict `websockets` client, as noVNC would: subprotocol `binary`, the version, the
security type None, ClientInit, then a full FramebufferUpdateRequest. Prints one JSON object
of what it saw.
Usage: vnc_client.py URL [HEADER=VALUE ...]"""
import asyncio, json, struct, sys

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from test_timing import seconds

URL = sys.argv[1]
HEADERS = [tuple(argument.split("=", 1)) for argument in sys.argv[2:]]


class Reader:
    """Exact reads over WebSocket messages, which may split or join RFB's messages anywhere."""

    def __init__(self, ws):
        self.ws, self.buffer = ws, b""

    async def read(self, count, seconds=30):
        while len(self.buffer) < count:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
            if not isinstance(message, bytes):
                raise ValueError("a text frame from a binary relay")
            self.buffer += message
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


async def main():
    seen = {}
    try:
        ws = await connect(URL, subprotocols=["binary"], additional_headers=HEADERS, max_size=None, open_timeout=seconds(10))
    except InvalidStatus as error:
        body = json.loads(error.response.body or b"{}")
        print(json.dumps({"status": error.response.status_code, "type": body.get("type"), "detail": body.get("detail")}))
        return
    async with ws:
        seen["status"] = 101
        seen["subprotocol"] = ws.subprotocol
        reader = Reader(ws)
        seen["version"] = (await reader.read(12)).decode(errors="replace")
        await ws.send(b"RFB 003.008\n")
        count = (await reader.read(1))[0]
        seen["security_types"] = list(await reader.read(count))
        await ws.send(bytes([1]))
        seen["security_result"] = struct.unpack(">I", await reader.read(4))[0]
        await ws.send(bytes([1]))  # ClientInit, shared
        width, height = struct.unpack(">HH", await reader.read(4))
        pixel_format = await reader.read(16)
        name_length = struct.unpack(">I", await reader.read(4))[0]
        seen["name"] = (await reader.read(name_length)).decode(errors="replace")
        seen["width"], seen["height"], seen["bits_per_pixel"] = width, height, pixel_format[0]
        await ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
        message_type = (await reader.read(1))[0]
        seen["update_type"] = message_type
        if message_type == 0:
            await reader.read(1)
            seen["rectangles"] = struct.unpack(">H", await reader.read(2))[0]
    print(json.dumps(seen))


asyncio.run(main())
