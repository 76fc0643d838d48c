#!/usr/bin/env python3
"""pullbox-sampler against a real pullboxd: the figures it keeps for the
wizard's Status graphs (connections, messages and deliveries per second,
memory, drops) match what pullboxd did, the ring file keeps its fixed size,
and a pullboxd that does not answer adds nothing."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import OUT, Poll, Server, done, free_port, new_id, note, ok, publish_text  # noqa: E402

SAMPLER = os.path.join(OUT, "config-ui-san", "pullbox-sampler")
if not os.path.exists(SAMPLER):
    SAMPLER = os.path.join(OUT, "config-ui", "pullbox-sampler")
if not os.path.exists(SAMPLER):
    print("1..0 # SKIP no pullbox-sampler: make config-ui")
    sys.exit(0)
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")


def sampler(*args, timeout=60):
    r = subprocess.run([SAMPLER] + list(args), capture_output=True, text=True, timeout=timeout, env=ENV)
    return r.returncode, r.stdout, r.stderr


def points(ring, tier="hour"):
    rc, out, err = sampler("-r", tier, ring)
    if rc != 0:
        note("pullbox-sampler -r: %d %s" % (rc, err))
        return None
    return [[float(x) for x in line.split()] for line in out.splitlines()]


work = tempfile.mkdtemp(prefix="pb-sampler-")
ring = os.path.join(work, "pullboxd.ring")

rc, _, err = sampler("-i", "0", ring)
ok(rc == 100 and "out of range" in err, "an interval of 0 is a usage error (100)")
rc, _, err = sampler(ring, "extra")
ok(rc == 100, "two files are a usage error")
rc, _, err = sampler("-n", "1", os.path.join(work, "no-such-dir", "ring"))
ok(rc == 111 and "no-such-dir" in err, "a file that cannot be made: 111, naming it")
rc, _, err = sampler("-r", "week", ring)
ok(rc == 100, "-r takes hour or day")
rc, _, err = sampler("-r", "hour", ring)
ok(rc == 111 and "no figures yet" in err, "-r on a missing file says there are no figures yet")

with Server() as srv:
    # three held long polls, and a steady trickle of messages to one of them
    ids = [new_id() for _ in range(3)]
    polls = [Poll(srv, srv.signed(cid)) for cid in ids]
    time.sleep(0.5)
    proc = subprocess.Popen([SAMPLER, "-i", "1", "-n", "4", "-p", str(srv.pub_port), ring],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    end = time.time() + 30
    sent = 0
    while proc.poll() is None and time.time() < end:
        publish_text(srv, [ids[1] + "x"], {"n": sent})  # a channel nobody holds: no delivery
        sent += 1
        time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    ok(proc.returncode == 0, "the sampler took 4 samples and exited 0 (%s)" % err.strip()[:200])
    size = os.path.getsize(ring)
    pts = points(ring) or []
    ok(1 <= len(pts) <= 2, "4 samples a second apart fill one or two 10 s slots (%d)" % len(pts))
    last = pts[-1] if pts else [0] * 6
    ok(last[1] == 3, "connections: the three held long polls (%g)" % last[1])
    ok(5 < last[2] < 40, "messages per second: about the 20/s published (%g)" % last[2])
    ok(last[3] == 0, "deliveries per second: none, nobody held the channel (%g)" % last[3])
    rss = int(open("/proc/%d/statm" % srv.pid).read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    ok(0.3 * rss < last[4] < 3 * rss, "memory: pullboxd's resident size (%d, now %d)" % (last[4], rss))
    ok(last[5] == 0, "drops per minute: none (%g)" % last[5])
    day = points(ring, "day") or []
    ok(len(day) == 1 and day[0][1] == 3, "the day's 5-minute slot has the same figures")
    for p in polls:
        p.close()

# pullboxd gone: no sample, no change; the file keeps its size
before = open(ring, "rb").read()
port = free_port()
proc = subprocess.Popen([SAMPLER, "-i", "1", "-n", "1", "-p", str(port), ring],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
time.sleep(3)
proc.terminate()
_, err = proc.communicate(timeout=30)
ok("does not answer" in err, "a pullboxd that does not answer is said once: %s" % err.strip()[:120])
ok(open(ring, "rb").read() == before, "and nothing is added to the file")
ok(os.path.getsize(ring) == size, "whose size stays %d bytes" % size)
done()
