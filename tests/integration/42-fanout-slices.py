#!/usr/bin/env python3
"""A big fan-out does not hold the loop: while one message goes to thousands of
WebSocket subscribers, a message to another channel, the answer to its publish
and a /health answer are written before the fan-out has ended; and nothing is
reordered for anyone: every subscriber of the big channel gets its two
messages once each and in order, and one on both channels gets the big
channel's message before the other channel's, which was published after it.

Order of events, not timing: each client socket records the kernel's receive
time of what it reads (SO_TIMESTAMPNS). One worker writes every socket in
turn, and on loopback a write is received within the writing system call, so
those times order the server's writes."""
import base64
import os
import re
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, build_request, done, new_id, note, ok, server_stat, wait_for  # noqa: E402

SUBS = 3000  # a dozen slices of the backlog, whatever their size
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def stamped_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def recv_stamped(s):
    """One read: (bytes, kernel receive time in ns of its first byte or None)."""
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16))
    stamp = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = struct.unpack("qq", payload[:16])
            stamp = sec * 10**9 + nsec
    return data, stamp


def ws_subscribe(srv, ids):
    s = stamped_socket(srv.sub_port)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /bitrix/subws/?CHANNEL_ID=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % ("/".join(srv.signed(i) for i in ids), key)
               ).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the upgrade")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError("upgrade refused: %r" % head[:80])
    s.setblocking(False)
    return s


with Server({"workers": 1, "max-connections-per-address": 0, "log-level": "warn"}) as srv:
    big, other = new_id(), new_id()
    subs = []
    for _ in range(SUBS):
        subs.append(ws_subscribe(srv, [big]))
    lone = ws_subscribe(srv, [other])    # the other channel only
    both = ws_subscribe(srv, [big, other])  # last on the big channel: the end of its backlog
    ok(wait_for(lambda: server_stat(srv)["websockets"] == SUBS + 2),
       "%d WebSocket subscribers on one channel, one on another, one on both" % SUBS)

    def publisher(path, body=None):
        s = stamped_socket(srv.pub_port)
        method = "POST" if body is not None else "GET"
        return s, build_request(method, path, body or b"")

    p_big1 = publisher("/bitrix/pub/?CHANNEL_ID=" + big, b'{"n":"fanout-big-1"}')
    p_other = publisher("/bitrix/pub/?CHANNEL_ID=" + other, b'{"n":"fanout-other"}')
    p_big2 = publisher("/bitrix/pub/?CHANNEL_ID=" + big, b'{"n":"fanout-big-2"}')
    p_health = publisher("/health")
    # the big channel's message first, then the rest at once, without waiting
    for s, req in (p_big1, p_other, p_big2, p_health):
        s.sendall(req)

    sel = selectors.DefaultSelector()
    streams = {}
    for s in subs + [lone, both]:
        sel.register(s, selectors.EVENT_READ)
        streams[s] = [b"", {}]  # bytes, token -> receive time of the read it came in
    for s, _ in (p_big1, p_other, p_big2, p_health):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        streams[s] = [b"", {}]
    tokens = (b"fanout-big-1", b"fanout-big-2", b"fanout-other", b"HTTP/1.1 200")

    def complete():
        return (all(b"fanout-big-2" in streams[s][0] for s in subs) and
                b"fanout-other" in streams[lone][0] and b"fanout-other" in streams[both][0] and
                all(b"\r\n\r\n" in streams[s][0] for s, _ in (p_big1, p_other, p_big2, p_health)))

    deadline = time.time() + 60
    while time.time() < deadline and not complete():
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                data, stamp = recv_stamped(s)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(s)
                continue
            st = streams[s]
            st[0] += data
            for t in tokens:
                if t in st[0] and t not in st[1]:
                    st[1][t] = stamp
    ok(complete(), "every subscriber and every request got its answer")

    big1 = [streams[s][1].get(b"fanout-big-1") for s in subs]
    ok(all(t is not None for t in big1), "the receive times are recorded (SO_TIMESTAMPNS)")
    if all(t is not None for t in big1):
        end = max(big1)
        t_lone = streams[lone][1].get(b"fanout-other")
        t_pub = streams[p_other[0]][1].get(b"HTTP/1.1 200")
        t_health = streams[p_health[0]][1].get(b"HTTP/1.1 200")
        behind = sum(1 for t in big1 if t_lone is not None and t > t_lone)
        note("the other channel's subscriber was written before %d of the %d big-channel "
             "subscribers" % (behind, SUBS))
        ok(t_lone is not None and t_lone < end,
           "the other channel's message is written before the big fan-out has ended")
        ok(t_pub is not None and t_pub < end,
           "the other channel's publish is answered before the big fan-out has ended")
        ok(t_health is not None and t_health < end,
           "/health is answered before the big fan-out has ended")

    def frames(s):
        """(mid, token) of each message in the stream, in the order received."""
        return [(m.group(1).decode(), m.group(2).decode()) for m in
                re.finditer(rb'"mid":"([0-9]{26})".*?"n":"(fanout-[a-z0-9-]+)"', streams[s][0])]

    def in_order(s, want):
        f = frames(s)
        return sorted(t for _, t in f) == sorted(want) and [m for m, _ in f] == sorted(m for m, _ in f)

    ok(all(in_order(s, ["fanout-big-1", "fanout-big-2"]) for s in subs),
       "every big-channel subscriber gets both of its messages once each, in mid order")
    ok(in_order(both, ["fanout-big-1", "fanout-big-2", "fanout-other"]),
       "the subscriber on both channels gets all three once each, in mid order")
    ok(b"fanout-big" not in streams[lone][0], "the other channel's subscriber gets nothing else")
    for s in list(streams):
        s.close()
done()
