#!/usr/bin/env python3
"""WebSocket subscriptions (docs/protocol.md §3, §4.2-4.4, §7.4, §7.7): the upgrade,
text and protobuf delivery, catch-up, keepalive, the close handshake, RFC 6455
protocol errors, the per-channel connection limit and client publishing."""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, Witness, ok, note, done, new_id, sign, publish_text,  # noqa: E402
                    text_frames, connect, build_request, read_response, http)
from wsclient import (WSClient, accept_for, build_frame, new_key, OP_TEXT, OP_BINARY,  # noqa: E402
                      OP_CLOSE, OP_PING, OP_PONG, OP_CONT)

MAX_FRAME = 4096


# ---- protobuf fields (§4.3): the shared codec of tests/integration/lib/pbproto.py ----
import pbproto  # noqa: E402

_varint = pbproto.varint
_fld = pbproto.f_bytes
_read_varint = pbproto.read_varint


def _fields(buf):
    return [(num, v) for num, _, v in pbproto.fields(buf)]


def pb_client_publish(receivers, body, expiry=0):
    """RequestBatch{requests:[{incomingMessages:{messages:[{receivers, body, expiry}]}}]};
    receivers = [(id bytes, is_private, signature bytes)]."""
    msg = b""
    for rid, priv, sig in receivers:
        r = _fld(1, rid)
        if priv:
            r += _varint(2 << 3) + _varint(1)
        if sig:
            r += _fld(3, sig)
        msg += _fld(1, r)
    msg += _fld(3, body)
    if expiry:
        msg += _varint(4 << 3) + _varint(expiry)
    return _fld(1, _fld(1, _fld(1, msg)))


def pb_outgoing(batch):
    """The OutgoingMessages of a ResponseBatch as dicts."""
    out = []
    for num, resp in _fields(batch):
        assert num == 1
        for rnum, body in _fields(resp):
            if rnum != 1:
                continue
            for mnum, m in _fields(body):
                if mnum != 1:
                    continue
                d = {"sender": None}
                for f, v in _fields(m):
                    if f == 1:
                        d["id"] = bytes(v)
                    elif f == 2:
                        d["body"] = bytes(v).decode()
                    elif f == 3:
                        d["expiry"] = v
                    elif f == 4:
                        d["created"] = v
                    elif f == 5:
                        s = {"type": 0, "id": b""}
                        for sf, sv in _fields(v):
                            if sf == 1:
                                s["type"] = sv
                            elif sf == 2:
                                s["id"] = bytes(sv)
                        d["sender"] = s
                out.append(d)
    return out


# ---- helpers ----
def ws(srv, chan_ref, path="/bitrix/subws/", extra="", **kw):
    return WSClient(srv.sub_port, "%s?CHANNEL_ID=%s%s" % (path, chan_ref, extra), **kw)


def collect_text(c, want, timeout=4):
    """NGINX frames from text messages until `want` arrived or timeout.
    Returns (frames, number of WebSocket messages they came in)."""
    frames, n_msgs = [], 0
    deadline = time.time() + timeout
    while len(frames) < want and time.time() < deadline:
        m = c.recv_message(deadline - time.time())
        if m is None or m[0] == OP_CLOSE:
            break
        if m[0] == OP_TEXT:
            n_msgs += 1
            frames += text_frames(m[1])
    return frames, n_msgs


def collect_pb(c, want, timeout=4):
    msgs = []
    deadline = time.time() + timeout
    while len(msgs) < want and time.time() < deadline:
        m = c.recv_message(deadline - time.time())
        if m is None or m[0] == OP_CLOSE:
            break
        if m[0] == OP_BINARY:
            msgs += pb_outgoing(m[1])
    return msgs


def body(n, **extra):
    d = {"module_id": "test", "command": "n", "params": {"n": n}}
    d.update(extra)
    return json.dumps(d)


def alive(c, timeout=2):
    """True when the connection still answers a ping with a pong."""
    try:
        c.ping(b"alive?")
    except OSError:
        return False
    deadline = time.time() + timeout
    while time.time() < deadline:
        f = c.recv_frame(deadline - time.time())
        if f is None:
            return False
        if f.opcode == OP_PONG and f.payload == b"alive?":
            return True
        if f.opcode == OP_CLOSE:
            return False
    return False


def expect_close(c, code, desc, reason=None, timeout=3):
    try:
        got, why = c.wait_close(timeout)
    except TimeoutError:
        got, why = "timeout", None
    good = got == code and (reason is None or why == reason)
    if not ok(good, desc):
        note("expected close %s %r, got %s %r" % (code, reason, got, why))
    return good


def pipelined_publish(srv, ids, bodies):
    """Publishes all bodies in one TCP write on a keep-alive connection."""
    s = connect(srv.pub_port)
    try:
        data = b"".join(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + "/".join(ids), b,
                                      {"Message-Expiry": "600"}) for b in bodies)
        s.sendall(data)
        statuses = []
        s._pb_rest = b""
        for _ in bodies:
            # read_response keeps leftovers in sock._pb_rest; feed them back
            rest = s._pb_rest
            statuses.append(_read_with_rest(s, rest))
        return statuses
    finally:
        s.close()


def _read_with_rest(s, rest):
    buf = rest
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    n = 0
    for line in lines[1:]:
        k, v = line.split(":", 1)
        if k.strip().lower() == "content-length":
            n = int(v)
    while len(rest) < n:
        rest += s.recv(65536)
    s._pb_rest = rest[n:]
    return status


def run_group(fn, srv):
    """An exception inside a group fails it (one 'not ok') and the file goes on."""
    try:
        fn(srv)
    except Exception as e:  # noqa: BLE001
        import traceback
        note(traceback.format_exc())
        ok(False, "%s ran to its end (%s: %s)" % (fn.__name__, type(e).__name__, e))


def main():
    conf = {"max-connections-per-channel": 2, "max-ws-frame-size": MAX_FRAME,
            "ws-ping-interval": 30, "log-level": "info"}
    with Server(conf) as srv:
        for group in (upgrade_tests, delivery_tests, control_tests, protocol_error_tests,
                      limit_tests, client_publish_tests):
            run_group(group, srv)
        st, _, _ = publish_text(srv, new_id(), "x")
        ok(st == 200, "server still serves publishes after all the WebSocket tests")
    with Server({"ws-ping-interval": 1}) as srv:
        run_group(ping_tests, srv)
    with Server({"max-connections-per-channel": 1}) as srv:
        run_group(limit_one_tests, srv)
    done()


def upgrade_tests(srv):
    cid = new_id()
    c = ws(srv, srv.signed(cid))
    ok(c.status == 101, "upgrade on /bitrix/subws/ answers 101 (got %s)" % c.status)
    ok(c.headers.get("upgrade", "").lower() == "websocket", "101 has Upgrade: websocket")
    ok("upgrade" in c.headers.get("connection", "").lower(), "101 has Connection: Upgrade")
    ok(c.accept_ok, "Sec-WebSocket-Accept matches the key (%s)" % c.headers.get("sec-websocket-accept"))
    ok(c.status_line.startswith("HTTP/1.1 101"), "status line is HTTP/1.1 101: %r" % c.status_line)
    ok(alive(c), "the upgraded connection answers a ping")
    c.shutdown()

    c = ws(srv, srv.signed(cid), path="/bitrix/sub/")
    ok(c.status == 101 and c.accept_ok, "upgrade on /bitrix/sub/ answers 101 too")
    publish_text(srv, cid, body(1))
    frames, _ = collect_text(c, 1)
    ok(len(frames) == 1 and frames[0]["text"]["params"]["n"] == 1,
       "a subscriber upgraded on /bitrix/sub/ receives messages")
    c.shutdown()

    # a percent-encoded CHANNEL_ID (SDK encodeURIComponent) works
    priv, pub = new_id(), new_id()
    ref = srv.signed(priv, pub).replace(":", "%3A")
    c = ws(srv, ref + "%2F" + srv.signed(new_id()))
    ok(c.status == 101 and alive(c), "percent-encoded priv:pub/shared list is accepted")
    c.shutdown()

    # bad signature: 101, then close 4010
    c = ws(srv, cid + "." + "0" * 40)
    ok(c.status == 101, "a bad signature still completes the upgrade (101)")
    expect_close(c, 4010, "bad signature: close 4010 \"4010: Wrong Channel Id.\"",
                 "4010: Wrong Channel Id.")
    ok(c.wait_eof(3), "the server closes the TCP connection after the 4010 close")
    c.shutdown()

    c = WSClient(srv.sub_port, "/bitrix/subws/")
    ok(c.status == 101, "no CHANNEL_ID: 101 as well")
    expect_close(c, 4010, "no CHANNEL_ID: close 4010", "4010: Wrong Channel Id.")
    c.shutdown()

    c = ws(srv, srv.signed(new_id()) + "/" + new_id() + ".deadbeef")
    expect_close(c, 4010, "one bad element in the list fails the whole list with 4010")
    c.shutdown()

    # refused handshakes
    c = ws(srv, srv.signed(cid), omit=("Sec-WebSocket-Key",))
    ok(c.status == 400, "missing Sec-WebSocket-Key: 400 (got %s)" % c.status)
    c.shutdown()
    c = ws(srv, srv.signed(cid), key="not-a-valid-key")
    ok(c.status == 400, "malformed Sec-WebSocket-Key: 400 (got %s)" % c.status)
    c.shutdown()
    c = ws(srv, srv.signed(cid), version="8")
    ok(c.status == 426, "Sec-WebSocket-Version: 8 answers 426 (got %s)" % c.status)
    ok(c.headers.get("sec-websocket-version") == "13",
       "426 carries Sec-WebSocket-Version: 13 (got %r)" % c.headers.get("sec-websocket-version"))
    c.shutdown()
    c = ws(srv, srv.signed(cid), omit=("Sec-WebSocket-Version",))
    ok(c.status == 426, "missing Sec-WebSocket-Version: 426 (got %s)" % c.status)
    c.shutdown()
    # a key or a version sent twice (RFC 6455 11.3 allows each once): which
    # one counts would be up to whoever reads them
    w = Witness(srv)
    key = new_key()
    for name, value in (("sec-websocket-key", new_key()), ("sec-websocket-key", key),
                        ("sec-websocket-version", "13")):
        c = ws(srv, srv.signed(cid), key=key, headers={name: value})
        ok(c.status == 400 and b"more than once" in c.body,
           "%s sent twice (the second %r): 400 naming it (got %s %r)"
           % (name, value, c.status, c.body))
        c.shutdown()
    w.check("a Sec-WebSocket-Key or -Version sent twice")


def delivery_tests(srv):
    cid = new_id()
    t = ws(srv, srv.signed(cid))
    b = ws(srv, srv.signed(cid), extra="&binaryMode=true")
    payload = {"module_id": "im", "command": "message", "params": {"text": "héllo", "n": 1}}
    st, _, _ = publish_text(srv, cid, json.dumps(payload))
    ok(st == 200, "publish answers 200")

    m = t.recv_message(3)
    ok(m is not None and m[0] == OP_TEXT, "text subscriber gets a text frame")
    frames = text_frames(m[1]) if m and m[0] == OP_TEXT else []
    ok(len(frames) == 1, "one NGINX frame in it")
    f = frames[0] if frames else {}
    ok(f.get("text") == payload, "text carries the published JSON unchanged")
    ok(re.fullmatch(r"[0-9]{26}", str(f.get("mid", ""))) is not None, "mid is 26 digits: %r" % f.get("mid"))
    ok(isinstance(f.get("id"), int), "id is an integer")
    ok(str(f.get("tag", "x")).isdigit(), "tag is a digit string: %r" % f.get("tag"))
    ok(re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT",
                    f.get("time", "")) is not None, "time is RFC 1123: %r" % f.get("time"))
    keys = list(f.keys())
    ok(keys[:6] == ["id", "mid", "channel", "tag", "time", "eventid"] or
       keys[:5] == ["id", "mid", "channel", "tag", "time"], "key order id, mid, channel, tag, time: %r" % keys)
    if m and m[0] == OP_TEXT:
        raw = m[1].decode()
        ok(raw.startswith("#!NGINXNMS!#") and raw.endswith("#!NGINXNME!#"),
           "the frame is exactly one delimited NGINX message")

    pm = collect_pb(b, 1)
    ok(len(pm) == 1, "binaryMode=true subscriber gets one OutgoingMessage in a binary frame")
    if pm:
        o = pm[0]
        ok(json.loads(o.get("body", "null")) == payload, "protobuf body is the published JSON")
        ok(len(o.get("id", b"")) == 13 and o["id"].hex() == f.get("mid"),
           "protobuf id is 13 bytes whose hex is the mid (%s)" % o.get("id", b"").hex())
        ok(o["sender"] is not None and o["sender"]["type"] == 2,
           "sender is present with type 2 (BACKEND): %r" % o["sender"])
        ok(abs(o.get("created", 0) - time.time()) < 60, "created is the current unix time")
        ok(o.get("expiry") == 86400, "expiry is the Message-Expiry given (86400): %r" % o.get("expiry"))

    # catch-up by mid: publish 3 more, reconnect with the mid of the first one
    mids = [f.get("mid")]
    for i in range(2, 5):
        publish_text(srv, cid, body(i))
    more, _ = collect_text(t, 3)
    mids += [x["mid"] for x in more]
    ok(len(mids) == 4 and mids == sorted(mids) and len(set(mids)) == 4,
       "mids increase strictly: %r" % mids)
    collect_pb(b, 3, timeout=2)
    t.shutdown()
    b.shutdown()

    c = ws(srv, srv.signed(cid), extra="&mid=" + mids[1])
    frames, _ = collect_text(c, 2, timeout=3)
    ok([x["mid"] for x in frames] == mids[2:], "reconnect with mid gets exactly the newer messages")
    publish_text(srv, cid, body(5))
    frames, _ = collect_text(c, 1, timeout=3)
    ok(len(frames) == 1 and frames[0]["text"]["params"]["n"] == 5, "then live messages follow")
    c.shutdown()

    c = ws(srv, srv.signed(cid), extra="&binaryMode=true&mid=" + mids[0])
    pm = collect_pb(c, 4, timeout=3)
    ok([o["id"].hex() for o in pm][:3] == mids[1:] and len(pm) == 4,
       "binary catch-up by mid too: %d messages" % len(pm))
    c.shutdown()

    c = ws(srv, srv.signed(cid))
    ok(c.recv_message(0.5) is None, "no mid: nothing is replayed")
    c.shutdown()

    c = ws(srv, srv.signed(cid), extra="&mid=12345")
    ok(c.recv_message(0.5) is None and alive(c), "a malformed mid is ignored (no replay, stays open)")
    c.shutdown()

    # a burst: 30 messages in one pipelined write arrive, in order
    cid2 = new_id()
    c = ws(srv, srv.signed(cid2))
    bodies = [body(i) for i in range(30)]
    sts = pipelined_publish(srv, [cid2], bodies)
    ok(sts == [200] * 30, "30 pipelined publishes answer 200")
    frames, nmsg = collect_text(c, 30, timeout=5)
    ok([x["text"]["params"]["n"] for x in frames] == list(range(30)),
       "all 30 arrive in order (%d frames in %d WebSocket messages)" % (len(frames), nmsg))
    note("burst of 30 came in %d WebSocket messages" % nmsg)

    # one publish to a subscriber on two of its channels arrives once
    shared = new_id()
    c2 = ws(srv, srv.signed(cid2) + "/" + srv.signed(shared))
    publish_text(srv, [cid2, shared], body(99))
    frames, _ = collect_text(c2, 2, timeout=1.5)
    ok(len(frames) == 1, "a message to two channels of one subscriber arrives once (%d)" % len(frames))
    c2.shutdown()
    collect_text(c, 1, timeout=2)

    # large message: 200 KB body arrives in one frame (64-bit length)
    big = json.dumps({"module_id": "t", "command": "big", "params": {"s": "x" * 200000}})
    st, _, _ = publish_text(srv, cid2, big)
    frames, _ = collect_text(c, 1, timeout=5)
    ok(len(frames) == 1 and len(frames[0]["text"]["params"]["s"]) == 200000,
       "a 200 KB message arrives whole")
    c.shutdown()


def control_tests(srv):
    cid = new_id()
    c = ws(srv, srv.signed(cid))
    c.ping(b"hello-123")
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_PONG and f.payload == b"hello-123",
       "client ping gets a pong with the same payload: %r" % f)
    ok(f is not None and not f.masked, "server frames are not masked")
    c.ping(b"")
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_PONG and f.payload == b"", "empty ping gets an empty pong")
    c.ping(b"p" * 125)
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_PONG and f.payload == b"p" * 125, "125-byte ping: pong echoes it")
    # an unsolicited pong is ignored
    c.pong(b"unsolicited")
    ok(alive(c), "an unsolicited pong is ignored")
    # text frames from a V4 client are ignored, the connection stays
    c.send_text("hello server")
    ok(alive(c), "a text message from a text-mode client is ignored")

    # close handshake: the server echoes the code and closes
    c.close(1000, "bye")
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_CLOSE and f.close_code() == 1000,
       "close 1000 is echoed with 1000: %r" % f)
    ok(c.wait_eof(3), "then the server closes the TCP connection")
    c.shutdown()

    c = ws(srv, srv.signed(cid))
    c.close(None)
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_CLOSE and f.payload == b"",
       "an empty close is echoed empty: %r" % f)
    c.shutdown()

    c = ws(srv, srv.signed(cid))
    c.close(4000, "app")
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_CLOSE and f.close_code() == 4000, "close 4000 echoed: %r" % f)
    c.shutdown()

    # a subscriber that closed is no longer delivered to; the channel keeps working
    c = ws(srv, srv.signed(cid))
    publish_text(srv, cid, body(7))
    frames, _ = collect_text(c, 1)
    ok(len(frames) == 1, "after other subscribers closed, a new one receives")
    c.shutdown()


def protocol_error_tests(srv):
    cid = new_id()
    watcher = ws(srv, srv.signed(cid))
    n = [0]

    def watcher_ok(what):
        n[0] += 1
        publish_text(srv, cid, body(n[0]))
        frames, _ = collect_text(watcher, 1, timeout=3)
        ok(len(frames) == 1 and frames[0]["text"]["params"]["n"] == n[0],
           "the other subscriber still receives after %s" % what)

    def bad(frame_bytes, code, desc, pre=None):
        c = ws(srv, srv.signed(new_id()))
        if pre:
            pre(c)
        c.send_raw(frame_bytes)
        expect_close(c, code, desc)
        ok(c.wait_eof(3), "  ... and the TCP connection is closed")
        c.shutdown()

    bad(build_frame(OP_TEXT, b"hi", mask=False), 1002, "unmasked client frame: close 1002")
    bad(build_frame(OP_TEXT, b"hi", rsv=4), 1002, "RSV1 set: close 1002")
    bad(build_frame(OP_BINARY, b"hi", rsv=1), 1002, "RSV3 set: close 1002")
    bad(build_frame(0x3, b"hi"), 1002, "reserved opcode 3: close 1002")
    bad(build_frame(0xB, b""), 1002, "reserved control opcode 0xB: close 1002")
    bad(build_frame(OP_BINARY, b"\0" * (MAX_FRAME + 1)), 1009,
        "binary frame over max-ws-frame-size: close 1009")
    # header alone announces the size: rejected before the payload arrives
    bad(build_frame(OP_BINARY, b"", length=10 * 1024 * 1024)[:14], 1009,
        "a header announcing 10 MB is refused at once with 1009")
    bad(build_frame(OP_TEXT, b"\xff\xfe bad"), 1007, "invalid UTF-8 in a text frame: close 1007")
    bad(build_frame(OP_TEXT, b"\xed\xa0\x80"), 1007, "UTF-8 surrogate in a text frame: close 1007")
    bad(build_frame(OP_TEXT, b"abc\xc3", fin=True), 1007, "text ending mid-character: close 1007")
    bad(build_frame(OP_PING, b"x", fin=False), 1002, "fragmented ping: close 1002")
    bad(build_frame(OP_CLOSE, b"\x03\xe8", fin=False), 1002, "fragmented close: close 1002")
    bad(build_frame(OP_PING, b"p" * 126), 1002, "ping with a 126-byte payload: close 1002")
    bad(build_frame(OP_CONT, b"orphan"), 1002, "continuation without a started message: close 1002")
    bad(build_frame(OP_TEXT, b"a", fin=False) + build_frame(OP_TEXT, b"b"), 1002,
        "a new text frame inside a fragmented message: close 1002")
    bad(build_frame(OP_BINARY, b"a" * 3000, fin=False) + build_frame(OP_CONT, b"b" * 3000), 1009,
        "fragments adding up past max-ws-frame-size: close 1009")
    bad(build_frame(OP_CLOSE, b"\x03"), 1002, "a 1-byte close payload: close 1002")
    bad(build_frame(OP_CLOSE, b"\x03\xed"), 1002, "close code 1005 on the wire: close 1002")
    bad(build_frame(OP_CLOSE, b"\x03\xe8\xff"), 1007, "close reason not UTF-8: close 1007")
    # non-minimal length encoding (RFC 6455 §5.2)
    import struct as _s
    bad(bytes([0x82, 0x80 | 126]) + _s.pack("!H", 5) + b"\0\0\0\0" + b"hello", 1002,
        "non-minimal 16-bit length: close 1002")
    watcher_ok("twenty protocol errors on other connections")

    # fragments that are fine
    c = ws(srv, srv.signed(new_id()))
    c.send_fragments(OP_TEXT, [b"caf\xc3", b"\xa9 ok"])
    ok(alive(c), "a character split across fragments is valid UTF-8 (no close)")
    c.send_frame(OP_TEXT, b"part1", fin=False)
    c.ping(b"mid-message")
    f = c.recv_frame(3)
    ok(f is not None and f.opcode == OP_PONG and f.payload == b"mid-message",
       "a ping between fragments is answered at once")
    c.send_frame(OP_CONT, b"part2", fin=True)
    ok(alive(c), "the fragmented message completes without error")
    c.shutdown()

    watcher.shutdown()


def limit_tests(srv):
    """§7.4: max-connections-per-channel=2 for a private channel with a public id."""
    priv, pub = new_id(), new_id()
    ref = srv.signed(priv, pub)
    a = ws(srv, ref)
    time.sleep(0.05)
    b = ws(srv, ref)
    ok(a.status == 101 and b.status == 101, "two connections on one priv:pub channel are accepted")
    ok(a.recv_frame(0.3) is None, "the oldest is not closed while at the limit")
    time.sleep(0.05)
    c = ws(srv, ref)
    ok(c.status == 101, "the third connection is accepted")
    expect_close(a, 4029, "the OLDEST connection is closed with 4029", "4029: Too many connections.")
    ok(alive(b) and alive(c), "the second and third stay open")
    publish_text(srv, priv, body(1))
    fb, _ = collect_text(b, 1)
    fc, _ = collect_text(c, 1)
    ok(len(fb) == 1 and len(fc) == 1, "both remaining connections receive on the private channel")
    publish_text(srv, pub, body(2))
    fb, _ = collect_text(b, 1)
    ok(len(fb) == 1 and fb[0]["text"]["params"]["n"] == 2, "and on the public channel")
    d = ws(srv, ref)
    expect_close(b, 4029, "a fourth connection closes the next oldest (the second) with 4029")
    ok(alive(c) and alive(d), "the third and fourth stay open")
    for x in (a, b, c, d):
        x.shutdown()

    # a long poll that is the oldest connection is answered 429 "4029: ..."
    priv, pub = new_id(), new_id()
    ref = srv.signed(priv, pub)
    lp = connect(srv.sub_port)
    lp.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=" + ref))
    time.sleep(0.1)
    b = ws(srv, ref)
    c = ws(srv, ref)
    try:
        st, _, rb = read_response(lp)
    except OSError as e:
        st, rb = str(e), b""
    ok(st == 429 and rb == b"4029: Too many connections.",
       "an oldest long poll gets 429 \"4029: Too many connections.\" (%s %r)" % (st, rb))
    ok(alive(b) and alive(c), "the two WebSocket connections stay")
    lp.close()

    # the same channel listed twice in one CHANNEL_ID is one subscription: it
    # must not count twice against the limit (PS2 counts connections)
    d = ws(srv, ref + "/" + ref)
    ok(d.status == 101 and alive(d), "a connection listing priv:pub twice is accepted")
    fb = b.recv_frame(0.5)
    ok(fb is not None and fb.close_code() == 4029, "it closes the oldest (b) with 4029")
    fc = c.recv_frame(0.5)
    if not ok(fc is None, "and only the oldest: the second oldest (c) stays open"):
        note("c got %r: one new connection listing the channel twice closed two others" % fc)
    for x in (b, c, d):
        x.shutdown()


def client_publish_tests(srv):
    """§4.3 client -> server: protobuf RequestBatch in a binary frame."""
    key = srv.key
    r_priv, r_pub = new_id(), new_id()
    p_priv, p_pub = new_id(), new_id()
    w_chan = new_id()
    recv_pb = ws(srv, srv.signed(r_priv, r_pub), extra="&binaryMode=true")
    recv_txt = ws(srv, srv.signed(r_priv, r_pub))
    watcher = ws(srv, srv.signed(w_chan))
    pub_sig = bytes.fromhex(sign(key, "public:" + r_pub))
    n = [100]

    def watcher_ok(what):
        n[0] += 1
        publish_text(srv, w_chan, body(n[0]))
        frames, _ = collect_text(watcher, 1, timeout=3)
        ok(len(frames) == 1 and frames[0]["text"]["params"]["n"] == n[0],
           "the other subscriber (connected before) still receives after %s" % what)

    publisher = ws(srv, srv.signed(p_priv, p_pub), extra="&binaryMode=true")
    msg = {"module_id": "client", "command": "hi", "params": {"x": 1}}
    publisher.send_binary(pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)], json.dumps(msg), 60))
    pm = collect_pb(recv_pb, 1)
    ok(len(pm) == 1 and json.loads(pm[0]["body"]) == msg, "client publish reaches the receiver's public channel")
    if pm:
        s = pm[0]["sender"] or {}
        ok(s.get("type") == 1, "sender type is 1 (CLIENT): %r" % s)
        ok(s.get("id", b"").hex() == p_pub, "sender id is the publisher's public id (%s)" % s.get("id", b"").hex())
    ft, _ = collect_text(recv_txt, 1)
    want = dict(msg, extra=dict(msg.get("extra", {}), sender={"type": 1, "id": p_pub}))
    ok(len(ft) == 1 and ft[0]["text"] == want,
       "a text-mode subscriber of the receiver gets it too, its sender in extra.sender (%r)"
       % (ft[0]["text"] if ft else None,))
    ok(publisher.recv_message(0.3) is None and alive(publisher),
       "the publisher gets nothing back and stays connected")

    # the same publish in three fragments, with a ping in between
    msg2 = {"module_id": "client", "command": "frag", "params": {"y": "z" * 500}}
    data = pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)], json.dumps(msg2))
    parts = [data[:7], data[7:300], data[300:]]
    publisher.send_fragments(OP_BINARY, parts, between=lambda i: publisher.ping(b"x") if i == 0 else None)
    pm = collect_pb(recv_pb, 1)
    ok(len(pm) == 1 and json.loads(pm[0]["body"]) == msg2,
       "a binary client publish in 3 fragments (ping interleaved) is reassembled and delivered")
    collect_text(recv_txt, 1, timeout=1)

    # two receivers in one message, one of them the publisher's own public id
    own_sig = bytes.fromhex(sign(key, "public:" + p_pub))
    publisher.send_binary(pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig),
                                             (bytes.fromhex(p_pub), False, own_sig)], json.dumps(msg)))
    pm = collect_pb(recv_pb, 1)
    own = collect_pb(publisher, 1)
    ok(len(pm) == 1 and len(own) == 1, "a message with two public receivers reaches both")
    collect_text(recv_txt, 1, timeout=1)

    # errors: each closes the publisher with its code; others are unaffected
    def bad_publish(data, code, desc, ref=None):
        p = ws(srv, ref or srv.signed(new_id(), new_id()), extra="&binaryMode=true")
        p.send_binary(data)
        good = expect_close(p, code, desc)
        p.shutdown()
        watcher_ok(desc.split(":")[0])
        return good

    bad_publish(pb_client_publish([(bytes.fromhex(r_priv), True, b"")], json.dumps(msg)), 4020,
                "private receiver: close 4020")
    bad_publish(pb_client_publish([(bytes.fromhex(r_pub), False, b"\x01" * 20)], json.dumps(msg)), 4021,
                "bad receiver signature: close 4021")
    bad_publish(pb_client_publish([(bytes.fromhex(r_pub), False, b"")], json.dumps(msg)), 4021,
                "missing receiver signature: close 4021")
    bad_publish(b"\x0a\x05\x0a\x03\x0a", 4013, "malformed protobuf (truncated): close 4013")
    bad_publish(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 4013, "malformed protobuf (bad varint): close 4013")
    sig_priv = bytes.fromhex(sign(key, "public:" + r_priv))
    bad_publish(pb_client_publish([(bytes.fromhex(r_pub), False, sig_priv)], json.dumps(msg)), 4021,
                "signature of another id: close 4021")
    bad_publish(pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)], json.dumps(msg)), 4012,
                "publisher without a public id: close 4012", ref=srv.signed(new_id()))

    # a close with the code's reason text
    p = ws(srv, srv.signed(new_id(), new_id()), extra="&binaryMode=true")
    p.send_binary(pb_client_publish([(bytes.fromhex(r_priv), True, b"")], json.dumps(msg)))
    expect_close(p, 4020, "4020 reason is \"4020: Private channel is not allowed.\"",
                 "4020: Private channel is not allowed.")
    p.shutdown()
    ok(collect_pb(recv_pb, 1, timeout=0.5) == [], "no rejected publish reached the receiver")
    ok(alive(recv_pb) and alive(recv_txt), "the receivers are still connected")
    for x in (recv_pb, recv_txt, watcher, publisher):
        x.shutdown()


def limit_one_tests(srv):
    """max-connections-per-channel=1: a connection listing its channel twice
    must not close itself (nor crash the server)."""
    priv, pub = new_id(), new_id()
    ref = srv.signed(priv, pub)
    try:
        c = ws(srv, ref + "/" + ref)
        st = c.status
    except OSError as e:
        c, st = None, "%s: %s" % (type(e).__name__, e)
    ok(st == 101, "limit 1: CHANNEL_ID=<priv:pub>/<priv:pub> is upgraded (got %s)" % st)
    ok(c is not None and c.recv_frame(0.5) is None and alive(c),
       "and the connection is not closed by its own second listing")
    if c:
        c.shutdown()
    # a crash may still be unwinding (sanitizer report): give it a moment
    deadline = time.time() + 2
    while srv.proc.poll() is None and time.time() < deadline:
        try:
            if http(srv.pub_port, "GET", "/health", timeout=1)[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.2)
    ok(srv.proc.poll() is None, "the server is still running")
    if srv.proc.poll() is None:
        a = ws(srv, ref)
        b = ws(srv, ref)
        ok(a.wait_close(2)[0] == 4029 and alive(b), "limit 1: a second connection replaces the first (4029)")
        a.shutdown()
        b.shutdown()


def ping_tests(srv):
    """ws-ping-interval=1: a ping control frame every second; a peer that
    does not answer is dropped within about two intervals."""
    import threading
    cid = new_id()
    polite = ws(srv, srv.signed(cid), auto_pong=True)
    got = []
    stop = threading.Event()

    def serve():  # answers pings as a browser does, while the test waits on the other
        while not stop.is_set() and not polite.closed_by_peer:
            m = polite.recv_message(0.2)
            if m and m[0] == OP_TEXT:
                got.extend(text_frames(m[1]))

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    quiet = ws(srv, srv.signed(cid), auto_pong=False)
    t0 = time.time()
    f = quiet.recv_frame(2.5)
    ok(f is not None and f.opcode == OP_PING, "server sends a ping within ws-ping-interval: %r" % f)
    t_ping = time.time() - t0
    ok(t_ping < 2.0, "first ping after %.2fs (interval 1s)" % t_ping)
    dropped = quiet.wait_eof(3.5)
    t_drop = time.time() - t0
    ok(dropped, "a client that never answers pings is dropped (after %.2fs)" % t_drop)
    ok(dropped and t_drop < 3.5, "within about two intervals (%.2fs)" % t_drop)
    quiet.shutdown()
    time.sleep(max(0.0, 4.5 - (time.time() - t0)))
    ok(not polite.closed_by_peer, "a client that answers pings stays connected (%.1fs)" % (time.time() - t0))
    ok(len(polite.pings) >= 3, "it saw %d pings in ~4.5 s" % len(polite.pings))
    publish_text(srv, cid, body(1))
    deadline = time.time() + 3
    while not got and time.time() < deadline:
        time.sleep(0.05)
    ok(len(got) == 1, "and still receives messages")
    stop.set()
    th.join(2)
    polite.shutdown()


if __name__ == "__main__":
    main()
