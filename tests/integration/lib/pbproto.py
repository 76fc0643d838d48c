"""A small proto3 encoder/decoder for the Bitrix Push & Pull messages
(docs/protocol.md §4.3), standard library only.

Encoding builds the request side (RequestBatch and its parts) from plain
arguments; decoding turns a ResponseBatch into lists and dicts:

    batch = request_batch(request_incoming([
        incoming_message([receiver(bytes.fromhex(cid), True)], '{"a":1}', expiry=60)]))
    responses = decode_response_batch(body)
    # [{"outgoingMessages": [{"id": b"...", "body": "...", "expiry": 60,
    #                          "created": 1700000000, "sender": {"type": 2, "id": b""}}]}]
"""
import struct

# ---- wire level ----
WT_VARINT, WT_I64, WT_LEN, WT_I32 = 0, 1, 2, 5


def varint(n):
    if n < 0:
        n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(num, wt):
    return varint(num << 3 | wt)


def f_varint(num, v):
    return key(num, WT_VARINT) + varint(int(v))


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return key(num, WT_LEN) + varint(len(b)) + b


def f_fixed32(num, v):
    return key(num, WT_I32) + struct.pack("<I", v)


def read_varint(buf, pos):
    shift = 0
    n = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf):
    """Yields (field number, wire type, value) of one message; LEN values are
    bytes, VARINT/I32/I64 ints."""
    pos = 0
    buf = bytes(buf)
    while pos < len(buf):
        k, pos = read_varint(buf, pos)
        num, wt = k >> 3, k & 7
        if wt == WT_VARINT:
            v, pos = read_varint(buf, pos)
        elif wt == WT_LEN:
            n, pos = read_varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("length past the end")
            v = buf[pos:pos + n]
            pos += n
        elif wt == WT_I32:
            if pos + 4 > len(buf):
                raise ValueError("truncated fixed32")
            v = struct.unpack("<I", buf[pos:pos + 4])[0]
            pos += 4
        elif wt == WT_I64:
            if pos + 8 > len(buf):
                raise ValueError("truncated fixed64")
            v = struct.unpack("<Q", buf[pos:pos + 8])[0]
            pos += 8
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


# ---- requests (encode) ----
SENDER_UNKNOWN, SENDER_CLIENT, SENDER_BACKEND = 0, 1, 2


def receiver(id_bytes, is_private=False, signature=b""):
    """Receiver / ChannelId {bytes id = 1; bool isPrivate = 2; bytes signature = 3}."""
    out = f_bytes(1, id_bytes)
    if is_private:
        out += f_varint(2, 1)
    if signature:
        out += f_bytes(3, signature)
    return out


channel_id = receiver


def sender(type_, id_bytes=b""):
    out = f_varint(1, type_) if type_ else b""
    if id_bytes:
        out += f_bytes(2, id_bytes)
    return out


def incoming_message(receivers, body, expiry=0, type_="", sender_bytes=None):
    """IncomingMessage {receivers = 1; sender = 2; body = 3; expiry = 4; type = 5}."""
    out = b"".join(f_bytes(1, r) for r in receivers)
    if sender_bytes is not None:
        out += f_bytes(2, sender_bytes)
    if body:
        out += f_bytes(3, body)
    if expiry:
        out += f_varint(4, expiry)
    if type_:
        out += f_bytes(5, type_)
    return out


def request_incoming(messages):
    """Request{incomingMessages = 1: IncomingMessagesRequest{messages = 1}}."""
    return f_bytes(1, b"".join(f_bytes(1, m) for m in messages))


def request_channel_stats(channels):
    """Request{channelStats = 2: ChannelStatsRequest{channels = 1}}."""
    return f_bytes(2, b"".join(f_bytes(1, c) for c in channels))


def request_server_stats():
    """Request{serverStats = 3: ServerStatsRequest{}}."""
    return f_bytes(3, b"")


def request_batch(*requests):
    """RequestBatch{requests = 1}; takes Request encodings (or one list of them)."""
    if len(requests) == 1 and isinstance(requests[0], list):
        requests = requests[0]
    return b"".join(f_bytes(1, r) for r in requests)


# ---- responses (decode) ----
def decode_sender(buf):
    s = {"type": 0, "id": b""}
    for num, wt, v in fields(buf):
        if num == 1 and wt == WT_VARINT:
            s["type"] = v
        elif num == 2 and wt == WT_LEN:
            s["id"] = bytes(v)
    return s


def decode_outgoing_message(buf):
    m = {"id": b"", "body": "", "expiry": 0, "created": 0, "sender": None}
    for num, wt, v in fields(buf):
        if num == 1 and wt == WT_LEN:
            m["id"] = bytes(v)
        elif num == 2 and wt == WT_LEN:
            m["body"] = bytes(v).decode()
        elif num == 3 and wt == WT_VARINT:
            m["expiry"] = v
        elif num == 4 and wt == WT_I32:
            m["created"] = v
        elif num == 5 and wt == WT_LEN:
            m["sender"] = decode_sender(v)
        else:
            raise ValueError("OutgoingMessage: unexpected field %d wire type %d" % (num, wt))
    return m


def decode_channel_stats(buf):
    c = {"id": b"", "isPrivate": False, "isOnline": False}
    for num, wt, v in fields(buf):
        if num == 1 and wt == WT_LEN:
            c["id"] = bytes(v)
        elif num == 2 and wt == WT_VARINT:
            c["isPrivate"] = bool(v)
        elif num == 3 and wt == WT_VARINT:
            c["isOnline"] = bool(v)
        else:
            raise ValueError("ChannelStats: unexpected field %d wire type %d" % (num, wt))
    return c


def decode_response(buf):
    """One Response as {"outgoingMessages": [...]} / {"channelStats": [...]} /
    {"serverStats": "<json>"} / {"json": "<json>"}."""
    out = {}
    for num, wt, v in fields(buf):
        if wt != WT_LEN:
            raise ValueError("Response: field %d wire type %d" % (num, wt))
        if num == 1:
            out["outgoingMessages"] = [decode_outgoing_message(m) for n, w, m in fields(v)
                                       if n == 1 and w == WT_LEN]
        elif num == 2:
            out["channelStats"] = [decode_channel_stats(c) for n, w, c in fields(v)
                                   if n == 1 and w == WT_LEN]
        elif num == 3:
            js = ""
            for n, w, s in fields(v):
                if n == 1 and w == WT_LEN:
                    js = bytes(s).decode()
            out["serverStats"] = js
        elif num == 4:
            out["json"] = bytes(v).decode()
        else:
            raise ValueError("Response: unexpected field %d" % num)
    return out


def decode_response_batch(buf):
    """ResponseBatch{responses = 1} as a list of decode_response() dicts."""
    out = []
    for num, wt, v in fields(buf):
        if num != 1 or wt != WT_LEN:
            raise ValueError("ResponseBatch: unexpected field %d wire type %d" % (num, wt))
        out.append(decode_response(v))
    return out
