#!/usr/bin/env python3
"""Publishing and statistics (docs/protocol.md §1.2 E1-E4, E8, E9, §3, §4.3, §7.5-7.7):
protobuf publish from the trusted side and from clients, channel and server
stats, the protobuf error codes, text stats, DELETE, /server-stat/, /health,
/metrics, and which port serves what. After every refused request another
subscriber is shown to keep receiving."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import pbproto as pb  # noqa: E402
from pbtest import (Server, Poll, Witness, ok, note, done, new_id, sign, http,  # noqa: E402
                    publish_text, text_frames, server_stat, metrics)

BIN = "&binaryMode=true"


def answer(poll, timeout=6):
    try:
        return poll.response(timeout)
    except OSError as e:
        note("poll %s: %r" % (poll.target[:60], e))
        return None, {}, b""


def pb_messages(body):
    """The OutgoingMessages of a binary long-poll answer (None if undecodable)."""
    try:
        rs = pb.decode_response_batch(body)
    except ValueError as e:
        note("decode: %r of %r" % (e, body[:100]))
        return None
    out = []
    for r in rs:
        out.extend(r.get("outgoingMessages", []))
    return out


def pub_bin(srv, batch, port=None, path="/bitrix/pub/?binaryMode=true"):
    return http(port or srv.pub_port, "POST", path, batch,
                headers={"Content-Type": "application/octet-stream"})


def pubsig(srv, pub):
    """Raw signature bytes of a public channel reference."""
    return bytes.fromhex(sign(srv.key, "public:" + pub, srv.algo))


def msg_to(ids, body, private=True, expiry=0, sigs=None):
    recs = [pb.receiver(bytes.fromhex(i), private, (sigs or {}).get(i, b"")) for i in ids]
    return pb.incoming_message(recs, body, expiry=expiry)


class PubWitness:
    """A binary-mode subscriber on priv:pub, opened before a refused request;
    check() sends it a fresh message and asserts that exactly it arrives (so a
    refused batch that was partly delivered to it fails too)."""

    def __init__(self, srv):
        self.srv = srv
        self.cid, self.pub = new_id(), new_id()
        self.poll = Poll(srv, srv.signed(self.cid, self.pub), BIN)

    def check(self, desc):
        token = new_id()
        try:
            st, _, _ = pub_bin(self.srv, pb.request_batch(pb.request_incoming(
                [msg_to([self.cid], json.dumps({"w": token}))])))
            s, _, body = self.poll.response(5)
        except OSError as e:
            note("witness: %r" % (e,))
            st = s = None
            body = b""
        msgs = pb_messages(body) or []
        return ok(st == 200 and s == 200 and [m["body"] for m in msgs] == [json.dumps({"w": token})],
                  "another subscriber still receives (and got nothing else) after " + desc)


CONF = {"longpoll-timeout": 5, "header-timeout": 2, "max-messages-per-request": 3,
        "max-channels-per-request": 3, "online-grace": 0}

with Server(CONF) as srv:
    # ---- trusted protobuf publish, one Request ----
    a = new_id()
    pb_poll = Poll(srv, srv.signed(a), BIN)
    text_poll = Poll(srv, srv.signed(a))
    body = json.dumps({"module_id": "im", "command": "message", "params": {"x": "\u00e9"}})
    t0 = int(time.time())
    st, h, rbody = pub_bin(srv, pb.request_batch(pb.request_incoming(
        [pb.incoming_message([pb.receiver(bytes.fromhex(a), True)], body, expiry=3600,
                             type_="im_message")])))
    ok(st == 200 and rbody == b"" and h.get("access-control-allow-origin") == "*",
       "protobuf publish: 200, empty body (%s %r)" % (st, rbody[:60]))
    st, h, pbody = answer(pb_poll)
    msgs = pb_messages(pbody) or []
    m = msgs[0] if msgs else {"id": b"", "body": None, "expiry": None, "created": 0, "sender": None}
    ok(st == 200 and h.get("content-type") == "application/octet-stream" and len(msgs) == 1,
       "binaryMode long poll: 200 application/octet-stream ResponseBatch with one message (%s %r)"
       % (st, h.get("content-type")))
    ok(len(m["id"]) == 13 and re.match(r"^[0-9]{26}$", m["id"].hex()) is not None,
       "OutgoingMessage.id is 13 bytes whose hex is 26 digits (%s)" % m["id"].hex())
    st2, _, tbody = answer(text_poll)
    tf = text_frames(tbody) if st2 == 200 else []
    ok(tf and tf[0]["mid"] == m["id"].hex(), "hex(id) is the mid a text subscriber sees (%r)"
       % (tf[0]["mid"] if tf else None))
    ok(m["body"] == body and m["expiry"] == 3600 and abs(m["created"] - t0) <= 3,
       "body, expiry (3600) and created (now) are carried (%r %r %r)" % (m["body"], m["expiry"], m["created"]))
    ok(m["sender"] is not None and m["sender"]["type"] == pb.SENDER_BACKEND and m["sender"]["id"] == b"",
       "sender is present with type BACKEND (2) (%r)" % (m["sender"],))

    # expiry above message-ttl is capped (§4.5)
    pb_poll = Poll(srv, srv.signed(a), BIN)
    pub_bin(srv, pb.request_batch(pb.request_incoming([msg_to([a], "{}", expiry=10 ** 6)])))
    st, _, pbody = answer(pb_poll)
    msgs = pb_messages(pbody) or [{"expiry": None}]
    ok(st == 200 and msgs[0]["expiry"] == 86400, "expiry 1000000 is capped to message-ttl 86400 (%r)"
       % msgs[0]["expiry"])

    # ---- public receiver ----
    priv, pub = new_id(), new_id()
    p = Poll(srv, srv.signed(priv, pub), BIN)
    st, _, _ = pub_bin(srv, pb.request_batch(pb.request_incoming([msg_to([pub], '{"to":"pub"}', private=False)])))
    st2, _, pbody = answer(p)
    msgs = pb_messages(pbody) or []
    ok(st == 200 and st2 == 200 and [x["body"] for x in msgs] == ['{"to":"pub"}'],
       "protobuf publish to a public receiver reaches the priv:pub subscriber")

    # binary catch-up: several messages in one ResponseBatch with one outgoingMessages
    m0 = m["id"].hex()
    p = Poll(srv, srv.signed(a), BIN + "&mid=" + m0, wait=False)
    st, _, pbody = answer(p)
    try:
        rs = pb.decode_response_batch(pbody)
    except ValueError:
        rs = []
    ok(st == 200 and len(rs) == 1 and [x["body"] for x in rs[0].get("outgoingMessages", [])] == ["{}"]
       and all(x["sender"] is not None for x in rs[0]["outgoingMessages"]),
       "binary catch-up by mid: one ResponseBatch, one outgoingMessages, senders present (%r)" % rs)
    pub_bin(srv, pb.request_batch(pb.request_incoming([msg_to([a], '{"c":1}'), msg_to([a], '{"c":2}')])))
    p = Poll(srv, srv.signed(a), BIN + "&mid=" + m0, wait=False)
    st, _, pbody = answer(p)
    try:
        rs = pb.decode_response_batch(pbody)
    except ValueError:
        rs = []
    ok(st == 200 and len(rs) == 1 and [x["body"] for x in rs[0].get("outgoingMessages", [])]
       == ["{}", '{"c":1}', '{"c":2}'],
       "binary catch-up of 3 messages: one ResponseBatch, in order (%r)" % rs)

    # ---- several Requests in one batch, several messages in one Request ----
    b1, b2, d, e = new_id(), new_id(), new_id(), new_id()
    p1 = Poll(srv, srv.signed(b1), BIN)
    p2 = Poll(srv, srv.signed(b2), BIN)
    pd = Poll(srv, srv.signed(d), BIN)
    batch = pb.request_batch(
        pb.request_incoming([msg_to([b1], '{"r":1,"m":1}'), msg_to([b1, b2], '{"r":1,"m":2}')]),
        pb.request_incoming([msg_to([b2], '{"r":2}')]),
        pb.request_channel_stats([pb.channel_id(bytes.fromhex(d), True), pb.channel_id(bytes.fromhex(e), True)]))
    st, h, rbody = pub_bin(srv, batch)
    try:
        rs = pb.decode_response_batch(rbody)
    except ValueError:
        rs = []
    stats = [c for r in rs for c in r.get("channelStats", [])]
    ok(st == 200 and h.get("content-type") == "application/octet-stream"
       and [(c["id"].hex(), c["isPrivate"], c["isOnline"]) for c in stats] == [(d, True, True), (e, True, False)],
       "batch of 3 Requests: the channelStats one is answered (%s %r)" % (st, stats))
    s1, _, x1 = answer(p1)
    s2, _, x2 = answer(p2)
    g1 = [x["body"] for x in (pb_messages(x1) or [])]
    g2 = [x["body"] for x in (pb_messages(x2) or [])]
    ok(g1 == ['{"r":1,"m":1}', '{"r":1,"m":2}'], "batch: both messages of Request 1 reach b1 (%r)" % g1)
    ok(g2 == ['{"r":1,"m":2}', '{"r":2}'], "batch: Request 1's 2nd and Request 2's message reach b2 (%r)" % g2)

    # ---- channelStats alone; serverStats ----
    st, h, rbody = pub_bin(srv, pb.request_batch(pb.request_channel_stats(
        [pb.channel_id(bytes.fromhex(x), True) for x in (e, d)])))
    try:
        rs = pb.decode_response_batch(rbody)
    except ValueError:
        rs = []
    ok(st == 200 and len(rs) == 1 and [(c["id"].hex(), c["isOnline"]) for c in rs[0].get("channelStats", [])]
       == [(e, False), (d, True)],
       "channelStats: isOnline true for the subscribed channel only, in request order (%r)" % rs)
    pd.close()
    st, h, rbody = pub_bin(srv, pb.request_batch(pb.request_server_stats()))
    try:
        rs = pb.decode_response_batch(rbody)
        sj = json.loads(rs[0]["serverStats"])
    except (ValueError, KeyError, IndexError):
        rs, sj = [], None
    ok(st == 200 and isinstance(sj, list) and sj and sj[0].get("pid") == srv.pid,
       "serverStats: a JsonResponse with the /server-stat/ JSON (%r)" % (sj,))

    # ---- protobuf errors ----
    def pb_error(desc, batch, code, text, port=None, path="/bitrix/pub/?binaryMode=true"):
        w = PubWitness(srv)
        st, h, rbody = pub_bin(srv, batch, port=port, path=path)
        want = ("%d: %s" % (code, text)).encode()
        ok(st == 400 and rbody == want and h.get("content-type") == "text/plain",
           "%s: 400 %r (%s %r)" % (desc, want.decode(), st, rbody))
        # the witness's channel was a valid receiver in some of the refused batches
        w.check(desc)
        return w

    for desc, bad in (("a length past the end", b"\x0a\xff\x01"),
                      ("an 11-byte varint", b"\x08" + b"\xff" * 10 + b"\x01"),
                      ("a group wire type", b"\x0b\x0c"),
                      ("a Request field with the wrong wire type", b"\x08\x01"),
                      ("a body that is not UTF-8", pb.request_batch(pb.request_incoming(
                          [pb.incoming_message([pb.receiver(bytes(16), True)], b"\xff\xfe")]))),
                      ("plain text", b"hello")):
        pb_error("malformed protobuf (%s)" % desc, bad, 4013, "Wrong Request Data.")

    w_cid = new_id()
    four = pb.request_incoming([msg_to([new_id()], '{"n":%d}' % i) for i in range(4)])
    pb_error("4 messages with max-messages-per-request=3", pb.request_batch(four),
             4016, "Request exceeded the maximum number of messages.")
    pb_error("4 receivers with max-channels-per-request=3",
             pb.request_batch(pb.request_incoming([msg_to([new_id() for _ in range(4)], "{}")])),
             4018, "Request exceeded the maximum number of channels.")
    pb_error("a receiver id of 15 bytes",
             pb.request_batch(pb.request_incoming([pb.incoming_message(
                 [pb.receiver(bytes(15), True)], "{}")])),
             4019, "Request has an invalid channel id.")
    pb_error("a receiver id of 32 hex chars as text",
             pb.request_batch(pb.request_incoming([pb.incoming_message(
                 [pb.receiver(new_id().encode(), True)], "{}")])),
             4019, "Request has an invalid channel id.")

    # a refused batch delivers nothing, even to its valid receivers
    w = PubWitness(srv)
    st, _, rbody = pub_bin(srv, pb.request_batch(
        pb.request_incoming([msg_to([w.cid], '{"partial":1}')]),
        pb.request_incoming([pb.incoming_message([pb.receiver(bytes(15), True)], "{}")])))
    ok(st == 400 and rbody.startswith(b"4019:"), "batch with a good and a bad Request: 4019 (%s %r)" % (st, rbody))
    w.check("a refused batch that also had a valid message for it")
    st, _, rbody = pub_bin(srv, b"")
    ok(st == 400 and rbody == b"4022: Empty request.", "empty RequestBatch: 400 4022 (%s %r)" % (st, rbody))

    # ---- text publish / stats / DELETE: CHANNEL_ID errors ----
    for q, want in (("", b"4017: No channels found."), ("CHANNEL_ID=", b"4017: No channels found."),
                    ("CHANNEL_ID=%2F%2F", b"4017: No channels found."),
                    ("CHANNEL_ID=a/b/c/d", b"4018: Request exceeded the maximum number of channels."),
                    ("CHANNEL_ID=a%2Fb%2Fc%2Fd", b"4018: Request exceeded the maximum number of channels."),
                    ("CHANNEL_ID=../etc", b"4019: Request has an invalid channel id."),
                    ("CHANNEL_ID=" + "a" * 65, b"4019: Request has an invalid channel id.")):
        w = Witness(srv)
        got = [http(srv.pub_port, meth, "/bitrix/pub/?" + q, "x" if meth == "POST" else b"")[::2]
               for meth in ("POST", "GET", "DELETE")]
        ok(got == [(400, want)] * 3, "POST/GET/DELETE /bitrix/pub/?%s: 400 %r (%r)" % (q[:40], want, got))
        w.check("a refused CHANNEL_ID %r" % q[:40])
    w = Witness(srv)
    st, _, rbody = http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=" + new_id(), b"")
    ok(st in (200, 400), "text publish with an empty body: 200 or 400 (%s %r)" % (st, rbody))
    w.check("an empty text publish")
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    st, _, _ = http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=%s.%s" % (cid, "0" * 40), '{"sig":"ignored"}')
    ok(st == 200 and b'"sig":"ignored"' in answer(p)[2],
       "trusted text publish to id.<any signature>: accepted, signature ignored")
    p = Poll(srv, srv.signed(cid))
    st, _, _ = http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=user_42/%s" % cid, '{"generic":1}')
    ok(st == 200 and b'"generic":1' in answer(p)[2], "trusted text publish to a generic id and a hex id")

    # ---- text stats (E3) ----
    s1, s2 = new_id(), new_id()
    p = Poll(srv, srv.signed(s1))
    st, h, rbody = http(srv.pub_port, "GET", "/bitrix/pub/?CHANNEL_ID=%s/%s" % (s1, s2))
    ok(st == 200 and rbody == ('{"infos":[{"channel":"%s","subscribers":1}]}' % s1).encode()
       and h.get("content-type") == "text/plain",
       "text stats a/b: only the online channel is listed (%r)" % rbody)
    st, h, rbody = http(srv.pub_port, "GET", "/bitrix/pub/?CHANNEL_ID=%s/%s" % (s2, srv.signed(s1)))
    ok(st == 200 and rbody == ('{"infos":[{"channel":"%s","subscribers":1}]}' % s1).encode(),
       "text stats accepts id.signature and reports the bare id (%r)" % rbody)
    p2 = Poll(srv, srv.signed(s1))
    st, h, rbody = http(srv.pub_port, "GET", "/bitrix/pub/?CHANNEL_ID=" + s1)
    ok(st == 200 and rbody == ('{"infos":[{"channel":"%s","subscribers":2}]}' % s1).encode(),
       "text stats counts 2 subscribers (%r)" % rbody)
    p.close()
    p2.close()
    time.sleep(0.3)
    st, h, rbody = http(srv.pub_port, "GET", "/bitrix/pub/?CHANNEL_ID=" + s1)
    ok(st == 200 and rbody == b'{"infos":[]}', "text stats after the subscribers left (online-grace 0): empty (%r)" % rbody)

    # ---- DELETE clears history ----
    x = new_id()
    p = Poll(srv, srv.signed(x))
    publish_text(srv, x, '{"d":0}')
    m0 = text_frames(answer(p)[2])[0]["mid"]
    publish_text(srv, x, '{"d":1}')
    publish_text(srv, x, '{"d":2}')
    st, _, rbody = http(srv.pub_port, "DELETE", "/bitrix/pub/?CHANNEL_ID=" + x)
    ok(st == 200, "DELETE /bitrix/pub/: 200 (%s %r)" % (st, rbody))
    p = Poll(srv, srv.signed(x), "&mid=" + m0)
    publish_text(srv, x, '{"d":3}')
    st, _, rbody = answer(p)
    ok(st == 200 and [f["text"] for f in text_frames(rbody)] == [{"d": 3}],
       "after DELETE a subscribe with mid gets no history, only the new message (%r)" % rbody[-80:])

    # ---- /server-stat/, /health, /metrics ----
    before = server_stat(srv)
    q1 = Poll(srv, srv.signed(new_id()))
    q2 = Poll(srv, srv.signed(new_id()))
    st, h, rbody = http(srv.pub_port, "GET", "/server-stat/")
    try:
        js = json.loads(rbody)
    except ValueError:
        js = None
    o = js[0] if isinstance(js, list) and js else {}
    ok(st == 200 and h.get("content-type") == "application/json" and isinstance(js, list) and len(js) == 1,
       "/server-stat/: 200 application/json array of one process (%r)" % rbody[:80])
    ok(o.get("pid") == srv.pid and isinstance(o.get("channels"), int) and o.get("websockets") == 0
       and o.get("pollings") == before["pollings"] + 2,
       "/server-stat/: pid, channels, websockets 0, pollings counts the 2 new polls (%r)" % o)
    q1.close()
    q2.close()
    st, h, rbody = http(srv.pub_port, "GET", "/health")
    ok(st == 200 and json.loads(rbody) == {"live": True, "ready": True}, "/health: 200 live/ready (%r)" % rbody)

    m_before = metrics(srv)
    mc = new_id()
    p = Poll(srv, srv.signed(mc))
    publish_text(srv, mc, '{"metric":1}')
    answer(p)
    http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=%s.%s" % (mc, "0" * 40))
    st, h, rbody = http(srv.pub_port, "GET", "/metrics")
    m_after = metrics(srv)

    def delta(name):
        return m_after.get(name, 0) - m_before.get(name, 0)
    ok(st == 200 and h.get("content-type", "").startswith("text/plain")
       and b"# TYPE pullbox_messages_in_total counter" in rbody,
       "/metrics: 200 Prometheus text (%r)" % h.get("content-type"))
    ok(delta("pullbox_messages_in_total") == 1, "/metrics: messages in +1 (%r)" % delta("pullbox_messages_in_total"))
    ok(delta("pullbox_deliveries_total") == 1, "/metrics: deliveries +1 (%r)" % delta("pullbox_deliveries_total"))
    ok(delta("pullbox_signature_failures_total") == 1,
       "/metrics: signature failures +1 (%r)" % delta("pullbox_signature_failures_total"))

    # ---- which port serves what ----
    sub_id = srv.signed(new_id())
    for method, path in (("GET", "/bitrix/pub/?CHANNEL_ID=" + new_id()), ("POST", "/bitrix/pub/?CHANNEL_ID=" + new_id()),
                         ("POST", "/bitrix/pub/?binaryMode=true"), ("DELETE", "/bitrix/pub/?CHANNEL_ID=" + new_id()),
                         ("GET", "/server-stat/"), ("GET", "/health"), ("GET", "/metrics"),
                         ("POST", "/bitrix/api/")):
        st, h, rbody = http(srv.sub_port, method, path, "{}" if method == "POST" else b"")
        ok(st == 404 and rbody == b"", "subscribe port does not serve %s %s (%s)" % (method, path.split("?")[0], st))
    for method, path in (("GET", "/bitrix/sub/?CHANNEL_ID=" + sub_id), ("GET", "/bitrix/subws/?CHANNEL_ID=" + sub_id),
                         ("POST", "/bitrix/rest/?CHANNEL_ID=" + sub_id), ("POST", "/bitrix/pubweb/?CHANNEL_ID=" + sub_id)):
        st, h, rbody = http(srv.pub_port, method, path, "x" if method == "POST" else b"", timeout=3)
        ok(st == 404 and rbody == b"", "publish port does not serve %s %s (%s)" % (method, path.split("?")[0], st))

    # ---- client publish on /bitrix/rest/ (untrusted, §3) ----
    me_priv, me_pub = new_id(), new_id()
    me = srv.signed(me_priv, me_pub)
    t_priv, t_pub = new_id(), new_id()
    for path in ("/bitrix/rest/", "/bitrix/pubweb/"):
        p = Poll(srv, srv.signed(t_priv, t_pub), BIN)
        spoof = pb.incoming_message([pb.receiver(bytes.fromhex(t_pub), False, pubsig(srv, t_pub))],
                                    '{"module_id":"t","from":"client"}', expiry=60,
                                    sender_bytes=pb.sender(pb.SENDER_BACKEND, bytes.fromhex(new_id())))
        st, h, rbody = pub_bin(srv, pb.request_batch(pb.request_incoming([spoof])),
                               port=srv.sub_port, path=path + "?CHANNEL_ID=" + me)
        st2, _, pbody = answer(p)
        msgs = pb_messages(pbody) or [{"body": None, "sender": None}]
        ok(st == 200 and st2 == 200 and msgs[0]["body"] == '{"module_id":"t","from":"client"}',
           "client publish on %s to a signed public receiver is delivered (%s %r)" % (path, st, rbody))
        ok(msgs[0]["sender"] == {"type": pb.SENDER_CLIENT, "id": bytes.fromhex(me_pub)},
           "client publish on %s: sender.type CLIENT (1), sender.id = the publisher's public id, "
           "whatever sender the client wrote (%r)" % (path, msgs[0]["sender"]))
    # the pub id also works with the publisher's shared channel listed first
    p = Poll(srv, srv.signed(t_priv, t_pub), BIN)
    st, _, _ = pub_bin(srv, pb.request_batch(pb.request_incoming([pb.incoming_message(
        [pb.receiver(bytes.fromhex(t_pub), False, pubsig(srv, t_pub))], '{"module_id":"t","shared":1}')])),
        port=srv.sub_port, path="/bitrix/rest/?CHANNEL_ID=%s%%2F%s" % (srv.signed(new_id()), me))
    st2, _, pbody = answer(p)
    msgs = pb_messages(pbody) or [{"sender": None}]
    ok(st == 200 and msgs[0]["sender"] == {"type": 1, "id": bytes.fromhex(me_pub)},
       "client publish with CHANNEL_ID=<shared.sig>/<priv:pub.sig> (encoded): sender is the pub id")
    # client channelStats
    p = Poll(srv, srv.signed(t_priv, t_pub))
    st, _, rbody = pub_bin(srv, pb.request_batch(pb.request_channel_stats([
        pb.channel_id(bytes.fromhex(t_pub), False, pubsig(srv, t_pub)),
        pb.channel_id(bytes.fromhex(new_id()), False, b"")][:1])),
        port=srv.sub_port, path="/bitrix/rest/?CHANNEL_ID=" + me)
    try:
        cs = pb.decode_response_batch(rbody)[0]["channelStats"]
    except (ValueError, KeyError, IndexError):
        cs = None
    ok(st == 200 and cs and cs[0]["isOnline"] is True, "client channelStats of a signed public id: online (%r)" % cs)
    p.close()

    def rest_error(desc, batch, code, text, channel=me):
        w = PubWitness(srv)
        st, h, rbody = pub_bin(srv, batch, port=srv.sub_port, path="/bitrix/rest/?CHANNEL_ID=" + channel)
        want = ("%d: %s" % (code, text)).encode()
        ok(st == 400 and rbody == want, "client publish, %s: 400 %r (%s %r)" % (desc, want.decode(), st, rbody))
        w.check("client publish refused (%s)" % desc)
        return w

    w = PubWitness(srv)
    good = pb.incoming_message([pb.receiver(bytes.fromhex(w.pub), False, pubsig(srv, w.pub))], '{"module_id":"t"}')
    st, _, rbody = pub_bin(srv, pb.request_batch(pb.request_incoming([good, pb.incoming_message(
        [pb.receiver(bytes.fromhex(w.cid), True, pubsig(srv, w.cid))], '{"bad":2}')])),
        port=srv.sub_port, path="/bitrix/rest/?CHANNEL_ID=" + me)
    ok(st == 400 and rbody == b"4020: Private channel is not allowed.",
       "client publish to a private receiver: 400 4020 (%s %r)" % (st, rbody))
    w.check("a refused client batch that also had a valid message for it")
    rest_error("a receiver with a bad signature", pb.request_batch(pb.request_incoming([pb.incoming_message(
        [pb.receiver(bytes.fromhex(t_pub), False, pubsig(srv, new_id()))], "{}")])),
        4021, "Channel has an invalid signature.")
    rest_error("a receiver without signature", pb.request_batch(pb.request_incoming([pb.incoming_message(
        [pb.receiver(bytes.fromhex(t_pub), False)], "{}")])),
        4021, "Channel has an invalid signature.")
    rest_error("a receiver signed as priv:pub, not public:", pb.request_batch(pb.request_incoming([pb.incoming_message(
        [pb.receiver(bytes.fromhex(t_pub), False, bytes.fromhex(sign(srv.key, t_pub)))], "{}")])),
        4021, "Channel has an invalid signature.")
    rest_error("CHANNEL_ID without a public id", pb.request_batch(pb.request_incoming([pb.incoming_message(
        [pb.receiver(bytes.fromhex(t_pub), False, pubsig(srv, t_pub))], "{}")])),
        4012, "Public Channel Id is Required.", channel=srv.signed(new_id()))
    rest_error("serverStats", pb.request_batch(pb.request_server_stats()),
               4014, "Request command is not allowed.")
    rest_error("a CHANNEL_ID with a bad signature", pb.request_batch(pb.request_server_stats()),
               4010, "Wrong Channel Id.", channel="%s:%s.%s" % (me_priv, me_pub, "0" * 40))
    rest_error("malformed protobuf", b"\x0a\x05\x0a", 4013, "Wrong Request Data.")
    for body in ("{}", "x", "[]", '{"module_id":1}'):  # the receivers' client would throw on these
        rest_error("a body that is no message (%s)" % body, pb.request_batch(pb.request_incoming([
            pb.incoming_message([pb.receiver(bytes.fromhex(t_pub), False, pubsig(srv, t_pub))], body)])),
            4013, "Wrong Request Data.")
done()
