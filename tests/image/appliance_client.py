"""What an admin does to a booted appliance, from outside: the setup wizard
over HTTPS (a session cookie, the CSRF token of each form, the Origin
header a browser sends) and the maintenance console over SSH (OpenSSH's
client with the password given through SSH_ASKPASS, a pseudo-terminal on
the appliance's side). Used by boot_test.py; Python standard library only.
"""
import http.client
import os
import re
import select
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.parse


def _tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the appliance's own self-signed certificate
    return ctx


class Wizard:
    """A browser's view of https://127.0.0.1:<port>/: one session cookie."""

    def __init__(self, port, timeout=120):
        self.port, self.timeout = port, timeout
        self.origin = "https://127.0.0.1:%d" % port
        self.cookie = None

    def request(self, method, path, fields=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=self.timeout, context=_tls())
        headers = {}
        body = None
        if self.cookie:
            headers["Cookie"] = self.cookie
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
        c.request(method, path, body, headers)
        r = c.getresponse()
        data = r.read().decode(errors="replace")
        c.close()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                self.cookie = v.split(";", 1)[0]
        return r.status, dict(r.getheaders()), data

    def get(self, path):
        return self.request("GET", path)

    def post_form(self, path, fields):
        """GETs the page for its CSRF token, then POSTs fields with it."""
        st, _, page = self.get(path)
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        if not m:
            return st, {}, "no CSRF token on %s (status %d): %s" % (path, st, page[:500])
        return self.request("POST", path, dict(fields, csrf=m.group(1)))

    def claim(self, code, password):
        return self.post_form("/claim", {"setup-code": code, "password": password, "password2": password})

    def login(self, password):
        return self.post_form("/login", {"password": password})

    def current_key(self):
        _, _, page = self.get("/keys")
        m = re.search(r'id="key-current"[^>]*>([0-9a-f]{32,128})<', page)
        return m.group(1) if m else None


def applied(status_body):
    """True when a settings page says its request was applied."""
    _, _, body = status_body
    return "Applied" in body


class Console:
    """The maintenance console as the admin meets it over SSH."""

    def __init__(self, port, user, password, timeout=60):
        self.dir = tempfile.mkdtemp(prefix="pullbox-ssh-")
        askpass = os.path.join(self.dir, "askpass")
        with open(askpass, "w") as f:
            f.write("#!/bin/sh\ncat %s\n" % os.path.join(self.dir, "pw"))
        os.chmod(askpass, stat.S_IRWXU)
        with open(os.path.join(self.dir, "pw"), "w") as f:
            f.write(password + "\n")
        env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        self.proc = subprocess.Popen(
            ["ssh", "-tt", "-p", str(port), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
             "-o", "PreferredAuthentications=password,keyboard-interactive",
             "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=%d" % timeout,
             "-o", "LogLevel=ERROR", "%s@127.0.0.1" % user],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        self.out = ""

    def read_until(self, pattern, timeout=60):
        """Reads until the regular expression matches what came since the last
        match; returns the match or None (the whole screen is in self.out)."""
        end = time.monotonic() + timeout
        start = len(self.out)
        while time.monotonic() < end:
            m = re.search(pattern, self.out[start:])
            if m:
                return m
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.out += chunk.decode(errors="replace").replace("\r", "")
        return re.search(pattern, self.out[start:])

    def send(self, line):
        self.proc.stdin.write((line + "\r").encode())
        self.proc.stdin.flush()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for n in ("askpass", "pw"):
            try:
                os.unlink(os.path.join(self.dir, n))
            except OSError:
                pass
        os.rmdir(self.dir)
