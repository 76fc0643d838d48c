#!/usr/bin/env python3
"""The push-stream cursor's tag (query tag= or If-None-Match, V1/V2 clients)
is a counter within one second and never passes 65535 (the server moves on
to the next second instead). A larger number, or one that is no number, means
after every message of that second, as nginx push stream reads it; never a
tag cut to 16 bits (65536 read as 0 replayed the whole second, 65536 + t as
t part of it). An empty tag still replays the whole second, a valid one what
follows it. Long poll and WebSocket alike; a subscriber connected meanwhile
gets every message, in order."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, ok, note, done, new_id, publish_text, text_frames, catch_up, Poll  # noqa: E402
from wsclient import WSClient, OP_TEXT  # noqa: E402


def frames_from_zero(srv, cid):
    """The stored messages of cid as frames (id, tag, time, text)."""
    from pbtest import connect, build_request, read_response
    s = connect(srv.sub_port)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), "0" * 26)))
    try:
        st, _, body = read_response(s)
    finally:
        s.close()
    return text_frames(body) if st == 200 else []


def one_second(srv):
    """A channel with p1..p3 published within one second and p4 in a later
    one; (channel, time of the first second, tags of p1..p3)."""
    for _ in range(5):
        cid = new_id()
        for n in (1, 2, 3):
            publish_text(srv, cid, {"p": n})
        f = frames_from_zero(srv, cid)
        if len(f) == 3 and len({x["time"] for x in f}) == 1:
            t0 = time.time()
            time.sleep(1.05 - (t0 - int(t0)))  # into the next second
            publish_text(srv, cid, {"p": 4})
            return cid, f[0]["time"], [int(x["tag"]) for x in f]
    return None, None, None


def main():
    with Server({"workers": 1, "longpoll-timeout": 2}) as srv:
        wid = new_id()
        witness = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(wid))
        ok(witness.status == 101, "a witness subscriber is connected")
        cid, tm, tags = one_second(srv)
        ok(cid is not None, "three messages published within one second (time %s, tags %s)" % (tm, tags))
        if cid is None:
            done()
        ok(catch_up(srv, cid) == [{"p": n} for n in (1, 2, 3, 4)], "the fourth is stored after them")
        ids = srv.signed(cid)
        t1 = tags[0]
        cases = [
            # (query tag or header, expected texts, what it shows)
            ("tag=%d" % t1, [2, 3, 4], "a valid tag: what follows it"),
            ("tag=", [1, 2, 3, 4], "an empty tag: the whole second"),
            ("tag=0", [1, 2, 3, 4], "tag 0: the whole second"),
            ("tag=65535", [4], "tag 65535: after the whole second"),
            ("tag=65536", [4], "tag 65536 (was 0: the whole second again)"),
            ("tag=%d" % (65536 + t1), [4], "tag 65536 + %d (was %d: part of the second again)" % (t1, t1)),
            ("tag=70000", [4], "tag 70000 (was 4464)"),
            ("tag=4294967297", [4], "tag 2^32 + 1 (was 1)"),
            ("tag=" + "9" * 40, [4], "a 40-digit tag"),
            ("tag=%d" % t1 + "x", [4], "a tag with a letter after its digits (was %d)" % t1),
            ("tag=abc", [4], "a tag that is no number (was 0)"),
            ("tag=-1", [4], "a negative tag"),
            ("tag=%2B" + str(t1), [4], "a tag with a plus sign"),
            ("tag=%20" + str(t1), [4], "a tag with a space before it"),
            ("tag=W%2F" + str(t1), [2, 3, 4], "W/ before the tag in the query, as in an Etag"),
            ({"If-None-Match": "65536"}, [4], "If-None-Match: 65536"),
            ({"If-None-Match": "W/%d" % (65536 + t1)}, [4], "If-None-Match: W/65536 + %d" % t1),
            ({"If-None-Match": "W/%d" % t1}, [2, 3, 4], "If-None-Match: W/%d" % t1),
        ]
        sent = 0
        for tag, want, what in cases:
            if isinstance(tag, dict):
                p = Poll(srv, ids, "&time=" + urllib.parse.quote(tm), wait=False,
                         headers=tag)
            else:
                p = Poll(srv, ids, "&time=%s&%s" % (urllib.parse.quote(tm), tag), wait=False)
            st, _, body = p.response(6)
            got = [t.get("p") for t in (f["text"] for f in text_frames(body))] if st == 200 else st
            ok(got == want, "long poll, %s: %s (%r)" % (what, want, got))
            publish_text(srv, wid, {"w": sent})
            sent += 1

        for tag, want in (("65536", [4]), ("abc", [4]), (str(t1), [2, 3, 4])):
            c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&time=%s&tag=%s" %
                         (ids, urllib.parse.quote(tm), tag))
            got = []
            deadline = time.time() + 1.5
            while time.time() < deadline:
                m = c.recv_message(0.3)
                if m and m[0] == OP_TEXT:
                    got += [f["text"]["p"] for f in text_frames(m[1])]
            c.shutdown()
            ok(c.status == 101 and got == want, "WebSocket, tag=%s: %s (%r)" % (tag, want, got))
            publish_text(srv, wid, {"w": sent})
            sent += 1

        seen = []
        deadline = time.time() + 5
        while len(seen) < sent and time.time() < deadline:
            m = witness.recv_message(0.5)
            if m and m[0] == OP_TEXT:
                seen += [f["text"]["w"] for f in text_frames(m[1])]
        ok(seen == list(range(sent)), "the witness got all %d of its messages, in order (%d)" %
           (sent, len(seen)))
        witness.shutdown()
        note("time %s, tags of the second's three messages %s" % (tm, json.dumps(tags)))
    done()


if __name__ == "__main__":
    main()
