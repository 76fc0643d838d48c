#!/usr/bin/env python3
"""Long polling (docs/protocol.md §2, §3, §4.2, §7.2, §7.3): the 304 on timeout and
its headers, text frames, several channels, catch-up by mid with its caps,
history length, message expiry, the push-stream time/tag cursor, signatures
(sha1, sha256, priv:pub) and the refusals (4010, JSONP, 4018)."""
import email.utils
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, Poll, ok, note, done, new_id, sign, http,  # noqa: E402
                    publish_text, text_frames, server_stat, wait_for, connect, build_request,
                    read_response)

MAGIC_EXPIRES = "Thu, 01 Jan 1973 11:11:01 GMT"
RFC1123 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
                     r"|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def answer(poll, timeout=6):
    try:
        return poll.response(timeout)
    except OSError as e:
        note("poll %s: %r" % (poll.target[:60], e))
        return None, {}, b""


def texts(body):
    try:
        return [f["text"] for f in text_frames(body)]
    except ValueError as e:
        note("frames: %r in %r" % (e, body[:200]))
        return None


def mark(srv):
    """A fresh mid: publishes to a throwaway channel with a waiting poll."""
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    publish_text(srv, cid, '{"mark":1}')
    _, _, body = answer(p)
    return text_frames(body)[0]["mid"]


def lp(srv, ids, query="", headers=None, wait=True):
    return Poll(srv, ids, query=query, headers=headers, wait=wait)


def is_304(st, h, mid):
    return (st == 304 and h.get("content-type") == "text/plain"
            and h.get("access-control-allow-origin") == "*"
            and h.get("access-control-expose-headers") == "Last-Message-Id"
            and h.get("expires") == MAGIC_EXPIRES and "last-message-id" in h
            and h.get("last-message-id") == mid)


with Server({"longpoll-timeout": 2, "header-timeout": 2}) as srv:
    # ---- 304 after longpoll-timeout, with the §7.3 headers ----
    fresh = new_id()
    stored = new_id()
    publish_text(srv, stored, '{"s":1}')
    publish_text(srv, stored, '{"s":2}')
    # the newest stored mid, read from a catch-up of the channel
    p = lp(srv, srv.signed(stored), "&mid=" + "0" * 26, wait=False)
    st, _, body = answer(p)
    smids = [f["mid"] for f in text_frames(body)]
    ok(st == 200 and len(smids) == 2, "catch-up from mid 000… returns both stored messages")
    newest = smids[-1] if smids else ""
    future = "9999999999" + "0" * 16
    polls = [
        ("no mid, nothing stored", lp(srv, srv.signed(fresh)), ""),
        ("no mid, messages stored", lp(srv, srv.signed(stored)), newest),
        ("mid = newest stored", lp(srv, srv.signed(stored), "&mid=" + newest), newest),
        # never issued here: unknown, answered as without a mid (66-future-mid.py)
        ("a valid mid newer than anything", lp(srv, srv.signed(fresh), "&mid=" + future), ""),
        ("an invalid mid (abc)", lp(srv, srv.signed(stored), "&mid=abc"), newest),
        ("a 25-digit mid", lp(srv, srv.signed(stored), "&mid=" + newest[:25]), newest),
    ]
    for desc, p, want in polls:
        st, h, body = answer(p)
        ok(is_304(st, h, want) and body == b"" and 1.7 <= p.elapsed <= 3.8,
           "304 after longpoll-timeout (%s): §7.3 headers, Last-Message-Id %r (%s %r after %.1fs)"
           % (desc, want, st, h, p.elapsed or -1))

    # ---- immediate 200 with a text frame (§4.2) ----
    cid = new_id()
    p = lp(srv, srv.signed(cid))
    raw_body = '{"module_id": "im",  "command":"message", "params": {"n": [1, 2.50, "\u00e9\\u00e9"]}}'
    t0 = time.time()
    pst, _, _ = publish_text(srv, cid, raw_body.encode())
    st, h, body = answer(p)
    el = time.time() - t0
    ok(pst == 200 and st == 200 and el < 0.5, "publish answers a waiting poll at once (%.3fs)" % el)
    ok(h.get("content-type") == "text/plain" and h.get("access-control-allow-origin") == "*",
       "200 poll answer: Content-Type text/plain, Access-Control-Allow-Origin * (%r)" % h)
    frames = text_frames(body)
    f = frames[0] if frames else {}
    keys = [k for k in f if k in ("id", "mid", "channel", "tag", "time", "text")]
    ok(len(frames) == 1 and keys == ["id", "mid", "channel", "tag", "time", "text"],
       "one frame, keys in the order id, mid, channel, tag, time, text (%r)" % list(f))
    mid = f.get("mid", "")
    ok(re.match(r"^[0-9]{26}$", mid) is not None and f.get("id") == int(mid[10:] or "-1"),
       "mid is 26 digits and id its 16-digit counter part (%r, %r)" % (mid, f.get("id")))
    ok(f.get("channel") == cid and re.match(r"^[0-9]+$", str(f.get("tag"))) is not None
       and isinstance(f.get("tag"), str),
       "channel is the published channel and tag a digit string (%r %r)" % (f.get("channel"), f.get("tag")))
    tm = f.get("time", "")
    ok(RFC1123.match(tm) is not None
       and abs(email.utils.parsedate_to_datetime(tm).timestamp() - time.time()) < 5,
       "time is RFC 1123 GMT and now (%r)" % tm)
    ok(body.startswith(b"#!NGINXNMS!#") and body.endswith(b"#!NGINXNME!#")
       and ('"text":' + raw_body + "}#!NGINXNME!#").encode() in body,
       "text is the published body spliced raw (%r)" % body[-140:])
    ok(h.get("last-modified") == tm and h.get("etag", "").replace("W/", "").strip('"') == f.get("tag"),
       "200 answer carries Last-Modified = time and Etag = tag (%r %r)" % (h.get("last-modified"), h.get("etag")))

    # ---- several channels per request ----
    a, b, c = new_id(), new_id(), new_id()
    abc = "/".join(srv.signed(x) for x in (a, b, c))
    p = lp(srv, abc)
    publish_text(srv, c, '{"to":"c"}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"to": "c"}], "a/b/c: a message to c arrives")
    p = lp(srv, abc)
    publish_text(srv, a, '{"to":"a"}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"to": "a"}], "a/b/c: a message to a arrives")
    m0 = mark(srv)
    p = lp(srv, abc)
    publish_text(srv, [a, b], '{"to":"ab"}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"to": "ab"}], "a message to a and b arrives once (%r)" % body[:300])
    publish_text(srv, [b, c, a], '{"to":"bca"}')
    p = lp(srv, abc, "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"to": "ab"}, {"to": "bca"}],
       "catch-up over a/b/c: each multi-channel message once, in order (%r)" % texts(body))

    # ---- catch-up by mid ----
    x = new_id()
    p = lp(srv, srv.signed(x))
    publish_text(srv, x, '{"n":1}')
    st, _, body = answer(p)
    mid1 = text_frames(body)[0]["mid"]
    for n in (2, 3):
        publish_text(srv, x, '{"n":%d}' % n)
    p = lp(srv, srv.signed(x), "&mid=" + mid1, wait=False)
    st, _, body = answer(p)
    fr = text_frames(body)
    ok(st == 200 and [f["text"] for f in fr] == [{"n": 2}, {"n": 3}] and p.elapsed < 1,
       "poll with mid: messages published between polls come at once, in order (%r)" % texts(body))
    mid3 = fr[-1]["mid"] if fr else ""
    ok(mid1 < (fr[0]["mid"] if fr else "") < mid3, "mids increase (%s < … < %s)" % (mid1, mid3))
    p = lp(srv, srv.signed(x), "&mid=" + mid3)
    publish_text(srv, x, '{"n":4}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"n": 4}], "poll with the newest mid: only the next message, none twice")
    for bad in ("abc", "1" * 27, "12345678901234567890abcdef", ""):
        p = lp(srv, srv.signed(x), "&mid=" + bad)
        publish_text(srv, x, '{"bad":"%s"}' % bad)
        st, _, body = answer(p)
        ok(st == 200 and texts(body) == [{"bad": bad}],
           "invalid mid %r is ignored: no replay, live message only (%r)" % (bad, texts(body)))

    # catch-up of more than fits in one history: the newest 100 (history-length default)
    m0 = mark(srv)
    for n in range(150):
        publish_text(srv, x, '{"many":%d}' % n)
    p = lp(srv, srv.signed(x), "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"many": n} for n in range(50, 150)],
       "catch-up of 150 stored messages: the newest 100, in order (%d)" % len(texts(body) or []))

    # a client that goes away is dropped; a kept socket polls again after a 304
    before = server_stat(srv)["pollings"]
    p = lp(srv, srv.signed(new_id()))
    p.close()
    ok(wait_for(lambda: server_stat(srv)["pollings"] == before, 3),
       "a long poll whose client disconnects is dropped from pollings")
    s = connect(srv.sub_port, 8)
    kc = new_id()
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=" + srv.signed(kc)))
    st1, h1, _ = read_response(s)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=" + srv.signed(kc)))
    wait_for(lambda: server_stat(srv)["pollings"] > before, 3)
    publish_text(srv, kc, '{"again":1}')
    try:
        st2, _, b2 = read_response(s)
    except OSError:
        st2, b2 = None, b""
    s.close()
    ok(st1 == 304 and "connection" not in h1 and st2 == 200 and texts(b2) == [{"again": 1}],
       "keep-alive: after a 304 the same socket long-polls again and gets the message")

    # ---- message expiry ----
    y = new_id()
    m0 = mark(srv)
    p = lp(srv, srv.signed(y))
    publish_text(srv, y, '{"e":1}', expiry=1)
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"e": 1}], "Message-Expiry: 1 is still delivered live (%s %r)" % (st, body[:200]))
    publish_text(srv, y, '{"e":3}', expiry=3)
    publish_text(srv, y, '{"k":1}', expiry=None)
    p = lp(srv, srv.signed(y), "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    ok(st == 200 and texts(body)[-2:] == [{"e": 3}, {"k": 1}],
       "catch-up right after publishing has the stored messages (%r)" % texts(body))
    time.sleep(2.2)
    p = lp(srv, srv.signed(y), "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    t = texts(body) or []
    ok(st == 200 and {"e": 1} not in t and t[-1:] == [{"k": 1}],
       "after 2.2 s the Message-Expiry: 1 message is gone from catch-up, others stay (%r)" % t)
    for bad in ("soon", "-1", "4294967296"):
        st, _, body = http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=" + y, "x",
                           headers={"Message-Expiry": bad})
        ok(st == 400 and body == b"Message-Expiry: not an integer from 0 to 4294967295",
           "Message-Expiry: %s: 400 with exactly the error text (%s %r)" % (bad, st, body))

    # ---- push-stream cursor: time/tag and If-Modified-Since/If-None-Match ----
    z = new_id()
    p = lp(srv, srv.signed(z))
    publish_text(srv, z, '{"p":1}')
    st, h1, body = answer(p)
    lm1, et1 = h1.get("last-modified", ""), h1.get("etag", "")
    ok(st == 200 and RFC1123.match(lm1) is not None and et1 != "",
       "200 carries Last-Modified and Etag (%r %r)" % (lm1, et1))
    publish_text(srv, z, '{"p":2}')
    publish_text(srv, z, '{"p":3}')
    q = "&time=%s&tag=%s" % (urllib.parse.quote(lm1), urllib.parse.quote(et1.replace("W/", "").strip('"')))
    p = lp(srv, srv.signed(z), q, wait=False)
    st, h3, body = answer(p)
    ok(st == 200 and texts(body) == [{"p": 2}, {"p": 3}] and p.elapsed < 1,
       "time/tag query params: only messages after the cursor (%r)" % texts(body))
    lm3, et3 = h3.get("last-modified", ""), h3.get("etag", "")
    p = lp(srv, srv.signed(z), headers={"If-Modified-Since": lm3, "If-None-Match": et3})
    publish_text(srv, z, '{"p":4}')
    st, h4, body = answer(p)
    ok(st == 200 and texts(body) == [{"p": 4}],
       "If-Modified-Since/If-None-Match from the last answer: holds, then only the new message (%r)"
       % texts(body))
    lm4, et4 = h4.get("last-modified", ""), h4.get("etag", "").replace("W/", "").strip('"')
    p = lp(srv, srv.signed(z), headers={"If-Modified-Since": lm4, "If-None-Match": "W/" + et4})
    publish_text(srv, z, '{"p":5}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"p": 5}], "If-None-Match with a W/ prefix works the same")
    p = lp(srv, srv.signed(z), "&time=%s&tag=0" % urllib.parse.quote(lm1), wait=False)
    st, _, body = answer(p)
    ok(st == 200 and (texts(body) or [None])[0] == {"p": 1} and (texts(body) or [])[-1:] == [{"p": 5}],
       "time cursor with tag=0 replays from the first message of that second (%r)" % texts(body))
    p = lp(srv, srv.signed(z), "&time=Thu%2C+01+Jan+1970+00%3A00%3A00+GMT&tag=1", wait=False)
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"p": n} for n in range(1, 6)],
       "legacy BX.PULL initial cursor (1970, tag=1) replays the stored messages (%r)" % texts(body))

    # ---- signatures ----
    cid = new_id()
    for desc, ids in (("a wrong signature", cid + "." + sign(srv.key, new_id())),
                      ("a signature by another key", cid + "." + sign("another-key-0123456789", cid)),
                      ("no signature", cid),
                      ("a truncated signature", srv.signed(cid)[:-2]),
                      ("a sha256 signature on a sha1 server", cid + "." + sign(srv.key, cid, "sha256")),
                      ("one bad element among good ones", srv.signed(new_id()) + "/" + cid + ".00" * 20),
                      ("an empty CHANNEL_ID", ""),
                      ("a 31-char id", srv.signed(cid)[1:])):
        st, h, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=" + ids)
        ok(st == 400 and body == b"4010: Wrong Channel Id." and h.get("content-type") == "text/plain"
           and h.get("access-control-allow-origin") == "*",
           "%s: 400 text/plain \"4010: Wrong Channel Id.\" (%s %r)" % (desc, st, body))
    st, h, body = http(srv.sub_port, "GET", "/bitrix/sub/?revision=19")
    ok(st == 400 and body == b"4010: Wrong Channel Id.", "no CHANNEL_ID at all: 4010 (%s %r)" % (st, body))

    # priv:pub.sig subscribes to both
    priv, pub = new_id(), new_id()
    p = lp(srv, srv.signed(priv, pub))
    publish_text(srv, priv, '{"to":"priv"}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"to": "priv"}], "priv:pub.sig: a message to the private id arrives")
    p = lp(srv, srv.signed(priv, pub))
    publish_text(srv, pub, '{"to":"pub"}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"to": "pub"}], "priv:pub.sig: a message to the public id arrives")
    for desc, ids in (("priv:pub signed as priv only", "%s:%s.%s" % (priv, pub, sign(srv.key, priv))),
                      ("priv:pub with the public ref signature",
                       "%s:%s.%s" % (priv, pub, sign(srv.key, "public:" + pub))),
                      ("priv:pub signed for another pub", "%s:%s.%s" % (priv, pub, sign(srv.key, priv + ":" + new_id())))):
        st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=" + ids)
        ok(st == 400 and body == b"4010: Wrong Channel Id.", "%s: 4010 (%s %r)" % (desc, st, body))

    # JSONP refused
    st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=%s&callback=cb" % srv.signed(new_id()))
    ok(st == 400, "callback= (JSONP): 400 (%s %r)" % (st, body))
    st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?callback=&CHANNEL_ID=%s" % srv.signed(new_id()))
    ok(st == 400, "empty callback= (JSONP): 400 (%s %r)" % (st, body))

# ---- caps: catchup-per-channel, catchup-total, max-channels-per-request ----
with Server({"longpoll-timeout": 2, "catchup-per-channel": 3, "catchup-total": 5,
             "max-channels-per-request": 3}) as srv:
    a, b = new_id(), new_id()
    m0 = mark(srv)
    for n in range(1, 6):
        publish_text(srv, a, '{"a":%d}' % n)
    for n in range(1, 6):
        publish_text(srv, b, '{"b":%d}' % n)
    p = lp(srv, srv.signed(a) + "/" + srv.signed(b), "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    want = [{"a": 4}, {"a": 5}, {"b": 3}, {"b": 4}, {"b": 5}]
    ok(st == 200 and texts(body) == want,
       "catchup-per-channel=3, catchup-total=5: only the newest come, in order (%r)" % texts(body))
    p = lp(srv, srv.signed(a), "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"a": 3}, {"a": 4}, {"a": 5}],
       "catchup-per-channel=3 on one channel: the newest 3 (%r)" % texts(body))

    ids = [srv.signed(new_id()) for _ in range(4)]
    st, h, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=" + "/".join(ids))
    ok(st == 400 and body == b"4018: Request exceeded the maximum number of channels.",
       "4 channels with max-channels-per-request=3: 400 4018 (%s %r)" % (st, body))
    p = lp(srv, "/".join(ids[:3]))
    st, _, body = answer(p)
    ok(st == 304, "3 channels with max-channels-per-request=3: accepted (%s)" % st)
    priv, pub = new_id(), new_id()
    st, h, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=%s/%s/%s" % (
        srv.signed(priv, pub), srv.signed(new_id()), srv.signed(new_id())))
    ok(st in (304, 400), "3 elements, one priv:pub (4 channels): either accepted or 4018 (%s %r)" % (st, body))

with Server({"longpoll-timeout": 2, "history-length": 4}) as srv:
    cch = new_id()
    m0 = mark(srv)
    for n in range(1, 7):
        publish_text(srv, cch, '{"h":%d}' % n)
    p = lp(srv, srv.signed(cch), "&mid=" + m0, wait=False)
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"h": n} for n in range(3, 7)],
       "history-length=4: only the last 4 of 6 messages are kept (%r)" % texts(body))

# ---- max-connections-per-channel=1: the older poll makes room with 4029 (§7.4) ----
with Server({"longpoll-timeout": 3, "max-connections-per-channel": 1}) as srv:
    priv, pub = new_id(), new_id()
    old = lp(srv, srv.signed(priv, pub))
    new = lp(srv, srv.signed(priv, pub), wait=False)  # pollings stays at 1: old out, new in
    st, _, body = answer(old, 3)
    ok(st == 429 and body == b"4029: Too many connections.",
       "a 2nd poll on priv:pub with max-connections-per-channel=1: the 1st gets 429 4029 (%s %r)" % (st, body))
    publish_text(srv, priv, '{"limit":1}')
    st, _, body = answer(new, 3)
    ok(st == 200 and texts(body) == [{"limit": 1}], "… and the 2nd receives")
    # the same priv:pub listed twice in one request is one subscription, not a
    # conflict with itself
    p = lp(srv, srv.signed(priv, pub) + "/" + srv.signed(priv, pub), wait=False)
    time.sleep(0.3)
    publish_text(srv, priv, '{"twice":1}')
    st, _, body = answer(p, 4)
    ok(st == 200 and texts(body) == [{"twice": 1}],
       "priv:pub listed twice with max-connections-per-channel=1: one subscription that receives (%s %r)"
       % (st, body[:80]))

# ---- sha256 ----
with Server({"longpoll-timeout": 2}, algo="sha256") as srv:
    cid = new_id()
    p = lp(srv, srv.signed(cid))
    ok(len(srv.signed(cid).split(".")[1]) == 64, "sha256 signatures are 64 hex chars")
    publish_text(srv, cid, '{"sha":256}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"sha": 256}], "sha256 server: a sha256-signed subscription works")
    st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=%s.%s" % (cid, sign(srv.key, cid, "sha1")))
    ok(st == 400 and body == b"4010: Wrong Channel Id.", "sha256 server: a sha1 signature is refused with 4010")
    priv, pub = new_id(), new_id()
    p = lp(srv, srv.signed(priv, pub))
    publish_text(srv, pub, '{"sha":"pub"}')
    st, _, body = answer(p)
    ok(st == 200 and texts(body) == [{"sha": "pub"}], "sha256 server: priv:pub.sig works")
done()
