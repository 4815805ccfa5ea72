#!/usr/bin/env python3
"""VNC relay, three ways against the same guest's display, taking turns: straight to QEMU's VNC
port (the floor), through websockify (the proxy noVNC, Kimchi and WebVirtCompute use) and
through the service's WebSocket (a minimal client, below; no compression, as noVNC).

Each way completes the RFB 3.8 handshake (security type None), asks for Raw encoding only and
then sends full (non-incremental) FramebufferUpdateRequests one after another, reading each
whole update before the next request. Latency is request to the update's last byte; throughput
is the updates' bytes over the time they took. Prints a markdown row per way.

  bench_vnc.py VNC_PORT WEBSOCKIFY_PORT SERVICE_PORT SERVICE_PATH ROUNDS RUNS"""
import base64, hashlib, os, socket, statistics, struct, sys, time

VNC_PORT, WEBSOCKIFY_PORT, SERVICE_PORT, SERVICE_PATH = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ROUNDS, RUNS = int(sys.argv[5]), int(sys.argv[6])
WARMUP = 20


class Stream:
    """A socket's bytes: `read` for the few bytes a parser needs, `skip` for pixel data, which
    is received into one reused buffer and never copied."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()
        self.scratch = memoryview(bytearray(1 << 20))

    def fill(self):
        count = self.sock.recv_into(self.scratch)
        if count == 0:
            raise SystemExit("the connection closed")
        self.buffer += self.scratch[:count]

    def read(self, count):
        while len(self.buffer) < count:
            self.fill()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def skip(self, count):
        taken = min(count, len(self.buffer))
        del self.buffer[:taken]
        count -= taken
        while count:
            received = self.sock.recv_into(self.scratch, min(count, len(self.scratch)))
            if received == 0:
                raise SystemExit("the connection closed")
            count -= received


def connection():
    sock = socket.create_connection(("127.0.0.1", VNC_PORT), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Direct(Stream):
    def __init__(self):
        super().__init__(connection())

    def write(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class WebSocketWay:
    """RFB over a WebSocket's binary messages, which may split or join RFB messages freely.
    A minimal client (RFC 6455: the handshake checked, frames read into the reused buffer,
    client frames masked): the `websockets` library, which the tests use for its strictness,
    costs the client about 2 s of CPU per 100 updates of 8 MiB in Python and became the
    bottleneck of every WebSocket way alike."""

    def __init__(self, host, port, path):
        sock = socket.create_connection((host, port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = Stream(sock)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Protocol: binary\r\n\r\n").encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.stream.read(1)
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            raise SystemExit(f"no WebSocket: {head!r}")
        self.left = 0  # payload bytes left in the current frame

    def next_frame(self):
        while True:
            first, second = self.stream.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.stream.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.stream.read(8))[0]
            if first & 0x0F in (0, 1, 2):
                self.left = length
                return
            if first & 0x0F == 8:
                raise SystemExit("the WebSocket closed")
            self.stream.skip(length)  # ping or pong

    def read(self, count):
        data = b""
        while len(data) < count:
            if self.left == 0:
                self.next_frame()
            taken = min(self.left, count - len(data))
            data += self.stream.read(taken)
            self.left -= taken
        return data

    def skip(self, count):
        while count:
            if self.left == 0:
                self.next_frame()
            taken = min(self.left, count)
            self.stream.skip(taken)
            self.left -= taken
            count -= taken

    def write(self, data):
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))
        self.stream.sock.sendall(bytes([0x82, 0x80 | len(data)]) + mask + masked)

    def close(self):
        self.stream.sock.close()


def handshake(way):
    version = way.read(12)
    if not version.startswith(b"RFB 003.00"):
        raise SystemExit(f"not RFB: {version!r}")
    way.write(b"RFB 003.008\n")
    count = way.read(1)[0]
    if 1 not in way.read(count):
        raise SystemExit("the display offers no security type None")
    way.write(b"\x01")
    if struct.unpack(">I", way.read(4))[0] != 0:
        raise SystemExit("security handshake failed")
    way.write(b"\x01")  # ClientInit: shared
    width, height = struct.unpack(">HH", way.read(4))
    pixel_format = way.read(16)
    way.read(struct.unpack(">I", way.read(4))[0])
    way.write(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw only
    return width, height, pixel_format[0] // 8


def update(way, bytes_per_pixel):
    """Reads one FramebufferUpdate; returns its size in bytes."""
    while True:
        kind = way.read(1)[0]
        if kind == 0:
            break
        if kind == 2:  # Bell
            continue
        if kind == 3:  # ServerCutText
            way.read(3)
            way.read(struct.unpack(">I", way.read(4))[0])
            continue
        raise SystemExit(f"unexpected server message {kind}")
    _, rectangles = struct.unpack(">BH", way.read(3))
    size = 4
    for _ in range(rectangles):
        _, _, width, height, encoding = struct.unpack(">HHHHi", way.read(12))
        if encoding != 0:
            raise SystemExit(f"unexpected encoding {encoding}")
        way.skip(width * height * bytes_per_pixel)
        size += 12 + width * height * bytes_per_pixel
    return size


def measure(make):
    way = make()
    width, height, bytes_per_pixel = handshake(way)
    request = struct.pack(">BBHHHH", 3, 0, 0, 0, width, height)
    # QEMU's refresh interval grows while nobody asks and shrinks back to 30 ms under requests:
    # the first updates settle it, outside the timing.
    for _ in range(WARMUP):
        way.write(request)
        update(way, bytes_per_pixel)
    latencies, total = [], 0
    started = time.monotonic()
    for _ in range(ROUNDS):
        sent = time.monotonic()
        way.write(request)
        total += update(way, bytes_per_pixel)
        latencies.append((time.monotonic() - sent) * 1000)
    elapsed = time.monotonic() - started
    way.close()
    return latencies, total / elapsed / 2**20, (width, height)


ways = [("direct to QEMU's VNC port", Direct),
        ("websockify", lambda: WebSocketWay("127.0.0.1", WEBSOCKIFY_PORT, "/")),
        ("virthostd", lambda: WebSocketWay("127.0.0.1", SERVICE_PORT, SERVICE_PATH))]
results = {name: ([], []) for name, _ in ways}
geometry = None
for _ in range(RUNS):
    for name, make in ways:
        latencies, throughput, geometry = measure(make)
        results[name][0].extend(latencies)
        results[name][1].append(throughput)

summary = {}
for name, (latencies, throughputs) in results.items():
    latencies.sort()
    summary[name] = (statistics.median(latencies), latencies[int(len(latencies) * 0.9)], statistics.median(throughputs))
direct_p50 = summary["direct to QEMU's VNC port"][0]
websockify_mib = summary["websockify"][2]
frame = f"{geometry[0]}×{geometry[1]}"
for name, (p50, p90, mib) in summary.items():
    print(f"| VNC full update {frame}, Raw, {name} | {ROUNDS * RUNS} | {p50:.2f} | {p90:.2f} | {mib:.0f} "
          f"| {p50 / direct_p50:.2f}× | {mib / websockify_mib:.2f}× |")
