#!/usr/bin/env python3
"""max-connections-per-address: with two workers (SO_REUSEPORT spreads one
address's connections over both), one client address gets exactly the
limit across the plain and TLS subscribe ports; each further connection is
answered 503 and counted in pullbox_drops_total{reason="per_address"}; a
closed connection frees its place; another address (127.0.0.2) and the
publish port are not affected, and a WebSocket witness from 127.0.0.2
receives every message in order throughout."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, ok, note, done, new_id, connect, publish_text, metrics,  # noqa: E402
                    make_cert, tls_conf, tls_port, tls_client_context, tls_connect, wait_for,
                    server_stat, free_port)
from wsreader import WSReader  # noqa: E402

LIMIT = 6
OPTIONS = b"OPTIONS /bitrix/sub/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def status(s, timeout=3):
    """The status of the next answer on s (None on close or timeout)."""
    s.settimeout(timeout)
    got = b""
    try:
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (OSError, ssl.SSLError):
        pass
    try:
        return int(got.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def accepted(s):
    """True when s is served: an OPTIONS on it is answered 200."""
    try:
        s.sendall(OPTIONS)
    except OSError:
        return False
    return status(s) == 200


def refused(s):
    """True when s was answered 503 and closed without a request."""
    return status(s) == 503


def spread(srv):
    """Open connections per worker, from /server-stat/."""
    return [w["connections"] for w in server_stat(srv).get("workers", [])]


def per_address_drops(srv):
    return metrics(srv).get('pullbox_drops_total{reason="per_address"}')


class Witness:
    def __init__(self, srv):
        self.srv = srv
        self.cid = new_id()
        self.r = WSReader(srv, self.cid, source="127.0.0.2")
        self.n = 0

    def publish(self):
        st, _, _ = publish_text(self.srv, self.cid, json.dumps(
            {"module_id": "t", "command": "w", "params": {"n": self.n}}), expiry=600)
        if st == 200:
            self.n += 1
        return st

    def check(self, desc):
        self.publish()
        self.r.wait_for(self.n, 10)
        return ok(self.r.ns == list(range(self.n)) and self.r.is_alive(),
                  "the witness on 127.0.0.2 received all %d messages in order %s (%d)" % (
                      self.n, desc, len(self.r.ns)))


def main():
    cert, key = make_cert(tempfile.mkdtemp(prefix="pullbox-16-"))
    ctx = tls_client_context(cafile=cert)
    # loopback stands in for internet clients here: counted only with per-address-loopback
    conf = dict(tls_conf(cert, key), **{"max-connections-per-address": LIMIT, "workers": 2,
                                        "per-address-loopback": "on"})
    with Server(conf) as srv:
        w = Witness(srv)
        ok(w.r.c.status == 101, "a witness WebSocket from 127.0.0.2 is connected")
        drops0 = per_address_drops(srv)
        ok(drops0 == 0, "pullbox_drops_total{reason=\"per_address\"} starts at 0 (%s)" % drops0)

        # the limit across both subscribe ports: 4 plain + 2 TLS, spread over
        # both workers (the kernel hashes the client port: reconnect the
        # plain ones until each worker holds some)
        base = spread(srv)
        mine = [tls_connect(tls_port(srv), ctx) for _ in range(2)]
        mine += [connect(srv.sub_port) for _ in range(LIMIT - 2)]
        ok(all(accepted(s) for s in mine), "%d connections from 127.0.0.1 are served" % LIMIT)
        for i in range(30):
            per = [a - b for a, b in zip(spread(srv), base)]
            if len(per) == 2 and min(per) > 0:
                break
            mine[2 + i % (LIMIT - 2)].close()
            mine[2 + i % (LIMIT - 2)] = connect(srv.sub_port)
            wait_for(lambda: sum(spread(srv)) - sum(base) == LIMIT, 2)
        note("127.0.0.1's connections per worker: %s" % per)
        ok(len(per) == 2 and min(per) > 0 and sum(per) == LIMIT,
           "they are spread over both workers (%s)" % per)
        ok(all(accepted(s) for s in mine), "all %d are still served" % LIMIT)
        w.publish()
        extra = [connect(srv.sub_port) for _ in range(5)]
        ok(all(refused(s) for s in extra),
           "5 more from 127.0.0.1 on the plain port are answered 503")
        for s in extra:
            s.close()
        try:
            t = tls_connect(tls_port(srv), ctx, timeout=3)
            tls_refused = not accepted(t)
            t.close()
        except (OSError, ssl.SSLError):
            tls_refused = True
        ok(tls_refused, "one more on the TLS port is closed")
        drops = per_address_drops(srv)
        ok(drops == 6, "pullbox_drops_total{reason=\"per_address\"} counts the 6 refused (%s)" % drops)
        w.check("while 127.0.0.1 is at its limit")

        # the publish port is not counted
        st = w.publish()
        ok(st == 200, "the publish port still takes publishes from 127.0.0.1 (%s)" % st)

        # closing frees a place, on whichever worker it was
        for s in mine[:2]:
            s.close()
        time.sleep(0.3)
        again = [connect(srv.sub_port) for _ in range(2)]
        ok(all(accepted(s) for s in again), "after 2 closed, 2 new ones from 127.0.0.1 are served")
        over = connect(srv.sub_port)
        ok(refused(over), "and the next one is refused again")
        over.close()
        w.check("after the limit was reached twice")

        # another address has its own count
        other = []
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.3", 0))
            s.connect(("127.0.0.1", srv.sub_port))
            other.append(s)
        ok(all(accepted(s) for s in other), "127.0.0.3 is served while 127.0.0.1 is at its limit")
        for s in mine[2:] + again + other:
            s.close()
        # open: the witness and the /metrics request itself
        ok(wait_for(lambda: metrics(srv).get("pullbox_connections_open") == 2, 5),
           "every counted connection is gone but the witness (%s open)" % metrics(srv).get(
               "pullbox_connections_open"))
        fresh = [connect(srv.sub_port) for _ in range(LIMIT)]
        ok(all(accepted(s) for s in fresh), "127.0.0.1 gets all %d places back" % LIMIT)
        for s in fresh:
            s.close()
        w.check("at the end")
        w.r.finish()

    # by default loopback clients (a reverse proxy, a local load test) are not counted;
    # 127.0.0.1 and ::1 alike
    with Server({"max-connections-per-address": LIMIT}) as srv:
        many = [connect(srv.sub_port) for _ in range(3 * LIMIT)]
        ok(all(accepted(s) for s in many),
           "per-address-loopback off (the default): %d from 127.0.0.1 are served" % len(many))
        ok(per_address_drops(srv) == 0, "and none counted as a per-address drop")
        for s in many:
            s.close()
    v6 = socket.has_ipv6 and subprocess.run(["ip", "-6", "addr", "show", "lo"], capture_output=True,
                                            text=True).stdout.count("::1") > 0
    if v6:
        for flag, want in (("off", 2 * LIMIT), ("on", LIMIT)):
            port = free_port()
            with Server({"max-connections-per-address": LIMIT, "per-address-loopback": flag,
                         "listen-subscribe": "[::1]:%d" % port}) as srv:
                many = []
                for _ in range(2 * LIMIT):
                    s = socket.socket(socket.AF_INET6)
                    s.settimeout(3)
                    s.connect(("::1", port))
                    many.append(s)
                served = sum(1 for s in many if accepted(s))
                ok(served == want, "per-address-loopback %s: %d of %d from ::1 are served (%d)"
                   % (flag, want, len(many), served))
                for s in many:
                    s.close()
    else:
        ok(True, "# SKIP no ::1 on lo")

    # 0 turns the limit off
    with Server({"max-connections-per-address": 0}) as srv:
        many = [connect(srv.sub_port) for _ in range(20)]
        ok(all(accepted(s) for s in many), "max-connections-per-address = 0: 20 from one address")
        for s in many:
            s.close()
    done()


if __name__ == "__main__":
    main()
