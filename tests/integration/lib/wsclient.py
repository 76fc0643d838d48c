"""A small RFC 6455 WebSocket client over a raw socket, for the integration
tests (Python standard library only).

    from wsclient import WSClient
    ws = WSClient(port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid))
    assert ws.status == 101
    op, payload = ws.recv_message(timeout=3)
    ws.close(1000, "bye")

Everything the tests need to misbehave on purpose is here too: frames built by
hand (unmasked, RSV bits, wrong opcodes, fragmented control frames), raw bytes,
and a switch that stops answering the server's pings.

Every read is bounded by a timeout; recv_* return None when it runs out.
"""
import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class Frame:
    __slots__ = ("opcode", "fin", "rsv", "masked", "payload")

    def __init__(self, opcode, fin, rsv, masked, payload):
        self.opcode = opcode
        self.fin = fin
        self.rsv = rsv
        self.masked = masked
        self.payload = payload

    @property
    def text(self):
        return self.payload.decode("utf-8", errors="replace")

    def close_code(self):
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    def close_reason(self):
        return self.payload[2:].decode("utf-8", errors="replace") if self.opcode == OP_CLOSE else None

    def __repr__(self):
        return "Frame(op=%d fin=%s len=%d %r)" % (self.opcode, self.fin, len(self.payload),
                                                  self.payload[:60])


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def build_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, mask_key=None, length=None):
    """One frame as bytes. length overrides the encoded payload length (for
    lying headers); rsv is the 3-bit RSV field."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + mask_bytes(payload, key)


def mask_bytes(payload, key):
    if not payload:
        return b""
    # XOR a whole int at a time: fast enough for megabyte payloads
    k = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload), "big")


class WSClient:
    """Connects and performs the opening handshake at construction.

    status / headers / body: the HTTP answer to the upgrade (body only when
    the server refused it). accept_ok: Sec-WebSocket-Accept matched the key.
    auto_pong: answer server pings inside recv_message (recv_frame never
    answers). rcvbuf: SO_RCVBUF set before connect (for slow readers).
    source: the local address to connect from.
    """

    def __init__(self, port, path, headers=None, timeout=5, auto_pong=True, host="127.0.0.1",
                 rcvbuf=None, key=None, version="13", omit=(), connect=True, source=None):
        self.port = port
        self.path = path
        self.auto_pong = auto_pong
        self.timeout = timeout
        self.buf = b""
        self.closed_by_peer = False   # EOF seen
        self.close_frame = None       # the close frame the server sent
        self.close_sent = False
        self.pings = []               # payloads of pings received
        self.pongs = []               # payloads of pongs received
        self.status = None
        self.headers = {}
        self.body = b""
        self.key = key or new_key()
        self.accept_ok = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:  # a client address of its own (127.0.0.2 ...)
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if connect:
            self.handshake(headers, version, omit)

    # ---- handshake ----
    def handshake(self, headers=None, version="13", omit=()):
        h = {
            "Host": "127.0.0.1:%d" % self.port,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": self.key,
            "Sec-WebSocket-Version": version,
        }
        h.update(headers or {})
        for name in omit:
            h.pop(name, None)
        req = "GET %s HTTP/1.1\r\n" % self.path
        req += "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None)
        self.sock.sendall(req.encode() + b"\r\n")
        deadline = time.time() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            chunk = self._recv_some(deadline)
            if chunk is None:
                raise TimeoutError("no handshake answer: %r" % self.buf[:200])
            if not chunk:
                raise ConnectionError("closed before handshake answer: %r" % self.buf[:200])
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            self.accept_ok = self.headers.get("sec-websocket-accept") == accept_for(self.key)
        else:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                chunk = self._recv_some(deadline)
                if not chunk:
                    break
                self.buf += chunk
            self.body, self.buf = self.buf[:n], self.buf[n:]
        return self.status

    # ---- sending ----
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0):
        self.sock.sendall(build_frame(opcode, payload, fin=fin, mask=mask, rsv=rsv))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_fragments(self, opcode, parts, between=None):
        """One message in len(parts) frames: opcode, then continuations.
        between(i) is called after frame i (e.g. to interleave a ping)."""
        for i, part in enumerate(parts):
            self.send_frame(opcode if i == 0 else OP_CONT, part, fin=(i == len(parts) - 1))
            if between:
                between(i)

    def ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def pong(self, payload=b""):
        self.send_frame(OP_PONG, payload)

    def close(self, code=1000, reason=""):
        """Sends a close frame (code None: empty payload). Does not wait."""
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
        try:
            self.send_frame(OP_CLOSE, payload)
        except OSError:
            pass
        self.close_sent = True

    def shutdown(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- receiving ----
    def _recv_some(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return None
        try:
            return self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            return b""
        except socket.timeout:
            return None

    def _parse_frame(self):
        """A complete frame from self.buf, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack("!H", b[2:4])[0]
            off = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack("!Q", b[2:10])[0]
            off = 10
        masked = bool(b1 & 0x80)
        key = None
        if masked:
            if len(b) < off + 4:
                return None
            key = b[off:off + 4]
            off += 4
        if len(b) < off + n:
            return None
        payload = b[off:off + n]
        if masked:
            payload = mask_bytes(payload, key)
        self.buf = b[off + n:]
        return Frame(b0 & 0x0F, bool(b0 & 0x80), (b0 >> 4) & 7, masked, payload)

    def recv_frame(self, timeout=None):
        """The next frame, whatever it is; None on timeout or after EOF
        (closed_by_peer is then True)."""
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        while True:
            f = self._parse_frame()
            if f is not None:
                if f.opcode == OP_CLOSE and self.close_frame is None:
                    self.close_frame = f
                return f
            if self.closed_by_peer:
                return None
            chunk = self._recv_some(deadline)
            if chunk is None:
                return None
            if not chunk:
                self.closed_by_peer = True
                continue
            self.buf += chunk

    def recv_message(self, timeout=None):
        """The next data message as (opcode, payload), fragments joined.
        Pings are recorded (and answered when auto_pong), pongs recorded.
        A close frame returns (OP_CLOSE, payload) and, unless we already
        sent one, is echoed. None on timeout or EOF."""
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        parts, first_op = [], None
        while True:
            f = self.recv_frame(max(0.0, deadline - time.time()))
            if f is None:
                return None
            if f.opcode == OP_PING:
                self.pings.append(f.payload)
                if self.auto_pong:
                    try:
                        self.pong(f.payload)
                    except OSError:
                        pass
                continue
            if f.opcode == OP_PONG:
                self.pongs.append(f.payload)
                continue
            if f.opcode == OP_CLOSE:
                if not self.close_sent:
                    code = f.close_code()
                    try:
                        self.close(code if code is not None else None)
                    except OSError:
                        pass
                return OP_CLOSE, f.payload
            if first_op is None:
                first_op = f.opcode
            parts.append(f.payload)
            if f.fin:
                return first_op, b"".join(parts)

    def recv_data(self, timeout=None):
        """Payload of the next text/binary message, None on timeout, close, EOF."""
        m = self.recv_message(timeout)
        if m is None or m[0] == OP_CLOSE:
            return None
        return m[1]

    def wait_close(self, timeout=None):
        """Reads (discarding data) until the server's close frame or EOF.
        Returns (code, reason): (None, None) on EOF without a close frame,
        raises TimeoutError when neither came."""
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        while True:
            if self.close_frame is not None:
                return self.close_frame.close_code(), self.close_frame.close_reason()
            if self.closed_by_peer:
                return None, None
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no close from the server")
            self.recv_message(left)

    def wait_eof(self, timeout=None):
        """True when the server closed the TCP connection within timeout."""
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        while not self.closed_by_peer:
            left = deadline - time.time()
            if left <= 0:
                return False
            f = self.recv_frame(left)
            if f is None and not self.closed_by_peer:
                return False
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False


class TLSWSClient(WSClient):
    """wsclient.WSClient over TLS: connect, TLS handshake, then the upgrade.
    _recv_some also drains what OpenSSL already holds (select() cannot see it)."""

    def __init__(self, port, path, ctx, headers=None, timeout=5, **kw):
        super().__init__(port, path, timeout=timeout, connect=False, **kw)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.handshake(headers)

    def _recv_some(self, deadline):
        try:
            if self.sock.pending():
                return self.sock.recv(1 << 20)
        except ssl.SSLError:
            return b""
        try:
            return super()._recv_some(deadline)
        except ssl.SSLError:
            return b""
