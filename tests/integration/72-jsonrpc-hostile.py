#!/usr/bin/env python3
"""Hostile V5 JSON-RPC input, on both sides (PHP's signed /bitrix/api/ and a
V5 client's WebSocket text frames), against the sanitized pullboxd: every
request gets a well-formed reply with a result or an error (never neither),
every unknown method -32601 whatever bytes its name holds, an error text
that quotes the input is valid UTF-8, nothing leaks (LeakSanitizer at exit),
a protobuf message without a body is published without undefined
behaviour, and a witness subscriber connected all along receives every
message in order. The inputs of tests/fuzz/regression/ are replayed."""
import importlib.util
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from pbtest import Server, ROOT, ok, note, done, new_id, http, Witness  # noqa: E402
import pbproto as pb  # noqa: E402

_spec = importlib.util.spec_from_file_location("jsonrpc70", os.path.join(HERE, "70-jsonrpc.py"))
j70 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(j70)

REGRESSION = os.path.join(ROOT, "tests", "fuzz", "regression")


def seeds(target):
    d = os.path.join(REGRESSION, target)
    return [(n, open(os.path.join(d, n), "rb").read()) for n in sorted(os.listdir(d))]


def api_raw(srv, body):
    """Signed POST /bitrix/api/ of raw bytes: (status, parsed reply or bytes)."""
    path = "/bitrix/api/?signature=" + j70.sign_bytes(srv, body)
    st, _, b = http(srv.pub_port, "POST", path, body)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, b


def well_formed(reply):
    """Each response object: jsonrpc 2.0, an id member, exactly one of
    result and error, an error with an integer code and a string message."""
    items = reply if isinstance(reply, list) else [reply]
    if not items:
        return False
    for r in items:
        if not isinstance(r, dict) or r.get("jsonrpc") != "2.0" or "id" not in r:
            return False
        if ("result" in r) == ("error" in r):
            return False
        e = r.get("error")
        if e is not None and not (isinstance(e, dict) and isinstance(e.get("code"), int)
                                  and isinstance(e.get("message"), str)):
            return False
    return True


def code_of(reply):
    r = reply[0] if isinstance(reply, list) and reply else reply
    return r.get("error", {}).get("code") if isinstance(r, dict) else None


class V5Witness:
    """A V5 subscriber (user 77) that must get every message published to it,
    in order, while the hostile input goes on."""

    def __init__(self, srv):
        self.srv = srv
        self.c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("77", [])))
        self.sent = []
        time.sleep(0.2)

    def publish(self):
        n = len(self.sent)
        st, _ = api_raw(self.srv, json.dumps(
            [j70.rpc("publish", {"userList": [77], "body": j70.pbody("w", n=n)})]).encode())
        self.sent.append(n)
        return st == 200

    def check(self, desc):
        got = []
        while len(got) < len(self.sent):
            m = self.c.incoming(3)
            if m is None:
                break
            got.append(m["params"]["body"]["params"]["n"])
        return ok(got == self.sent, "the V5 witness got all %d messages in order %s (%r)"
                  % (len(self.sent), desc, got[-5:]))


def leak_side(srv, witness):
    """Seed 1: publish without params, repeated: -32602 each time on both
    sides; LeakSanitizer at exit finds nothing."""
    frame = dict(seeds("jsonrpc"))["publish-without-params.json"]
    c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("5", [])))
    time.sleep(0.2)
    answers = []
    for i in range(100):
        c.send(frame.decode())
        r = c.get(3, lambda m: isinstance(m, dict) and "method" not in m)
        answers.append(code_of(r) if r else None)
        if i % 20 == 0:
            witness.publish()
    ok(answers == [-32602] * 100, "100 V5 frames of a publish without params: -32602 each (%r)"
       % sorted(set(answers), key=str))
    codes = set()
    for i in range(30):
        st, r = api_raw(srv, frame)
        codes.add((st, code_of(r)))
    ok(codes == {(200, -32602)}, "the same body signed on /bitrix/api/: 200 with -32602 (%r)" % codes)
    c.finish()


def method_names(srv):
    """Unknown methods of every length and byte: -32601 with the name quoted
    as valid text, on both sides."""
    names = ["a" * 63 + "é", "a" * 64 + "é", "a" * 62 + "€", "a" * 61 + "😀", "x" * 5000,
             "публикация", "pub", "publishX", "Publish", "ping ", "getUsersLastSeen2", "é" * 40,
             "serverStats"]  # serverStats is the trusted side's only
    c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("6", [])))
    time.sleep(0.2)
    for i, name in enumerate(names):
        req = {"jsonrpc": "2.0", "method": name, "id": i + 1}
        st, r = api_raw(srv, json.dumps([req], ensure_ascii=False).encode())
        if name != "serverStats":
            ok(st == 200 and well_formed(r) and code_of(r) == -32601,
               "/bitrix/api/: unknown method of %d bytes (%r...): -32601 (%s %r)"
               % (len(name.encode()), name[:8], st, r if not isinstance(r, list) else r[0].get("error")))
        c.send(json.dumps(req, ensure_ascii=False))
        m = c.response(i + 1)
        ok(m is not None and well_formed(m) and code_of(m) == -32601,
           "WebSocket: unknown method %r... (%d bytes): -32601 (%r)"
           % (name[:8], len(name.encode()), m and m.get("error")))
    c.finish()
    for n, body in seeds("jsonrpc"):
        st, r = api_raw(srv, body)
        ok(well_formed(r), "seed %s on /bitrix/api/: a well-formed reply (%s %r)" % (n, st, r))
    st, r = api_raw(srv, dict(seeds("jsonrpc"))["unknown-method-cut-utf8.json"])
    ok(code_of(r) == -32601, "seed unknown-method-cut-utf8: -32601, not a result (%r)" % (r,))


def parse_errors(srv):
    """A parse error whose text quotes the input cut inside a character."""
    bodies = [dict(seeds("jsonrpc"))["parse-error-cut-utf8.json"], '"\\€'.encode(),
              '"\\😀'.encode(), b'"\\\xd0', b'"\\\xff\xfe', b'{"a":"' + b'\xd0\x9a' * 200,
              b'\xc3(', b'[' * 3000]
    c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("8", [])))
    time.sleep(0.2)
    for b in bodies:
        st, r = api_raw(srv, b)
        ok(st == 400 and well_formed(r) and code_of(r) == -32700,
           "/bitrix/api/ %r...: 400 with error -32700 (%s %r)" % (b[:8], st, r))
        c.c.send_frame(0x1, b)  # raw: invalid UTF-8 included
        m = c.get(3, lambda x: isinstance(x, dict) and "method" not in x)
        if c.close is not None or c.c.closed_by_peer:
            note("the server closed the V5 socket on %r (a text frame that is not UTF-8)" % b[:8])
            c.finish()
            c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("8", [])))
            time.sleep(0.2)
            continue
        ok(m is not None and well_formed(m) and code_of(m) == -32700,
           "WebSocket %r...: error -32700 (%r)" % (b[:8], m))
    c.finish()


def ids(srv):
    """An id that is an object, an array or a boolean is not an id (JSON-RPC
    2.0): -32600 with id null, not the object echoed back; a string, a
    number or null is echoed as sent, on both sides."""
    c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("9", [])))
    time.sleep(0.2)
    for bad in ({"a": [1, 2]}, [7], True, {"x": "y" * 5000}):
        req = {"jsonrpc": "2.0", "method": "ping", "id": bad}
        st, r = api_raw(srv, json.dumps([req]).encode())
        r0 = r[0] if isinstance(r, list) and r else {}
        ok(st == 200 and well_formed(r) and code_of(r) == -32600 and r0.get("id") is None
           and "id" in str(r0.get("error", {}).get("message")),
           "/bitrix/api/: id %.20r: -32600 naming the id, answered with id null (%s %.120r)"
           % (bad, st, r))
        c.send(json.dumps(req))
        m = c.get(3, lambda x: isinstance(x, dict) and "method" not in x)
        ok(m is not None and well_formed(m) and code_of(m) == -32600 and m.get("id") is None,
           "WebSocket: id %.20r: -32600 with id null (%.120r)" % (bad, m))
    for good in ("abc", 5, 1.5, None):
        c.send(json.dumps({"jsonrpc": "2.0", "method": "ping", "id": good}))
        m = c.get(3, lambda x: isinstance(x, dict) and "method" not in x)
        ok(m is not None and m.get("result") == {"pong": True} and m.get("id") == good,
           "WebSocket: id %r is echoed with the result (%r)" % (good, m))
    c.finish()


def empty_body(srv, witness):
    """Seed protobuf/message-without-body: published without undefined
    behaviour, delivered as a message with an empty body (binary), as a
    frame the client skips (text: the client's handler throws on "")."""
    body = dict(seeds("protobuf"))["message-without-body.bin"]
    cid = bytes(range(16)).hex()
    st, _, _ = http(srv.pub_port, "POST", "/bitrix/pub/?binaryMode=true", body)
    ok(st == 200, "protobuf publish of a message without body: 200 (%s)" % st)
    st, _, b = http(srv.sub_port, "GET", "/bitrix/sub/?binaryMode=true&mid=%s&CHANNEL_ID=%s"
                    % ("0" * 26, srv.signed(cid)))
    msgs = []
    if st == 200:
        for r in pb.decode_response_batch(b):
            msgs += (r.get("outgoingMessages") or [])
    ok(len(msgs) == 1 and msgs[0].get("body", b"") in (b"", ""),
       "it is stored with an empty body (%s %r)" % (st, msgs))
    st, _, b = http(srv.sub_port, "GET", "/bitrix/sub/?mid=%s&CHANNEL_ID=%s" % ("0" * 26, srv.signed(cid)))
    frames = re.findall(rb"#!NGINXNMS!#(.*?)#!NGINXNME!#", b)
    parsed = []
    for f in frames:
        try:
            parsed.append(json.loads(f))
        except ValueError:
            pass
    ok(st == 200 and len(frames) == 1 and not parsed,
       "text mode: one frame, which the client cannot parse and skips (%s %r)" % (st, b[-80:]))
    witness.publish()


def main():
    with Server({"jsonrpc-ping-interval": 1}) as srv:
        witness = V5Witness(srv)
        lp = Witness(srv)
        for fn in (lambda: leak_side(srv, witness), lambda: method_names(srv),
                   lambda: parse_errors(srv), lambda: ids(srv), lambda: empty_body(srv, witness)):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                import traceback
                note(traceback.format_exc())
                ok(False, "a step ran to its end (%s: %s)" % (type(e).__name__, e))
            witness.publish()
        witness.check("through all of it")
        lp.check("all of the hostile JSON-RPC")
        witness.c.finish()
    done()


if __name__ == "__main__":
    main()
