#!/usr/bin/env python3
"""Back-pressure: a WebSocket subscriber that never reads is dropped once more
than max-output-buffer is queued for it (metric slow_reader), memory stays
bounded, and subscribers that do read lose nothing. Then a long-poll flood:
2000 connections opened and closed quickly leave the server healthy."""
import json
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, ok, note, done, new_id, http, connect, build_request,  # noqa: E402
                    read_response, text_frames, publish_text, server_from, OUT)
from wsclient import WSClient, OP_TEXT  # noqa: E402
from wsreader import WSReader as Reader  # noqa: E402

MSG_SIZE = 32 * 1024
OBUF = 65536


def metric(srv, name, labels=""):
    st, _, b = http(srv.pub_port, "GET", "/metrics")
    if st != 200:
        return None
    pat = re.escape(name + labels) + r" ([0-9.e+-]+)"
    m = re.search(r"(?m)^" + pat + r"$", b.decode())
    return float(m.group(1)) if m else None


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Publisher:
    """Sequential publishes on one keep-alive connection."""

    def __init__(self, srv):
        self.srv = srv
        self.s = connect(srv.pub_port, timeout=10)
        self.s._pb_rest = b""

    def publish(self, cid, body):
        self.s.sendall(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, body,
                                     {"Message-Expiry": "600"}))
        st, _, _ = read_response_keep(self.s)
        return st

    def close(self):
        self.s.close()


def read_response_keep(s):
    buf = getattr(s, "_pb_rest", b"")
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
    return status, None, rest[:n]


def big_body(n):
    return json.dumps({"module_id": "t", "command": "big",
                       "params": {"n": n, "pad": "x" * (MSG_SIZE - 80)}})


def slow_reader_test(srv):
    cid = new_id()
    reader = Reader(srv, cid)
    slow = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid), rcvbuf=4096)
    ok(slow.status == 101 and reader.c.status == 101, "a reading and a never-reading subscriber are connected")
    slow_rcv = slow.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    note("slow reader SO_RCVBUF = %d" % slow_rcv)
    before = metric(srv, "pullbox_drops_total", '{reason="slow_reader"}') or 0
    ws_before = metric(srv, "pullbox_connections", '{transport="websocket"}')
    ok(ws_before == 2, "metrics count 2 WebSocket connections (%s)" % ws_before)
    pub = Publisher(srv)
    rss0 = rss_kb(srv.pid)
    sent, statuses, dropped_at = 0, set(), None
    t0 = time.time()
    # at most 1200 x 32 KB = 37.5 MB; a bounded queue is dropped after ~100 KB
    while sent < 1200 and time.time() - t0 < 25:
        statuses.add(pub.publish(cid, big_body(sent)))
        sent += 1
        # pace with the reading subscriber (at most one message behind): a
        # reader slower than the publisher by more than max-output-buffer
        # would rightly be dropped too, and this one must not be
        reader.wait_for(sent - 1, 5)
        if sent % 10 == 0:
            if dropped_at is None and (metric(srv, "pullbox_drops_total", '{reason="slow_reader"}') or 0) > before:
                dropped_at = sent
            if dropped_at is not None and sent >= max(300, dropped_at + 100):
                break
    rss1 = rss_kb(srv.pid)
    pub.close()
    note("published %d x %d KB in %.1fs; slow reader dropped after ~%s messages" % (
        sent, MSG_SIZE // 1024, time.time() - t0, dropped_at))
    ok(statuses == {200}, "every publish answered 200 (%s)" % statuses)
    ok(dropped_at is not None, "the never-reading subscriber was dropped")
    ok(dropped_at is not None and dropped_at <= 200,
       "early: within ~%s messages (%d KB) for max-output-buffer %d" % (
           dropped_at, (dropped_at or 0) * MSG_SIZE // 1024, OBUF))
    after = metric(srv, "pullbox_drops_total", '{reason="slow_reader"}') or 0
    ok(after - before == 1, "pullbox_drops_total{reason=\"slow_reader\"} rose by exactly 1 (%s -> %s)" % (before, after))

    # the slow socket: it can now read what the kernel held, then the frame
    # that was being written, a close that says why, and EOF
    got = 0
    eof = False
    slow.sock.settimeout(1)
    deadline = time.time() + 10
    slow.sock.settimeout(1)
    while time.time() < deadline:
        try:
            chunk = slow.sock.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        got += len(chunk)
        slow.buf += chunk
    ok(eof, "the slow reader's connection is closed by the server")
    frames = []
    while True:
        f = slow._parse_frame()
        if f is None:
            break
        frames.append(f)
    ok(frames and all(f.fin for f in frames) and not slow.buf,
       "what it got is %d whole frames, none cut (%d bytes left over)" % (len(frames), len(slow.buf)))
    last = frames[-1] if frames else None
    ok(last is not None and last.opcode == 8 and last.close_code() == 1013
       and "max-output-buffer" in last.close_reason(),
       "the last one is a close 1013 naming max-output-buffer (%r)" % (
           (last.opcode, last.close_code(), last.close_reason()) if last else None,))
    ok(got < sent * MSG_SIZE / 2, "it received only part of the stream (%d KB of %d KB)" % (
        got // 1024, sent * MSG_SIZE // 1024))
    slow.shutdown()

    ok(reader.wait_for(sent, 20), "the reading subscriber received all %d messages (%d)" % (sent, len(reader.ns)))
    ok(reader.ns == list(range(sent)), "in order, none lost or doubled")
    ok(reader.is_alive() and not reader.c.closed_by_peer, "and is still connected")
    ws_after = metric(srv, "pullbox_connections", '{transport="websocket"}')
    ok(ws_after == 1, "metrics count 1 WebSocket connection after the drop (%s)" % ws_after)
    note("RSS %d KB -> %d KB (sanitizer build: RSS is not judged here)" % (rss0, rss1))
    reader.finish()


def rss_test():
    """Memory under a never-reading subscriber, on the plain build (ASan's
    quarantine keeps freed memory resident, so its RSS says nothing)."""
    plain = os.environ.get("PULLBOX_BIN") or os.path.join(OUT, "pullboxd")
    if not os.path.exists(plain):
        ok(True, "# SKIP no plain build at %s for the RSS check" % plain)
        return
    with server_from(plain, {"max-output-buffer": OBUF, "history-length": 10,
                             "ws-ping-interval": 60}) as srv:
        cid = new_id()
        reader = Reader(srv, cid)
        slows = [WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid), rcvbuf=4096)
                 for _ in range(5)]
        pub = Publisher(srv)
        for i in range(50):  # warm up the allocator and history
            pub.publish(new_id(), big_body(i))
        rss0 = rss_kb(srv.pid)
        peak = rss0
        n = 0
        t0 = time.time()
        # 2000 x 32 KB = 62.5 MB published while 5 subscribers never read
        while n < 2000 and time.time() - t0 < 180:  # bounded, not a speed test
            pub.publish(cid, big_body(n))
            n += 1
            reader.wait_for(n - 1, 5)  # paced, as above
            if n % 50 == 0:
                peak = max(peak, rss_kb(srv.pid))
                # reconnect dropped slow readers: the pressure stays on
                for k, s in enumerate(slows):
                    s.sock.setblocking(False)
                    try:
                        dead = s.sock.recv(1, socket.MSG_PEEK) == b""
                    except BlockingIOError:
                        dead = False
                    except OSError:
                        dead = True
                    if dead:
                        s.shutdown()
                        slows[k] = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid),
                                            rcvbuf=4096)
        pub.close()
        peak = max(peak, rss_kb(srv.pid))
        grow = peak - rss0
        note("plain build: published %d x 32 KB; RSS %d KB -> peak %d KB (+%d KB)" % (n, rss0, peak, grow))
        ok(n == 2000, "2000 large messages published (%d)" % n)
        ok(grow < 32 * 1024, "RSS grew by less than 32 MB with 5 never-reading subscribers (+%d KB)" % grow)
        ok(reader.wait_for(n, 20) and reader.ns == list(range(n)),
           "the reading subscriber got all %d, in order (%d)" % (n, len(reader.ns)))
        drops = metric(srv, "pullbox_drops_total", '{reason="slow_reader"}')
        ok(drops is not None and drops >= 5, "slow_reader drops counted: %s" % drops)
        for s in slows:
            s.shutdown()
        reader.finish()


def longpoll_flood(srv):
    """2000 long polls opened and closed quickly, in every rude way."""
    cid = new_id()
    ref = srv.signed(cid)
    base_fds = fd_count(srv.pid)
    t0 = time.time()
    opened = 0
    for batch in range(20):
        socks = []
        for i in range(100):
            try:
                s = socket.create_connection(("127.0.0.1", srv.sub_port), timeout=5)
            except OSError as e:
                note("connect failed: %s" % e)
                continue
            opened += 1
            k = (batch * 100 + i) % 5
            chan = ref if k < 3 else srv.signed(new_id())
            req = build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&binaryMode=%s" % (
                chan, "true" if k == 1 else "false"), headers={"Connection": "keep-alive"})
            if k == 4:
                req = req[:len(req) // 2]  # half a request head
            try:
                s.sendall(req)
            except OSError:
                pass
            socks.append((k, s))
        for k, s in socks:
            if k % 2 == 0:
                # RST instead of FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif k == 3:
                try:
                    s.shutdown(socket.SHUT_WR)  # half-close, then close
                except OSError:
                    pass
            s.close()
    note("opened and closed %d long polls in %.1fs" % (opened, time.time() - t0))
    ok(opened == 2000, "2000 connections were accepted (%d)" % opened)

    # the server settles
    deadline = time.time() + 10
    lp = None
    while time.time() < deadline:
        lp = metric(srv, "pullbox_connections", '{transport="longpoll"}')
        if lp == 0:
            break
        time.sleep(0.2)
    ok(lp == 0, "pullbox_connections{transport=\"longpoll\"} is back to 0 (%s)" % lp)
    deadline = time.time() + 10
    fds = fd_count(srv.pid)
    while fds > base_fds + 5 and time.time() < deadline:
        time.sleep(0.2)
        fds = fd_count(srv.pid)
    ok(fds <= base_fds + 5, "the server's open fds are back to ~%d (%d)" % (base_fds, fds))
    st, _, b = http(srv.pub_port, "GET", "/health")
    ok(st == 200, "/health answers 200 after the flood")

    # long polling still works on the same channel
    s = connect(srv.sub_port, timeout=5)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=" + ref))
    time.sleep(0.2)
    st_pub, _, _ = publish_text(srv, cid, json.dumps({"module_id": "t", "command": "after", "params": {}}))
    try:
        st, _, b = read_response(s)
    except OSError as e:
        st, b = str(e), b""
    s.close()
    frames = text_frames(b) if st == 200 else []
    ok(st_pub == 200 and st == 200 and len(frames) == 1 and frames[0]["text"]["command"] == "after",
       "a new long poll on the flooded channel receives a publish (%s, %d frames)" % (st, len(frames)))
    # so does a WebSocket
    c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + ref)
    publish_text(srv, cid, json.dumps({"module_id": "t", "command": "ws", "params": {}}))
    m = c.recv_message(3)
    ok(m is not None and m[0] == OP_TEXT and text_frames(m[1])[0]["text"]["command"] == "ws",
       "a WebSocket subscriber on it receives too")
    c.shutdown()


def main():
    with Server({"max-output-buffer": OBUF, "history-length": 10, "ws-ping-interval": 60,
                 "longpoll-timeout": 30}) as srv:
        for fn in (slow_reader_test, longpoll_flood):
            try:
                fn(srv)
            except Exception as e:  # noqa: BLE001
                import traceback
                note(traceback.format_exc())
                ok(False, "%s ran to its end (%s: %s)" % (fn.__name__, type(e).__name__, e))
    try:
        rss_test()
    except Exception as e:  # noqa: BLE001
        import traceback
        note(traceback.format_exc())
        ok(False, "rss_test ran to its end (%s: %s)" % (type(e).__name__, e))
    done()


if __name__ == "__main__":
    main()
