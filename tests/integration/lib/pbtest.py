"""Shared harness for the integration tests (Python standard library only).

    from pbtest import Server, ok, done, sign, new_id, http, publish_text
    with Server({"longpoll-timeout": 2}) as srv:
        status, headers, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=" + srv.signed(cid))
    done()

Server starts out/pullboxd-san (the ASan+UBSan build) when it exists, else
out/pullboxd (env PULLBOX_BIN overrides), on 127.0.0.1 with free ports and a
fresh signature key. On stop it fails the test if the server's stderr shows a
sanitizer report, and it kills only the process it started, by PID.
"""
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("PULLBOX_ROOT_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.environ.get("O", os.path.join(ROOT, "out"))

# ---- TAP ----
_count = 0
_failed = 0


def ok(cond, desc):
    global _count, _failed
    _count += 1
    if not cond:
        _failed += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", _count, desc), flush=True)
    return cond


def note(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def done():
    print("1..%d" % _count, flush=True)
    sys.exit(1 if _failed or _count == 0 else 0)


# ---- ids and signatures ----
def new_id():
    return secrets.token_hex(16)


def sign(key, value, algo="sha1"):
    return hmac.new(key.encode(), value.encode(), getattr(hashlib, algo)).hexdigest()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def binary():
    if os.environ.get("PULLBOX_BIN"):
        return os.environ["PULLBOX_BIN"]
    san = os.path.join(OUT, "pullboxd-san")
    return san if os.path.exists(san) else os.path.join(OUT, "pullboxd")


class Server:
    def __init__(self, conf=None, algo="sha1", start=True, key=None):
        # key: nodes of one cluster share their signature key
        self.key = key or secrets.token_hex(20)
        self.algo = algo
        self.sub_port = free_port()
        self.pub_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="pullbox-test-")
        self.conf_path = os.path.join(self.dir, "pullbox.conf")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.conf = {
            "listen-subscribe": "127.0.0.1:%d" % self.sub_port,
            "listen-publish": "127.0.0.1:%d" % self.pub_port,
            "listen-subscribe-tls": "off",
            "signature-key": self.key,
            "signature-algorithm": algo,
            "log-level": "info",
        }
        self.conf.update({k: str(v) for k, v in (conf or {}).items()})
        self.write_conf()
        self.proc = None
        if start:
            self.start()

    def write_conf(self, extra=None):
        conf = dict(self.conf)
        conf.update(extra or {})
        with open(self.conf_path, "w") as f:
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))

    def start(self):
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen([binary(), "-c", self.conf_path], stdout=self.logf,
                                     stderr=self.logf, env=env)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("pullboxd exited at start:\n" + self.log())
            try:
                st, _, _ = http(self.pub_port, "GET", "/health", timeout=1)
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("pullboxd did not become ready:\n" + self.log())

    @property
    def pid(self):
        return self.proc.pid

    def signed(self, cid, pub=None):
        """The subscribe form of a channel: id.sig or priv:pub.sig."""
        value = cid if pub is None else "%s:%s" % (cid, pub)
        return "%s.%s" % (value, sign(self.key, value, self.algo))

    def public_ref(self, pub):
        return "%s.%s" % (pub, sign(self.key, "public:" + pub, self.algo))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the exit code. Checks for sanitizer reports."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            ok(False, "pullboxd exits within %ds of SIGTERM" % timeout)
        self.logf.close()
        return self.proc.returncode

    def sanitizer_clean(self):
        log = self.log()
        bad = ("AddressSanitizer" in log or "LeakSanitizer" in log or "runtime error:" in log
               or "ThreadSanitizer" in log)
        if bad:
            note(log[-4000:])
        return not bad

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        code = self.stop()
        ok(self.sanitizer_clean() and code == 0,
           "server exits cleanly (code %s) with no sanitizer report" % code)
        return False


# ---- raw HTTP ----
class _Socket(socket.socket):
    """socket.socket has __slots__; this subclass can carry the bytes read
    past one response (_pb_rest), which read_response() consumes first."""
    _pb_rest = b""


def connect(port, timeout=5):
    s = _Socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def build_request(method, path, body=b"", headers=None, version="1.1"):
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": "127.0.0.1"}
    if body or method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "%s %s HTTP/%s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None)
    return head.encode() + b"\r\n" + body


def read_response(sock, method="GET"):
    """Reads one response (Content-Length or close delimited). Returns
    (status, headers with lower-case names, body bytes)."""
    buf = getattr(sock, "_pb_rest", b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before response head: %r" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        sock._pb_rest = rest
        return status, headers, b""
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        sock._pb_rest = rest[n:]
        return status, headers, rest[:n]
    if isinstance(sock, _Socket):
        sock._pb_rest = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest


def http(port, method, path, body=b"", headers=None, version="1.1", timeout=5):
    s = connect(port, timeout)
    try:
        hdrs = {"Connection": "close"}
        hdrs.update(headers or {})
        s.sendall(build_request(method, path, body, hdrs, version))
        return read_response(s, method)
    finally:
        s.close()


def raw(port, data, timeout=3):
    """Sends bytes, returns everything received until close or timeout."""
    s = connect(port, timeout)
    try:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out
    finally:
        s.close()


def publish_text(srv, ids, body, expiry=86400):
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    headers = {"Message-Expiry": str(expiry)} if expiry is not None else {}
    return http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=" + "/".join(ids), body, headers)


def text_frames(body):
    """Parses NGINX text frames the way the Bitrix client does."""
    import re
    if isinstance(body, bytes):
        body = body.decode()
    out = []
    for m in re.finditer(r"#!NGINXNMS!#(.*?)#!NGINXNME!#", body):
        out.append(json.loads(m.group(1)))
    return out


# ---- V5 subscribers (helper shared by 44/58) ----
def jwt_token(key, sub, chans, ttl=600):
    """An HS256 subscribe token as Bitrix issues one: user sub, channels chans."""
    import base64

    def b64url(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    head = b64url(b'{"typ":"JWT","alg":"HS256"}')
    pl = b64url(json.dumps({"iss": "t", "iat": now, "exp": now + ttl, "sub": sub,
                            "chan": ",".join(chans)}).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (head, pl)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, pl, b64url(sig))


# ---- long-poll subscribers, witnesses, stats (helpers added for 10/20/30/50/60) ----
def server_stat(srv):
    """The /server-stat/ object of this process (a dict)."""
    st, _, body = http(srv.pub_port, "GET", "/server-stat/")
    if st != 200:
        raise RuntimeError("/server-stat/ answered %d" % st)
    return json.loads(body)[0]


def metrics(srv):
    """/metrics as {'name{labels}': float}."""
    st, _, body = http(srv.pub_port, "GET", "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def wait_for(cond, timeout=5, step=0.02):
    """Polls cond() until true or timeout; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


def wait_log(srv, text, timeout=5):
    return wait_for(lambda: text in srv.log(), timeout)


class Poll:
    """One long-poll request held open on its own socket.

    Poll(srv, srv.signed(cid)) sends GET <path>?CHANNEL_ID=<ids><query> and,
    when wait is true, returns once the server counts one more long poll (so a
    publish made next is certain to find it). response() reads the answer."""

    def __init__(self, srv, ids, query="", headers=None, path="/bitrix/sub/", version="1.1",
                 wait=True, timeout=15):
        if isinstance(ids, str):
            ids = [ids]
        self.srv = srv
        before = server_stat(srv)["pollings"] if wait else 0
        self.sock = connect(srv.sub_port, timeout)
        self.target = path + "?CHANNEL_ID=" + "/".join(ids) + query
        self.sock.sendall(build_request("GET", self.target, headers=headers, version=version))
        self.t0 = time.time()
        self.elapsed = None
        if wait:
            if not wait_for(lambda: server_stat(srv)["pollings"] > before, 5):
                note("poll %s: not counted within 5 s (pollings was %d)" % (self.target[:60], before))

    def response(self, timeout=10, close=True):
        """(status, headers, body) of the answer; raises socket.timeout."""
        self.sock.settimeout(timeout)
        try:
            r = read_response(self.sock)
            self.elapsed = time.time() - self.t0
            return r
        finally:
            if close:
                self.sock.close()

    def close(self):
        self.sock.close()


class Witness:
    """A long-poll subscriber on a channel of its own, opened before some bad
    input; check() publishes to it and asserts the message still arrives."""

    def __init__(self, srv):
        self.srv = srv
        self.cid = new_id()
        self.poll = Poll(srv, srv.signed(self.cid))

    def check(self, desc):
        token = new_id()
        try:
            st, _, _ = publish_text(self.srv, self.cid, json.dumps({"witness": token}))
            s, _, b = self.poll.response(5)
        except (OSError, ConnectionError) as e:
            note("witness: %r" % (e,))
            st = s = None
            b = b""
        return ok(st == 200 and s == 200 and token.encode() in b,
                  "another subscriber still receives after " + desc)


# ---- TLS (helpers added for 55-tls / 56-testssl) ----
def make_cert(directory, names="127.0.0.1", stem="tls"):
    """pullboxd --make-cert into directory; returns (cert_path, key_path).
    Raises RuntimeError with the tool's output when it fails."""
    cert = os.path.join(directory, stem + "-cert.pem")
    key = os.path.join(directory, stem + "-key.pem")
    r = subprocess.run([binary(), "--make-cert", cert, key, names], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("pullboxd --make-cert failed (%d): %s%s" % (r.returncode, r.stdout,
                                                                       r.stderr))
    return cert, key


def tls_conf(cert, key, **extra):
    """Config overrides for a TLS subscribe listener on a free port:
    Server(tls_conf(cert, key, **{"tls-handshake-timeout": 2}))."""
    conf = {"listen-subscribe-tls": "127.0.0.1:%d" % free_port(), "tls-certificate": cert,
            "tls-key": key}
    conf.update({k.replace("_", "-"): v for k, v in extra.items()})
    return conf


def tls_port(srv):
    """The port of the server's listen-subscribe-tls (None when off)."""
    v = srv.conf.get("listen-subscribe-tls", "off")
    return None if v == "off" else int(v.rsplit(":", 1)[1])


def tls_client_context(cafile=None, alpn=("http/1.1",)):
    """A verifying client context that trusts cafile (a self-signed cert works)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_connect(port, ctx, timeout=5, server_hostname="127.0.0.1"):
    """TCP connect + TLS handshake; the SSLSocket can be used with
    build_request/read_response like a plain one."""
    s = connect(port, timeout)
    try:
        return ctx.wrap_socket(s, server_hostname=server_hostname)
    except Exception:
        s.close()
        raise


def tls_http(port, ctx, method, path, body=b"", headers=None, timeout=5):
    s = tls_connect(port, ctx, timeout)
    try:
        hdrs = {"Connection": "close"}
        hdrs.update(headers or {})
        s.sendall(build_request(method, path, body, hdrs))
        return read_response(s, method)
    finally:
        s.close()


def cert_fingerprint(pem_path=None, der=None):
    """sha256 hex of a certificate (a PEM file, or DER bytes from getpeercert(True))."""
    import ssl
    if der is None:
        with open(pem_path) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def proc_status_int(pid, field):
    """A number from /proc/PID/status (VmRSS, TracerPid, ...); None when unreadable."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def vm_rss_kib(pid):
    """VmRSS of a process in KiB (None when unreadable)."""
    return proc_status_int(pid, "VmRSS")


def catch_up(srv, cid, timeout=4):
    """The texts stored for cid, by a long poll from mid zero (it answers at once
    when there is history)."""
    s = connect(srv.sub_port, timeout=timeout)
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), "0" * 26)))
    try:
        st, _, body = read_response(s)
    finally:
        s.close()
    return [f["text"] for f in text_frames(body)] if st == 200 else []


# ---- Redis (helpers added for 95-redis) ----
def refused_at_start(conf, text):
    """ok() that pullboxd with conf exits at start with text in its error."""
    s = Server(conf, start=False)
    try:
        s.start()
        s.stop()
        ok(False, "refused: %s" % conf)
    except RuntimeError as e:
        ok(text in str(e), "config %s is refused: %s" % (conf, text))


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=30)


class TestCA:
    """A certificate authority made with the openssl CLI in directory (ECDSA
    P-256, a day long), as the cluster hub makes one: ca.pem and issue()d
    server certificates; fingerprint is the CA's SHA-256 as
    redis-tls-fingerprint takes it."""

    def __init__(self, directory, name="pullbox-test-ca"):
        self.dir = directory
        self.name = name
        self.pem = os.path.join(directory, name + ".pem")
        self.key = os.path.join(directory, name + ".key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.key, "-out", self.pem, "-days", "1", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
        self.fingerprint = cert_fingerprint(self.pem)

    def issue(self, stem, sans="IP:127.0.0.1"):
        """A server certificate for sans; returns (chain_path, key_path): the
        chain is the certificate followed by the CA's, as a hub serves it."""
        crt, key, csr = (os.path.join(self.dir, stem + x) for x in (".crt", ".key", ".csr"))
        ext = os.path.join(self.dir, stem + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                    % sans)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=" + stem, cwd=self.dir)
        openssl("x509", "-req", "-in", csr, "-CA", self.pem, "-CAkey", self.key,
                "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext, cwd=self.dir)
        chain = os.path.join(self.dir, stem + "-chain.pem")
        with open(chain, "w") as out:
            out.write(open(crt).read() + open(self.pem).read())
        return chain, key


class Redis:
    """A throw-away redis-server on 127.0.0.1 (no persistence). stop() and
    start() again reuse the port, so nodes can reconnect to it. tls=True:
    it listens with tls-port only (port 0), with a certificate for
    127.0.0.1 from its own TestCA (self.ca); node_tls() gives the keys a
    node needs to reach it."""

    def __init__(self, password=None, args=None, tls=False):
        import shutil
        self.exe = shutil.which("redis-server")
        self.port = free_port()
        self.password = password
        self.args = list(args or [])  # more config directives, as redis-server's --name value ...
        self.dir = tempfile.mkdtemp(prefix="pullbox-redis-")
        self.proc = None
        self.ca = None
        if tls:
            self.ca = TestCA(self.dir)
            chain, key = self.ca.issue("redis")
            self.args = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", chain,
                         "--tls-key-file", key, "--tls-ca-cert-file", self.ca.pem,
                         "--tls-auth-clients", "no"] + self.args
        import atexit
        atexit.register(self.kill)  # a test that dies half-way leaves no redis-server behind
        if self.exe:
            self.start()

    def node_tls(self, pin=False):
        """A node's redis-tls keys for this Redis: its CA file, or the CA's pinned SHA-256."""
        if not self.ca:
            return {}
        return {"redis-tls": "on", **({"redis-tls-fingerprint": self.ca.fingerprint} if pin
                                      else {"redis-tls-ca": self.ca.pem})}

    def connect(self, timeout=3):
        """A socket to this Redis (TLS, verified, when it is a TLS Redis)."""
        c = socket.create_connection(("127.0.0.1", self.port), timeout)
        if self.ca:
            c = tls_client_context(self.ca.pem, alpn=None).wrap_socket(c, server_hostname="127.0.0.1")
        return c

    def start(self):
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir]
        if self.password:
            args += ["--requirepass", self.password]
        args += self.args
        self.proc = subprocess.Popen(args, stdout=open(os.path.join(self.dir, "log"), "ab"),
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with self.connect(0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(64):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


# ---- a server from a given build (helper added for 45/46/48) ----
def server_from(binary, conf=None):
    """Server(conf) started from binary (the plain build for RSS checks:
    ASan's quarantine keeps freed memory resident)."""
    old = os.environ.get("PULLBOX_BIN")
    os.environ["PULLBOX_BIN"] = binary
    try:
        return Server(conf)
    finally:
        if old is None:
            del os.environ["PULLBOX_BIN"]
        else:
            os.environ["PULLBOX_BIN"] = old
