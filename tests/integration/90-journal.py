#!/usr/bin/env python3
"""The message journal (journal-path): nothing acknowledged is lost across a
restart, a crash (SIGKILL) or a torn write; expired messages are not
replayed; mids continue above the journal's newest; DELETE is kept; old
segments are removed; bad settings are clear errors."""
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import (Server, binary, build_request, connect, done, http, new_id, note, ok,
                    publish_text, read_response, text_frames)

ZERO = "0" * 26


def catch_up(srv, cid, mid=ZERO):
    """Everything stored for cid newer than mid, by a long poll (which answers
    at once when there is history)."""
    s = connect(srv.sub_port, timeout=5)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), mid)))
    try:
        st, _, body = read_response(s)
    finally:
        s.close()
    return [f["text"] for f in text_frames(body)] if st == 200 else [], st, body


def restart(srv, how=signal.SIGTERM):
    if how == signal.SIGKILL:
        srv.proc.kill()
        srv.proc.wait()
    else:
        srv.stop()
    srv.start()


jdir = tempfile.mkdtemp(prefix="pullbox-journal-")

# ---- restart and crash keep what was acknowledged ----
for mode in ("always", "50"):
    d = os.path.join(jdir, "j-" + mode)
    with Server({"journal-path": d, "journal-sync": mode, "longpoll-timeout": 2}) as srv:
        a, b = new_id(), new_id()
        for i in range(5):
            ok(publish_text(srv, [a, b] if i % 2 else a, '{"n":%d}' % i)[0] == 200,
               "[%s] publish %d acknowledged" % (mode, i))
        texts, _, body = catch_up(srv, a)
        mids_before = re.findall(r'"mid":"(\d{26})"', body.decode())
        restart(srv, signal.SIGTERM)
        texts, _, _ = catch_up(srv, a)
        ok(texts == [{"n": i} for i in range(5)], "[%s] after SIGTERM and start: all 5 restored in order (%s)" % (mode, texts))
        texts_b, _, _ = catch_up(srv, b)
        ok(texts_b == [{"n": 1}, {"n": 3}], "[%s] a message to two channels is restored in both" % mode)
        ok("5 messages restored" in srv.log() or "messages restored" in srv.log(),
           "[%s] the start logs what the journal restored" % mode)
        ok(publish_text(srv, a, '{"n":5}')[0] == 200, "[%s] publish after restart" % mode)
        restart(srv, signal.SIGKILL)
        texts, _, body = catch_up(srv, a)
        ok(texts == [{"n": i} for i in range(6)],
           "[%s] after SIGKILL right after the ack: nothing lost (%d of 6)" % (mode, len(texts)))
        mids = re.findall(r'"mid":"(\d{26})"', body.decode())
        ok(mids[:5] == mids_before and mids == sorted(mids) and len(set(mids)) == 6,
           "[%s] mids are kept and keep increasing across restarts" % mode)
        # resume by mid after the restart: only what is newer
        texts, _, _ = catch_up(srv, a, mids[3])
        ok(texts == [{"n": 4}, {"n": 5}], "[%s] resume by mid after restart returns only newer (%s)" % (mode, texts))

# ---- expired messages are not replayed; DELETE is kept ----
d = os.path.join(jdir, "expiry")
with Server({"journal-path": d, "longpoll-timeout": 2}) as srv:
    a, b = new_id(), new_id()
    publish_text(srv, a, '"short"', expiry=1)
    publish_text(srv, a, '"long"', expiry=3600)
    publish_text(srv, b, '"deleted"')
    st, _, _ = http(srv.pub_port, "DELETE", "/bitrix/pub/?CHANNEL_ID=" + b)
    ok(st == 200, "DELETE answered 200")
    publish_text(srv, b, '"after-delete"')
    time.sleep(2.2)
    restart(srv)
    texts, _, _ = catch_up(srv, a)
    ok(texts == ["long"], "a message that expired while down is not replayed (%s)" % texts)
    texts, _, _ = catch_up(srv, b)
    ok(texts == ["after-delete"], "a DELETE before the restart still holds after it (%s)" % texts)

# ---- a torn tail and a damaged record ----
d = os.path.join(jdir, "torn")
with Server({"journal-path": d, "longpoll-timeout": 2}) as srv:
    a = new_id()
    for i in range(3):
        publish_text(srv, a, '{"n":%d}' % i)
    srv.stop()
    seg = sorted(glob.glob(os.path.join(d, "journal-*.log")))[-1]
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:  # a power loss in the middle of the last record
        f.truncate(size - 7)
    srv.start()
    texts, _, _ = catch_up(srv, a)
    ok(texts == [{"n": 0}, {"n": 1}], "torn last record: the server starts with the intact ones (%s)" % texts)
    m = re.search(r"dropped (\d+) bytes of a damaged tail", srv.log())
    ok(m is not None and 0 < int(m.group(1)) < 200, "and logs how much was dropped (%s)" % (m and m.group(0)))
    ok(os.path.getsize(seg) < size - 7, "the damaged tail is cut from the file")
    ok(publish_text(srv, a, '{"n":9}')[0] == 200, "publishing works after the repair")
    srv.stop()
    # flip a byte inside the first record of the newest segment: its checksum fails
    seg2 = sorted(glob.glob(os.path.join(d, "journal-*.log")))[-1]
    with open(seg2, "r+b") as f:
        f.seek(20)
        byte = f.read(1)
        f.seek(20)
        f.write(bytes([byte[0] ^ 0xFF]))
    srv.start()
    texts, _, _ = catch_up(srv, a)
    ok(texts == [{"n": 0}, {"n": 1}], "a record with a bad checksum is dropped, the rest still loads (%s)" % texts)
    ok(len(re.findall("damaged tail", srv.log())) >= 2, "the second repair is logged too")

# ---- segments: rotation, removal of expired ones, journal-max-size ----
d = os.path.join(jdir, "segments")
with Server({"journal-path": d, "journal-segment-size": 1, "longpoll-timeout": 2}) as srv:
    a = new_id()
    big = '"%s"' % ("x" * 200000)
    for i in range(12):  # ~2.4 MiB in 1 MiB segments
        publish_text(srv, a, big, expiry=2)
    time.sleep(0.6)
    n1 = len(glob.glob(os.path.join(d, "journal-*.log")))
    ok(n1 >= 2, "segments rotate at journal-segment-size (%d files)" % n1)
    time.sleep(2.5)
    publish_text(srv, a, '"keep"', expiry=3600)
    deadline = time.time() + 5
    while time.time() < deadline and len(glob.glob(os.path.join(d, "journal-*.log"))) > 1:
        time.sleep(0.1)
    files = glob.glob(os.path.join(d, "journal-*.log"))
    ok(len(files) == 1, "segments whose messages all expired are removed (%d left)" % len(files))
    restart(srv)
    texts, _, _ = catch_up(srv, a)
    ok(texts == ["keep"], "the live message survives the removal of old segments (%s)" % texts[:1])

d = os.path.join(jdir, "maxsize")
with Server({"journal-path": d, "journal-segment-size": 1, "journal-max-size": 2,
             "longpoll-timeout": 2}) as srv:
    a = new_id()
    big = '"%s"' % ("y" * 200000)
    for i in range(25):  # ~5 MiB with a 2 MiB cap
        publish_text(srv, a, big)
        time.sleep(0.02)
    time.sleep(0.8)
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, "journal-*.log")))
    ok(total <= 3 * 1024 * 1024, "journal-max-size bounds the journal (%d bytes)" % total)
    ok("journal-max-size" in srv.log(), "removing unexpired segments is logged")

# ---- settings ----
conf = os.path.join(jdir, "bad.conf")
for line, want in (("journal-sync = 0", "journal-sync"), ("journal-sync = often", "journal-sync"),
                   ("journal-segment-size = 0", "journal-segment-size")):
    with open(conf, "w") as f:
        f.write("signature-key = %s\nlisten-subscribe-tls = off\n%s\n" % ("k" * 20, line))
    r = subprocess.run([binary(), "--check-config", "-c", conf], capture_output=True, text=True)
    ok(r.returncode != 0 and want in r.stderr, "%s: rejected naming the key (%s)" % (line, r.stderr.strip()))
def try_start(journal_path):
    """Starts a server with journal_path; returns (started, message) and
    always stops what it started."""
    srv = Server({"journal-path": journal_path}, start=False)
    try:
        srv.start()
    except RuntimeError as e:
        return False, str(e)
    srv.stop()
    return True, ""


if os.geteuid() == 0:
    # root ignores directory modes: a regular file where the directory should be
    path = os.path.join(jdir, "afile")
    open(path, "w").close()
else:
    ro = os.path.join(jdir, "readonly")
    os.makedirs(ro)
    os.chmod(ro, 0o500)
    path = os.path.join(ro, "j")
started, msg = try_start(path)
ok(not started and "journal-path" in msg, "an unusable journal-path stops the start, naming the key")
done()
