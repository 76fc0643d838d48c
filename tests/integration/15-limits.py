#!/usr/bin/env python3
"""Limits of pullboxd not covered elsewhere, each with its exact error, and
with a witness subscriber on another channel that keeps receiving:
max-connections, max-channels, max-channel-id-length, idle-timeout."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import (Poll, Server, connect, build_request, read_response, done, new_id, ok,
                    publish_text, server_stat, text_frames, wait_for)


def start_poll(srv, cid):
    """A long poll on cid, returned once pullboxd counts it: a publish made next finds it
    (a fixed sleep was too short on a loaded machine, and the witness then missed its message)."""
    return Poll(srv, srv.signed(cid)).sock


def witness_receives(srv, sock, cid, text):
    st, _, _ = publish_text(srv, cid, '"%s"' % text)
    if st != 200:
        return False
    st, _, body = read_response(sock)
    return st == 200 and any(f.get("text") == text for f in text_frames(body))


# ---- max-connections: the connection over the limit gets a readable 503 ----
with Server({"max-connections": 3, "longpoll-timeout": 10}) as srv:
    wid = new_id()
    witness = start_poll(srv, wid)
    held = [start_poll(srv, new_id()), start_poll(srv, new_id())]
    extra = connect(srv.sub_port)
    data = b""
    try:
        while True:
            chunk = extra.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    extra.close()
    ok(data.startswith(b"HTTP/1.1 503") and b"max-connections" in data,
       "4th connection with max-connections=3: 503 naming max-connections (%r)" % data[:60])
    ok(witness_receives(srv, witness, wid, "after-503"),
       "a subscriber connected before keeps receiving")
    for s in held:
        s.close()
    witness.close()
    ok(wait_for(lambda: server_stat(srv)["pollings"] == 0, 10), "the closed long polls are gone")
    # with the subscribers gone the subscribe port serves again
    s2 = start_poll(srv, new_id())
    st, _, _ = publish_text(srv, wid, '"x"')
    ok(st == 200, "the publish port is not counted against max-connections (%s)" % st)
    s2.close()

# ---- max-channels: a publish that needs a new channel gets 503 ----
with Server({"max-channels": 3, "longpoll-timeout": 10, "online-grace": 0}) as srv:
    wid = new_id()
    witness = start_poll(srv, wid)  # channel 1
    a, b = new_id(), new_id()
    ok(publish_text(srv, a, '"a"')[0] == 200, "2nd channel: published")
    ok(publish_text(srv, b, '"b"')[0] == 200, "3rd channel: published")
    st, hdrs, body = publish_text(srv, new_id(), '"c"')
    ok(st == 503 and b"max-channels" in body and hdrs.get("retry-after") == "5",
       "4th channel with max-channels=3: 503 naming max-channels, Retry-After (%s %r)" % (st, body))
    ok(publish_text(srv, a, '"again"')[0] == 200, "an existing channel still takes messages")
    ok(witness_receives(srv, witness, wid, "after-max-channels"),
       "the subscriber keeps receiving")
    witness.close()

# ---- max-channel-id-length on the trusted side: 4019 ----
with Server({"max-channel-id-length": 40, "longpoll-timeout": 10}) as srv:
    wid = new_id()
    witness = start_poll(srv, wid)
    st, _, body = publish_text(srv, "x" * 40, '"ok"')
    ok(st == 200, "a 40-character generic id with max-channel-id-length=40: accepted (%s)" % st)
    st, _, body = publish_text(srv, "x" * 41, '"no"')
    ok(st == 400 and body == b"4019: Request has an invalid channel id.",
       "a 41-character id: 400 4019 (%s %r)" % (st, body))
    st, _, body = publish_text(srv, "bad*id", '"no"')
    ok(st == 400 and body.startswith(b"4019:"), "an id with other characters: 400 4019 (%s)" % st)
    ok(witness_receives(srv, witness, wid, "after-4019"), "the subscriber keeps receiving")
    witness.close()

# ---- idle-timeout: an idle keep-alive connection is closed, a busy one is not ----
with Server({"idle-timeout": 1, "longpoll-timeout": 10}) as srv:
    s = connect(srv.pub_port, timeout=5)
    s.sendall(build_request("GET", "/health"))
    st, _, _ = read_response(s)
    ok(st == 200, "keep-alive request served")
    t0 = time.time()
    s.settimeout(5)
    closed = s.recv(1) == b""
    dt = time.time() - t0
    ok(closed and 0.5 <= dt <= 3.0, "idle keep-alive connection closed after ~idle-timeout (%.2fs)" % dt)
    s.close()
    # a long poll is not idle: it outlives idle-timeout
    cid = new_id()
    p = start_poll(srv, cid)
    time.sleep(2.0)
    ok(witness_receives(srv, p, cid, "still-here"), "a long poll held past idle-timeout still delivers")
    p.close()

done()
