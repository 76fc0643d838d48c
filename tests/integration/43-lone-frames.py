#!/usr/bin/env python3
"""A message delivered alone goes out as one buffer the message caches, frame
header (and protobuf prefix) included, written with send() or, on the TLS
port, handed to SSL_write() where it lies. Here a subscriber whose socket
takes little at a time is sent a frame far bigger than its buffers, so the
frame leaves in many partial writes (the rest queued, then written as the
peer reads), with more messages queued behind it: every frame still arrives
whole and in order, text and protobuf, over ws:// and wss://, while a
subscriber that reads at once gets the same messages meanwhile."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, ok, note, done, new_id, publish_text, text_frames, metrics,  # noqa: E402
                    make_cert, tls_conf, tls_port, tls_client_context)
from wsclient import WSClient, TLSWSClient, OP_TEXT, OP_BINARY  # noqa: E402
import pbproto  # noqa: E402

# One frame bigger than a 4 KiB receive buffer and the send buffer (which
# loopback grows to 4 MiB: tcp_wmem) hold, with small ones queued behind it;
# then frames of 10 KiB, each written alone to an empty queue until the
# socket fills in the middle of one.
BIG_THEN_SMALL = [6 * 1048576] + [0] * 5
MEDIUM = [10 * 1024] * 500


def pb_bodies(payload):
    """The bodies of the OutgoingMessages of one ResponseBatch, in order;
    None when the batch does not parse to its last byte."""
    out = []
    try:
        for num, _, resp in pbproto.fields(payload):
            if num != 1:
                return None
            for rnum, _, omr in pbproto.fields(resp):
                for mnum, _, m in pbproto.fields(omr):
                    for f, _, v in pbproto.fields(m):
                        if f == 2:
                            out.append(bytes(v).decode())
    except Exception as e:  # noqa: BLE001 - a truncated batch raises
        note("protobuf: %r" % (e,))
        return None
    return out


def bodies_of(frame, binary):
    """The message bodies one frame carries (a frame may carry several)."""
    if binary:
        return pb_bodies(frame[1]) if frame[0] == OP_BINARY else None
    if frame[0] != OP_TEXT:
        return None
    return [json.dumps(f["text"], separators=(",", ":")) for f in text_frames(frame[1])]


def read_all(client, want, binary, timeout=30):
    """Messages until `want` bodies arrived: the bodies in order, the count of
    frames, whether each frame was whole (parsed to its end)."""
    got, frames, whole = [], 0, True
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        m = client.recv_message(max(0.1, deadline - time.time()))
        if m is None:
            break
        b = bodies_of(m, binary)
        if not b:
            whole = False
            break
        frames += 1
        got += b
    return got, frames, whole


def run(srv, label, connect, binary, sizes):
    """Messages of the given sizes published one by one to a subscriber
    that reads nothing until all are answered, and to one that reads."""
    cid = new_id()
    q = "&binaryMode=true" if binary else ""
    path = "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid) + q
    slow = connect(path, rcvbuf=4096)
    fast = connect(path, rcvbuf=None)
    sent = [json.dumps({"module_id": "t", "n": i, "fill": "x" * n}, separators=(",", ":"))
            for i, n in enumerate(sizes)]
    codes = [publish_text(srv, cid, b)[0] for b in sent]
    ok(all(c == 200 for c in codes), "%s: %d publishes answered 200 while one subscriber "
       "reads nothing" % (label, len(sent)))
    got, frames, whole = read_all(fast, len(sent), binary)
    ok(whole and got == sent, "%s: the subscriber that reads gets all %d in order, frames whole"
       % (label, len(sent)))
    # what the server has written so far, and what it writes once the slow
    # subscriber reads: more means it held the rest (the writes were partial)
    before = metrics(srv).get('pullbox_bytes_total{direction="out"}', 0)
    got, frames, whole = read_all(slow, len(sent), binary)
    after = metrics(srv).get('pullbox_bytes_total{direction="out"}', 0)
    ok(after - before > 65536, "%s: the server held %d bytes for the slow subscriber until it "
       "read (partial writes)" % (label, after - before))
    ok(whole and got == sent, "%s: the slow subscriber gets all %d whole and in order (%d frames)"
       % (label, len(sent), frames))
    for c in (slow, fast):
        c.shutdown()


tmp = tempfile.mkdtemp(prefix="pullbox-lone-")
cert, key = make_cert(tmp)
conf = tls_conf(cert, key, **{"max-body-size": 8 * 1048576, "max-output-buffer": 32 * 1048576,
                              "history-length": 1000})
with Server(conf=conf) as srv:
    ctx = tls_client_context(cert)
    plain = lambda path, rcvbuf: WSClient(srv.sub_port, path, rcvbuf=rcvbuf, timeout=10)  # noqa: E731
    tls = lambda path, rcvbuf: TLSWSClient(tls_port(srv), path, ctx, rcvbuf=rcvbuf,  # noqa: E731
                                           timeout=10)
    for sizes, what in ((BIG_THEN_SMALL, "600 KiB + 5 small"), (MEDIUM, "500 x 10 KiB")):
        run(srv, "ws text, " + what, plain, False, sizes)
        run(srv, "ws protobuf, " + what, plain, True, sizes)
        run(srv, "wss text, " + what, tls, False, sizes)
        run(srv, "wss protobuf, " + what, tls, True, sizes)
done()
