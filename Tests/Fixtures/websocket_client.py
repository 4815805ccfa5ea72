"""Drives a WebSocket echo endpoint with an independent, strict implementation (the
`websockets` package) and with hand-made frames on a raw socket, and prints one JSON object
of what it saw. Usage: websocket_client.py PORT PATH"""
import asyncio, base64, hashlib, json, os, socket, struct, sys

import websockets
from websockets.asyncio.client import connect
from test_timing import seconds

PORT, PATH = int(sys.argv[1]), sys.argv[2]
URL = f"ws://127.0.0.1:{PORT}{PATH}"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def strict_client():
    seen = {}
    async with connect(URL, subprotocols=["nope", "echo"], max_size=2**20, open_timeout=seconds(10)) as ws:
        seen["subprotocol"] = ws.subprotocol
        await ws.send("héllo ☃")
        seen["text"] = await ws.recv()
        payload = os.urandom(60000)
        await ws.send(payload)
        seen["binary_ok"] = (await ws.recv()) == payload
        await ws.send(["frag", "mented ", "text"])  # an iterable is sent as fragments
        seen["fragmented"] = await ws.recv()
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, seconds(5))
        seen["pong"] = True
        await ws.close(code=4001, reason="bye")
        seen["close_code"] = ws.close_code
    return seen


def frame(opcode, payload=b"", fin=True, masked=True, rsv=0, length=None):
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def raw_open(headers=None):
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=seconds(10))
    key = base64.b64encode(os.urandom(16)).decode()
    fields = {"Host": f"127.0.0.1:{PORT}", "Upgrade": "websocket", "Connection": "Upgrade",
              "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    fields.update(headers or {})
    request = f"GET {PATH} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None) + "\r\n"
    sock.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    response = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return sock, key, status, response, rest


def read_close(sock, rest):
    """The server's frames until its close frame: (close code, frames before it)."""
    data, others = rest, []
    while True:
        while len(data) < 2 or len(data) < 2 + (data[1] & 0x7F if data[1] & 0x7F < 126 else 0):
            chunk = sock.recv(65536)
            if not chunk:
                return None, others
            data += chunk
        opcode, n = data[0] & 0x0F, data[1] & 0x7F
        offset = 2
        if n == 126:
            while len(data) < 4: data += sock.recv(65536)
            n, offset = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            while len(data) < 10: data += sock.recv(65536)
            n, offset = struct.unpack("!Q", data[2:10])[0], 10
        while len(data) < offset + n:
            chunk = sock.recv(65536)
            if not chunk:
                return None, others
            data += chunk
        payload, data = data[offset:offset + n], data[offset + n:]
        if opcode == 8:
            return (struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005), others
        others.append(opcode)


def malformed(frames):
    sock, _, status, _, rest = raw_open()
    assert status == 101, status
    try:
        for f in frames:
            sock.sendall(f)
    except OSError:
        pass
    code, _ = read_close(sock, rest)
    sock.close()
    return code


def raw_cases():
    seen = {}
    sock, key, status, headers, rest = raw_open()
    seen["handshake_status"] = status
    expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    seen["accept_matches_hashlib"] = headers.get("sec-websocket-accept") == expected
    sock.close()
    big = 64 * 1024 + 1
    seen["codes"] = {
        "unmasked": malformed([frame(2, b"abc", masked=False)]),
        "bad_opcode": malformed([frame(3, b"abc")]),
        "reserved_bit": malformed([frame(2, b"abc", rsv=0x40)]),
        "oversized_frame": malformed([frame(2, b"x" * big)]),
        "oversized_fragments": malformed([frame(2, b"x" * 40000, fin=False), frame(0, b"x" * 40000)]),
        "invalid_utf8": malformed([frame(1, b"\xff\xfe ok")]),
        "invalid_utf8_across_fragments": malformed([frame(1, b"\xe2\x98", fin=False), frame(0, b"\x28")]),
        "close_mid_fragmented": malformed([frame(1, b"half a", fin=False), frame(8, struct.pack("!H", 1000))]),
        "new_message_mid_fragmented": malformed([frame(1, b"half a", fin=False), frame(1, b"other")]),
        "continuation_without_start": malformed([frame(0, b"orphan")]),
        "fragmented_ping": malformed([frame(9, b"p", fin=False)]),
        "long_ping": malformed([frame(9, b"p" * 126)]),
        "close_code_1005": malformed([frame(8, struct.pack("!H", 1005))]),
        "close_one_byte": malformed([frame(8, b"\x03")]),
        "close_reason_not_utf8": malformed([frame(8, struct.pack("!H", 1000) + b"\xc3")]),
        "close_empty": malformed([frame(8, b"")]),
    }
    refused = {}
    for name, extra in {"version_8": {"Sec-WebSocket-Version": "8"},
                        "no_key": {"Sec-WebSocket-Key": None},
                        "short_key": {"Sec-WebSocket-Key": base64.b64encode(b"short").decode()},
                        "no_upgrade": {"Upgrade": None},
                        # Cross-site WebSocket hijacking: a page elsewhere cannot open the socket.
                        "foreign_origin": {"Origin": "http://evil.example"}}.items():
        sock, _, status, headers, _ = raw_open(extra)
        refused[name] = {"status": status, "version": headers.get("sec-websocket-version"),
                         "type": headers.get("content-type")}
        sock.close()
    seen["refused"] = refused
    sock, _, seen["own_origin_status"], _, _ = raw_open({"Origin": f"http://127.0.0.1:{PORT}"})
    sock.close()
    return seen


result = asyncio.run(strict_client())
result.update(raw_cases())
print(json.dumps(result))
