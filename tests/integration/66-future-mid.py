#!/usr/bin/env python3
"""Resume mids from the future: a mid above anything this server issued (a
forged one the client adopted) is unknown, so the subscriber gets the usual
catch-up and every live message, on long polling and WebSocket, with the
memory and the journal store, and with Redis (above the cluster's counter,
or of a newer cluster start); a real mid (this run's, the journal's, or one
a node has not seen yet) still resumes exactly after it. A WebSocket subscriber connected throughout gets
every message of its own channel, in order."""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Redis, Server, build_request, connect, done, new_id, note, ok,  # noqa: E402
                    publish_text, read_response, text_frames)
from wsclient import WSClient, OP_CLOSE, OP_TEXT  # noqa: E402

FUTURE = "9" * 26


class Witness:
    """A WebSocket subscriber on its own channel, connected before the bad
    resumes; each step publishes one numbered message to it, and check()
    asserts it got all of them, in order."""

    def __init__(self, srv):
        self.srv, self.cid, self.sent, self.got = srv, new_id(), [], []
        self.c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(self.cid))

    def step(self):
        n = len(self.sent) + 1
        publish_text(self.srv, self.cid, json.dumps({"witness": n}))
        self.sent.append(n)
        self.got += [f["text"]["witness"] for f in frames(self.c, 1)]

    def check(self, desc):
        ok(self.got == self.sent, "the subscriber connected throughout got its %d messages in "
           "order %s" % (len(self.sent), desc))
        if self.got != self.sent:
            note("sent %r, got %r" % (self.sent, self.got))


def frames(c, want, timeout=3):
    out = []
    deadline = time.time() + timeout
    while len(out) < want and time.time() < deadline:
        m = c.recv_message(deadline - time.time())
        if m is None or m[0] == OP_CLOSE:
            break
        if m[0] == OP_TEXT:
            out += text_frames(m[1])
    return out


def poll(srv, cid, mid, timeout=4):
    """(status, texts, Last-Message-Id) of a long poll resuming after mid."""
    s = connect(srv.sub_port, timeout=timeout)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), mid)))
    try:
        st, hdrs, body = read_response(s)
    except OSError:
        return None, [], None
    finally:
        s.close()
    return st, [f["text"] for f in text_frames(body)], hdrs.get("last-message-id")


def publish(srv, cid, n):
    st, _, _ = publish_text(srv, cid, json.dumps({"n": n}))
    return st == 200


def mids_of(srv, cid, count):
    """The mids of the newest `count` messages of cid (a catch-up from zero)."""
    s = connect(srv.sub_port, timeout=4)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), "0" * 26)))
    st, _, body = read_response(s)
    s.close()
    return [f["mid"] for f in text_frames(body)][-count:]


def single_node(conf, label):
    with Server(dict(conf, **{"longpoll-timeout": 2})) as srv:
        w = Witness(srv)
        cid = new_id()
        for n in (1, 2, 3):
            publish(srv, cid, n)
        w.step()

        st, texts, _ = poll(srv, cid, FUTURE)
        ok(st == 200 and [t["n"] for t in texts] == [1, 2, 3],
           "%s: a long poll resuming with mid=9...9 gets the history at once (got %s %r)"
           % (label, st, texts))
        w.step()

        # just above the newest mid issued (this run's counter + 1000: the
        # test made fewer than 1000 messages): as unknown as 9...9
        newest = mids_of(srv, cid, 1)[0]
        above = "%026d" % (int(newest) + 1000)
        st, texts, _ = poll(srv, cid, above)
        ok(st == 200 and [t["n"] for t in texts] == [1, 2, 3],
           "%s: a mid just above the newest issued is unknown too (got %s %r)" % (label, st, texts))
        w.step()

        # a real mid still resumes exactly after it: nothing until a publish
        st, texts, lmid = poll(srv, cid, newest, timeout=8)
        ok(st == 304 and lmid == newest,
           "%s: the newest real mid resumes after it (304, Last-Message-Id kept: %s %s)"
           % (label, st, lmid))
        w.step()

        # WebSocket: the catch-up, then live messages (old code: nothing at all)
        c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), FUTURE))
        got = [f["text"]["n"] for f in frames(c, 3)]
        ok(got == [1, 2, 3], "%s: a WebSocket resuming with mid=9...9 gets the catch-up (%r)"
           % (label, got))
        publish(srv, cid, 4)
        w.step()
        got = [f["text"]["n"] for f in frames(c, 1)]
        ok(got == [4], "%s: ... and every live message after it (%r)" % (label, got))
        c.close()
        w.check(label)


def journal_case(workers):
    jdir = tempfile.mkdtemp(prefix="pullbox-futuremid-")
    srv = Server({"journal-path": jdir, "longpoll-timeout": 2, "workers": workers})
    try:
        cid = new_id()
        for n in (1, 2):
            publish(srv, cid, n)
        before = mids_of(srv, cid, 2)
        srv.stop()
        srv.start()
        w = Witness(srv)
        w.step()
        # mids of the previous run are issued (the journal replayed them)
        st, texts, _ = poll(srv, cid, before[0])
        ok(st == 200 and [t["n"] for t in texts] == [2],
           "journal, %d worker(s): a mid of the run before the restart resumes after it (%s %r)"
           % (workers, st, texts))
        w.step()
        st, texts, _ = poll(srv, cid, FUTURE)
        ok(st == 200 and [t["n"] for t in texts] == [1, 2],
           "journal, %d worker(s): after a restart, mid=9...9 is unknown: the catch-up (%s %r)"
           % (workers, st, texts))
        w.step()
        publish(srv, cid, 3)
        fresh = mids_of(srv, cid, 1)[0]
        st, texts, lmid = poll(srv, cid, fresh, timeout=8)
        ok(st == 304 and lmid == fresh,
           "journal, %d worker(s): a mid made after the restart resumes after it (%s %s)"
           % (workers, st, lmid))
        w.step()
        w.check("(journal, %d worker(s))" % workers)
    finally:
        srv.stop()


def redis_case():
    if not shutil.which("redis-server"):
        note("redis-server is not installed: the cluster case is skipped")
        return
    redis = Redis()
    conf = {"redis": redis.addr, "longpoll-timeout": 2, "redis-timeout": 500}
    a = Server(dict(conf, **{"node-name": "a"}))
    b = Server(dict(conf, **{"node-name": "b"}), key=a.key)
    late = None
    try:
        w = Witness(b)
        cid = new_id()
        for n in (1, 2, 3):
            publish(a, cid, n)
        w.step()
        st, texts, _ = poll(a, cid, FUTURE)
        ok(st == 200 and [t["n"] for t in texts] == [1, 2, 3],
           "redis: mid=9...9 on the publishing node gets the catch-up (%s %r)" % (st, texts))
        w.step()
        newest = mids_of(b, cid, 1)[0]
        for label, mid in (("above the cluster counter", "%026d" % (int(newest) + 1000)),
                           ("of a newer cluster start", "%010d%016d" % (int(newest[:10]) + 100, 1))):
            st, texts, _ = poll(b, cid, mid)
            ok(st == 200 and [t["n"] for t in texts] == [1, 2, 3],
               "redis: a mid %s is unknown on another node: the catch-up (%s %r)"
               % (label, st, texts))
            w.step()
        # a node that has seen nothing yet asks Redis: real mids stay real
        late = Server(dict(conf, **{"node-name": "late"}), key=a.key)
        mids = mids_of(a, cid, 3)
        st, texts, lmid = poll(late, cid, mids[2], timeout=8)
        ok(st == 304 and lmid == mids[2],
           "redis: the newest real mid on a node that saw nothing resumes after it (%s %s)"
           % (st, lmid))
        st, texts, _ = poll(late, cid, mids[1])
        ok(st == 200 and [t["n"] for t in texts] == [3],
           "redis: ... and the one before it gets exactly the newest (%s %r)" % (st, texts))
        w.step()
        c = WSClient(b.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&mid=%s" % (b.signed(cid), FUTURE))
        got = [f["text"]["n"] for f in frames(c, 3)]
        publish(a, cid, 4)
        got += [f["text"]["n"] for f in frames(c, 1)]
        ok(got == [1, 2, 3, 4], "redis: a WebSocket with mid=9...9 gets the catch-up, then live "
           "messages (%r)" % got)
        c.close()
        w.step()
        w.check("(redis)")
    finally:
        for srv in (late, b, a):
            if srv:
                srv.stop()
        redis.kill()


def main():
    single_node({}, "memory")
    single_node({"workers": 2}, "2 workers")
    journal_case(1)
    journal_case(2)
    redis_case()
    done()


if __name__ == "__main__":
    main()
