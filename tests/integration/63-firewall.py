#!/usr/bin/env python3
"""pullbox-firewall under a flood, with real iptables, a real pullboxd and (when the
image's dropbear has been built) a real dropbear, in network namespaces of their own:

  pbfw-app     the appliance: the firewall, pullboxd on 8893, dropbear on 22
  pbfw-flood   one address that floods 8893 (a bounded burst of connections)
  pbfw-office  another subscriber, elsewhere
  pbfw-admin   the admin network (ADMIN_NETWORKS)

Checks: the per-source SYN rate and connection count hold the flooding address back
while the other subscriber keeps receiving; two addresses of one IPv6 /64 count as one
source; the admin's SSH traffic is not tracked by
conntrack (so a table filled by a flood cannot cut it) and still gets in during the
flood; new SSH connections above the per-source rate are refused; a family whose rules
do not load falls back alone to the lockdown, which keeps the admin's 22 open; when no
rule set loads at all, the daemons may not listen (pullbox-firewall may-listen); firewall.conf
is parsed, never sourced: shell in a value runs nothing, and the file is refused (lockdown)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("PULLBOX_ROOT_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "lib"))
OUT = os.environ.get("O", os.path.join(ROOT, "out"))
FIREWALL = os.path.join(ROOT, "rootfs", "usr", "sbin", "pullbox-firewall")
NS = {"app": "pbfw-app", "flood": "pbfw-flood", "office": "pbfw-office", "admin": "pbfw-admin"}
# the appliance's address towards each peer, and the peer's
NETS = {"flood": ("10.77.1.1", "10.77.1.2"), "office": ("10.77.3.1", "10.77.3.2"),
        "admin": ("10.77.2.1", "10.77.2.2")}
# small limits, so the test's flood stays small (the defaults are in config-ui's settings)
CONNS, RATE, SSH_RATE = 40, 20, 5
FLOOD = 100  # connections the flooding address tries at once
V6_APP, V6_FLOOD = "fd77:1::1", ("fd77:1::2", "fd77:1::3")


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check)


def setup():
    cleanup()
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
    sh("ip", "-n", NS["app"], "link", "set", "lo", "up")
    for peer, (mine, theirs) in NETS.items():
        a, b = "pbfw-a-" + peer[:3], "pbfw-p-" + peer[:3]
        sh("ip", "link", "add", a, "netns", NS["app"], "type", "veth", "peer", "name", b, "netns", NS[peer])
        sh("ip", "-n", NS["app"], "addr", "add", mine + "/24", "dev", a)
        sh("ip", "-n", NS[peer], "addr", "add", theirs + "/24", "dev", b)
        sh("ip", "-n", NS["app"], "link", "set", a, "up")
        sh("ip", "-n", NS[peer], "link", "set", b, "up")
        sh("ip", "-n", NS[peer], "link", "set", "lo", "up")
    # IPv6: two flooding addresses in one /64 (one host, or one NAT64 prefix, as the firewall sees it)
    sh("ip", "-n", NS["app"], "addr", "add", V6_APP + "/64", "dev", "pbfw-a-flo", "nodad")
    for a in V6_FLOOD:
        sh("ip", "-n", NS["flood"], "addr", "add", a + "/64", "dev", "pbfw-p-flo", "nodad")


def cleanup():
    for ns in NS.values():
        sh("ip", "netns", "del", ns, check=False)


if os.environ.get("PULLBOX_63_NETNS") != "1":
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables-restore"):
        print("1..0 # SKIP needs root, ip and iptables")
        sys.exit(0)
    try:
        setup()
    except subprocess.CalledProcessError as e:
        print("1..0 # SKIP cannot make network namespaces: %s" % (e.stderr or e).strip())
        cleanup()
        sys.exit(0)
    try:
        r = subprocess.run(["ip", "netns", "exec", NS["app"], "env", "PULLBOX_63_NETNS=1",
                            sys.executable] + sys.argv)
    finally:
        cleanup()
    sys.exit(r.returncode)

from pbtest import Server, done, make_cert, new_id, note, ok, publish_text, tls_conf  # noqa: E402

# Runs in a peer namespace: FLOOD non-blocking connects at once to HOST:PORT; after
# 0.4 s and after 5 s, how many are connected, refused, still pending. Holds the
# connected ones until stdin closes.
FLOODER = r"""
import errno, json, select, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 else None
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if src:
        s.bind((src, 0))
    s.setblocking(False)
    s.connect_ex((host, port))
    socks.append(s)
state = {s: "pending" for s in socks}
def poll(until):
    while time.monotonic() < until and any(v == "pending" for v in state.values()):
        pend = [s for s, v in state.items() if v == "pending"]
        _, w, _ = select.select([], pend, [], max(0.01, until - time.monotonic()))
        for s in w:
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            state[s] = "connected" if e == 0 else "refused" if e in (errno.ECONNREFUSED, errno.ECONNRESET) else "error %d" % e
def count():
    c = {}
    for v in state.values():
        c[v] = c.get(v, 0) + 1
    return c
t0 = time.monotonic()
poll(t0 + 0.4)
early = count()
poll(t0 + 5)
print(json.dumps({"early": early, "late": count()}), flush=True)
sys.stdin.read()
"""

# Runs in a peer namespace: N sequential connects to HOST:PORT (1 s timeout each);
# prints the outcomes ("ok", "refused", "timeout") as JSON.
CONNECTS = r"""
import json, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(n):
    try:
        s = socket.create_connection((host, port), timeout=1)
        out.append("ok")
        s.close()
    except ConnectionRefusedError:
        out.append("refused")
    except OSError:
        out.append("timeout")
print(json.dumps(out))
"""


def in_ns(peer, code, *args, stdin=None):
    return subprocess.Popen(["ip", "netns", "exec", NS[peer], sys.executable, "-c", code] + [str(a) for a in args],
                            stdin=stdin or subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def long_poll_from(peer, port, path, timeout=10):
    """A long poll from a peer namespace; returns the body it got (or the error)."""
    code = (r"import http.client, sys; c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=%d);"
            r" c.request('GET', sys.argv[3]); r = c.getresponse(); print(r.status, r.read().decode())" % timeout)
    return in_ns(peer, code, NETS[peer][0], port, path)


def deliver(srv, cid, text, poll):
    """Publishes text on cid until the long poll (a process) has answered, at most 10 s:
    the poll may not have reached pullboxd yet when the first publish goes out."""
    end = time.monotonic() + 10
    while poll.poll() is None and time.monotonic() < end:
        publish_text(srv, cid, json.dumps({"t": text}))
        time.sleep(0.5)
    try:
        return poll.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        poll.kill()
        return poll.communicate()


def firewall(*args, conf=None):
    env = dict(os.environ, PULLBOX_ROOT=TREE, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    return subprocess.run(["sh", FIREWALL] + list(args), env=env, capture_output=True, text=True)


def write_conf(**extra):
    values = {"PUBLISHERS": "", "SUBSCRIBERS": "any", "ADMIN_NETWORKS": "10.77.2.0/24", "REDIS_PEERS": "",
              "SUBSCRIBE_CONN_PER_SOURCE": CONNS, "SUBSCRIBE_NEW_PER_SEC": RATE,
              "SSH_NEW_PER_MIN": SSH_RATE, "WIZARD_NEW_PER_MIN": 120}
    values.update(extra)
    os.makedirs(os.path.join(TREE, "data", "etc"), exist_ok=True)
    with open(os.path.join(TREE, "data", "etc", "firewall.conf"), "w") as f:
        for k, v in values.items():
            f.write('%s="%s"\n' % (k, v))


def conntrack_entries(dport):
    try:
        with open("/proc/net/nf_conntrack") as f:
            return [l for l in f if " dport=%d " % dport in l and " src=%s " % NETS["admin"][1] in l]
    except OSError:
        return None


def dropbear_binary():
    for p in (os.environ.get("PULLBOX_DROPBEAR", ""), os.path.join(OUT, "target", "usr", "sbin", "dropbear")):
        if p and os.access(p, os.X_OK):
            return p
    return None


def start_dropbear(tmp):
    """The image's dropbear on the admin side's address, with a host key of its own."""
    db = dropbear_binary()
    if db is None:
        return None
    key = os.path.join(tmp, "host_key")
    keygen = os.path.join(os.path.dirname(db), "dropbearkey")
    subprocess.run([keygen if os.access(keygen, os.X_OK) else db, "-t", "ed25519", "-f", key],
                   capture_output=True, check=False)
    proc = subprocess.Popen([db, "-F", "-w", "-s", "-p", "22", "-r", key,
                             "-P", os.path.join(tmp, "dropbear.pid")],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "dropbear.log"), "w"))
    for _ in range(50):
        try:
            socket.create_connection((NETS["admin"][0], 22), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    return None


def ssh_handshake(peer):
    """ssh-keyscan from a peer namespace: the whole key exchange, no login."""
    r = subprocess.run(["ip", "netns", "exec", NS[peer], "ssh-keyscan", "-T", "5", "-t", "ed25519",
                        NETS[peer][0]], capture_output=True, text=True)
    return r.stdout.strip()


def check_flood(srv, dropbear):
    # another subscriber, connected before the flood, and one that comes during it
    cid = new_id()
    before = long_poll_from("office", 8893, "/bitrix/sub/?CHANNEL_ID=" + srv.signed(cid))
    time.sleep(0.5)
    flood = in_ns("flood", FLOODER, NETS["flood"][0], 8893, FLOOD, stdin=subprocess.PIPE)
    try:
        line = flood.stdout.readline()
        counts = json.loads(line) if line else {}
        early, late = counts.get("early", {}), counts.get("late", {})
        note("flood of %d connects from one address: after 0.4 s %s, after 5 s %s" % (FLOOD, early, late))
        ok(early.get("connected", 0) <= RATE + 5 and early.get("pending", 0) >= FLOOD - RATE - 10,
           "a burst of %d connects from one address: about %d/s get through, the other SYNs are dropped "
           "(%s)" % (FLOOD, RATE, early))
        ok(late.get("connected", 0) == CONNS and late.get("refused", 0) > 0,
           "the flooding address holds at most %d connections; the next are refused (%s)" % (CONNS, late))
        # during the flood: the other subscriber still receives, a new one still connects
        text = "office-%s" % new_id()
        out, err = deliver(srv, cid, text, before)
        ok(out.startswith("200") and text in out,
           "during the flood the subscriber at another address receives the message (%s)" % (out or err).strip().replace("\n", " ")[-300:])
        cid2 = new_id()
        during = long_poll_from("office", 8893, "/bitrix/sub/?CHANNEL_ID=" + srv.signed(cid2))
        text2 = "office2-%s" % new_id()
        out, err = deliver(srv, cid2, text2, during)
        ok(out.startswith("200") and text2 in out,
           "during the flood a new subscriber at another address connects and receives (%s)" % (out or err).strip().replace("\n", " ")[-300:])
        # the admin during the flood
        if dropbear is None:
            ok(True, "# SKIP the admin's SSH during the flood: no dropbear built (make image, or PULLBOX_DROPBEAR)")
        else:
            hk = ssh_handshake("admin")
            ok("ssh-ed25519" in hk, "during the flood the admin completes an SSH key exchange on 22 (%s)" % hk[:80])
            tracked = conntrack_entries(22)
            ok(tracked == [], "the admin's SSH connection has no conntrack entry (a full table cannot cut it): %s"
               % (tracked if tracked is not None else "no /proc/net/nf_conntrack"))
    finally:
        flood.stdin.close()
        flood.wait(10)


def check_flood_v6():
    """Two addresses of one IPv6 /64 share the per-source limits."""
    floods = [in_ns("flood", FLOODER, V6_APP, 8894, 40, a, stdin=subprocess.PIPE) for a in V6_FLOOD]
    try:
        res = [json.loads(f.stdout.readline() or "{}") for f in floods]
        late = [r.get("late", {}) for r in res]
        total = sum(l.get("connected", 0) for l in late)
        note("IPv6 flood, 40 connects from each of two addresses of one /64: %s" % late)
        # which address wins the shared budget is a race (one may take all of it), so only the
        # sum is asserted: counted per address, the two would hold 2 * CONNS
        ok(total == CONNS,
           "two addresses of one IPv6 /64 hold %d connections between them, not %d each (%s)"
           % (CONNS, CONNS, late))
    finally:
        for f in floods:
            f.stdin.close()
            f.wait(10)


def check_ssh_rate():
    p = in_ns("admin", CONNECTS, NETS["admin"][0], 22, SSH_RATE + 3)
    out, _ = p.communicate(timeout=60)
    res = json.loads(out) if out.strip() else []
    # the key exchange above took one of the burst
    ok(res[0] == "ok" and res.count("ok") in (SSH_RATE - 1, SSH_RATE) and res[-3:] == ["refused"] * 3,
       "new SSH connections from one address: %d a minute, the next are refused at once (%s)" % (SSH_RATE, res))
    p = in_ns("flood", CONNECTS, NETS["flood"][0], 22, 1)
    out, _ = p.communicate(timeout=30)
    ok(json.loads(out) == ["refused"], "22 is closed to an address outside the admin networks (%s)" % out.strip())


def check_fallback(dropbear):
    # a bad IPv4 entry (of characters the file may hold: iptables refuses it): the IPv4
    # rules fail; the lockdown keeps 22 for the admin networks
    write_conf(SUBSCRIBERS="10.77.3.0/24 10.77.3.0/33")
    r = firewall("apply")
    state = firewall("status").stdout
    ok(r.returncode == 1 and "ipv4=lockdown" in state and "IPv4: the rules did not load: locked down" in r.stderr,
       "an IPv4 rule that does not load: apply exits 1, IPv4 is locked down and says so (%s)" % state.split())
    ok("ipv6=rules" in state or "ipv6=absent" in state,
       "... while IPv6, whose rules loaded, keeps them (%s)" % state.split())
    rules = sh("iptables", "-S", "INPUT").stdout
    ok("--dports 22,443" in rules and "8893" not in rules and "8895" not in rules,
       "the IPv4 lockdown: 22 and 443 from the admin networks, nothing else", )
    if dropbear is not None:
        p = in_ns("admin", CONNECTS, NETS["admin"][0], 22, 1)
        ok(p.communicate(timeout=30)[0].strip() == '["ok"]', "locked down, the admin still reaches 22")
    p = in_ns("office", CONNECTS, NETS["office"][0], 8893, 1)
    ok(p.communicate(timeout=30)[0].strip() == '["refused"]', "locked down, 8893 is closed")
    r = firewall("may-listen", "8893")
    ok(r.returncode == 0, "behind the lockdown the daemons may listen (the firewall is in place)")
    # nothing loads at all: the state a kernel without netfilter modules leaves
    with open(os.path.join(TREE, "run", "pullbox-firewall.state"), "w") as f:
        f.write("ipv4=none\nipv6=rules\n")
    ok(firewall("may-listen", "8893").returncode == 1 and firewall("may-listen", "6379").returncode == 1,
       "with no rule set in force, pullboxd and redis may not listen")
    write_conf(ADMIN_NETWORKS="any")
    ok(firewall("may-listen", "22").returncode == 0 and firewall("may-listen", "443").returncode == 0,
       "... SSH and the wizard may when the admin networks are 'any' (open is what was asked)")
    write_conf()
    ok(firewall("may-listen", "22").returncode == 1, "... and may not when the admin networks are narrowed")
    os.unlink(os.path.join(TREE, "run", "pullbox-firewall.state"))
    ok(firewall("may-listen", "8893").returncode == 1, "before any apply, nothing may listen")


def check_conf_refused(tmp):
    """Shell in a value of firewall.conf: nothing runs, the file is refused, apply locks down."""
    hostile = [("PUBLISHERS", '"$(touch %s)"'), ("SUBSCRIBERS", '"`touch %s`"'),
               ("SSH_NEW_PER_MIN", '5; touch %s'), ("REDIS_PEERS", '"10.1.1.1"; touch %s #"')]
    for i, (key, value) in enumerate(hostile):
        marker = os.path.join(tmp, "ran-%d" % i)
        write_conf()
        with open(os.path.join(TREE, "data", "etc", "firewall.conf"), "a") as f:
            f.write("%s=%s\n" % (key, value % marker))
        r = firewall("apply")
        p = firewall("print")
        state = firewall("status").stdout
        ok(not os.path.exists(marker), "%s=%s: nothing in the value runs" % (key, value % "X"))
        ok(r.returncode == 1 and p.returncode == 1 and "%s: refused" % key in r.stderr
           and "ipv4=lockdown" in state,
           "... apply refuses the file naming the key and locks down, print refuses it (%s; %s)"
           % (r.stderr.strip().splitlines()[:1], state.split()))
    rules = sh("iptables", "-S", "INPUT").stdout
    ok("8893" not in rules and "-s 10.77.2.0/24" in rules and "--dports 22,443" in rules,
       "the lockdown keeps the admin networks' 22 and 443 from the file's valid lines, nothing else")
    # an admin networks value that is refused is not used: the lockdown then opens no port
    write_conf(ADMIN_NETWORKS="10.77.2.0/24 $(touch %s)" % os.path.join(tmp, "ran-admin"))
    r = firewall("apply")
    rules = sh("iptables", "-S", "INPUT").stdout
    ok(r.returncode == 1 and not os.path.exists(os.path.join(tmp, "ran-admin")) and "dports 22" not in rules,
       "a refused ADMIN_NETWORKS leaves no port open in the lockdown (%s)" % r.stderr.strip()[:200])
    write_conf()
    ok(firewall("apply").returncode == 0, "the valid file loads again")


def main():
    global TREE
    tmp = tempfile.mkdtemp(prefix="pbfw-")
    TREE = os.path.join(tmp, "root")
    write_conf()
    r = firewall("apply")
    if not ok(r.returncode == 0 and "ipv4=rules" in firewall("status").stdout,
              "pullbox-firewall apply loads the rules with the limits (%s)" % r.stderr.strip()[-300:]):
        done()
        return
    raw = sh("iptables", "-t", "raw", "-S").stdout
    ok(re.search(r"-A PREROUTING -s 10.77.2.0/24 .*--dports 22,80,443 .*-j CT --notrack", raw) is not None,
       "raw table: the admin networks' 22/80/443 skip connection tracking")
    dropbear = start_dropbear(tmp)
    # IPv4 subscribers on 8893, IPv6 on 8894 (TLS: the flood only counts TCP connections)
    cert, key = make_cert(tmp)
    srv = Server(tls_conf(cert, key, listen_subscribe_tls="[::]:8894", listen_subscribe="0.0.0.0:8893"))
    try:
        check_flood(srv, dropbear)
        check_flood_v6()
        if dropbear is not None:
            check_ssh_rate()
        else:
            ok(True, "# SKIP SSH rate: no dropbear built")
        check_fallback(dropbear)
        check_conf_refused(tmp)
    finally:
        srv.stop()
        if dropbear is not None:
            dropbear.terminate()
            dropbear.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    done()


TREE = None
if __name__ == "__main__":
    main()
