#!/usr/bin/env python3
"""A temporary appliance tree (a settings root for config-ui) with real runit.

As a CLI:
    python3 tests/lib/approot.py start DIR [--lighttpd] [--setup-code CODE | --random-code]
                                           [--apply-env NAME=VALUE]... [--no-wait]
        builds the tree in DIR (when DIR/data/etc/settings.conf is missing), starts
        `runsvdir DIR/var/service` in the background and prints one JSON object:
        {"dir", "runsvdir_pid", "services": {name: pid}, "setup_code", "signature_key",
         "spool", "apply", "pullboxd", "calls_log", "env": {"PULLBOX_ROOT": DIR}}
    python3 tests/lib/approot.py stop DIR
        stops every service (sv force-stop), then runsvdir and its runsv processes
    python3 tests/lib/approot.py submit DIR OP [KEY=VALUE | KEY<FILE]...
        writes a request into the spool and prints the result as JSON

As a module:
    from approot import AppRoot
    root = AppRoot(tempfile.mkdtemp(), lighttpd=False, apply_env={...})
    root.start(); root.submit("settings", {"hostname": "box"}); root.stop()

Run it as root inside `unshare -n` (the appliance's ports 80, 443, 8893-8895 are then
free, and the firewall rules land in the private namespace). The wizard CGI runs as
www-data: the spool (1770) and the wizard's state (run/pullbox-wizard, 0770) folders, settings, secrets and setup code
(0640) belong to group www-data.

The spool format (lib/spool.h): one "key=value\\n" line per argument, the first line
"op=<op>"; in values every byte below 0x20, 0x7f (DEL) and '%' is written %XX (two
uppercase hex digits). Request ids are 19 digits of nanoseconds since 1970, '-', 16
lowercase hex digits; <id>.req is written atomically (temporary name, rename), the
service answers <id>.res (ok=, field=, message=, then step.what=/step.ok=/step.detail=
per step) and removes <id>.req; the caller removes <id>.res.
"""
import grp
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.environ.get("O", os.path.join(REPO, "out"))
ROOTFS = os.path.join(REPO, "rootfs")
SERVICES = ["pullboxd", "pullbox-apply", "network", "ntpd"]
DEFAULT_SETUP_CODE = "ABCD-EFGH-JKLM"
WWW = "www-data"


def config_ui_binary(name):
    """The sanitizer build of a config-ui program if there is one, else the release build."""
    for d in ("config-ui-san", "config-ui"):
        p = os.path.join(OUT, d, name)
        if os.path.exists(p):
            return p
    return os.path.join(OUT, "config-ui-san", name)


def pullboxd_binary():
    san = os.path.join(OUT, "pullboxd-san")
    return san if os.path.exists(san) else os.path.join(OUT, "pullboxd")


def in_private_netns(flag):
    """Re-runs this script under `unshare -n` (root, runit and unshare needed: else TAP's
    SKIP and exit); returns once it runs there (flag set in the environment)."""
    if os.environ.get(flag) == "1":
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("runsvdir"):
        print("1..0 # SKIP needs root, unshare and runit")
        sys.exit(0)
    os.execvp("unshare", ["unshare", "-n", "env", flag + "=1", sys.executable] + sys.argv)


def build_apply_san():
    """Builds the sanitizer pullbox-apply the tests run (Bail out! when it does not build)."""
    r = subprocess.run(["make", "-s", "-C", os.path.join(REPO, "config-ui"), "O=" + OUT,
                        "SANITIZE=-fsanitize=address,undefined -fno-omit-frame-pointer", "CFLAGS=-O1 -g",
                        os.path.join(OUT, "config-ui-san", "pullbox-apply")],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        print("Bail out! pullbox-apply does not build")
        sys.exit(1)


# ---- the spool format ----

def _escape(value):
    if isinstance(value, str):
        value = value.encode()
    out = bytearray()
    for b in value:
        if b < 0x20 or b == 0x7F or b == 0x25:
            out += b"%%%02X" % b
        else:
            out.append(b)
    return bytes(out)


def _unescape(value):
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), value)


def encode_request(op, args=()):
    """args: a dict or a list of (key, value) pairs; values str or bytes."""
    items = args.items() if isinstance(args, dict) else args
    lines = [b"op=" + _escape(op)]
    for k, v in items:
        lines.append(k.encode() + b"=" + _escape(v))
    return b"\n".join(lines) + b"\n"


def decode_lines(data):
    pairs = []
    for line in data.split(b"\n")[:-1]:
        k, _, v = line.partition(b"=")
        pairs.append((k.decode(), _unescape(v)))
    return pairs


def decode_result(data):
    res = {"ok": False, "field": -1, "message": "", "steps": []}
    for k, v in decode_lines(data):
        v = v.decode(errors="replace")
        if k == "ok":
            res["ok"] = v == "1"
        elif k == "field":
            res["field"] = int(v)
        elif k == "message":
            res["message"] = v
        elif k == "step.what":
            res["steps"].append({"what": v, "ok": False, "detail": ""})
        elif k == "step.ok" and res["steps"]:
            res["steps"][-1]["ok"] = v == "1"
        elif k == "step.detail" and res["steps"]:
            res["steps"][-1]["detail"] = v
    return res


def new_request_id():
    return "%019d-%s" % (time.time_ns(), secrets.token_hex(8))


def _write(path, data, mode=0o644, group=None):
    if isinstance(data, str):
        data = data.encode()
    tmp = path + ".tmp-approot"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    if group is not None:
        os.chown(tmp, 0, group)
    os.replace(tmp, path)


def _script(path, body):
    _write(path, "#!/bin/sh\n" + body, 0o755)


class AppRoot:
    def __init__(self, directory, lighttpd=False, setup_code=DEFAULT_SETUP_CODE, apply_env=None):
        self.dir = os.path.abspath(directory)
        self.lighttpd = lighttpd
        self.setup_code = setup_code
        self.apply_env = dict(apply_env or {})
        self.runsvdir = None
        self.pid = None

    # ---- paths ----
    def path(self, rel):
        return os.path.join(self.dir, rel.lstrip("/"))

    def read(self, rel, binary=False):
        with open(self.path(rel), "rb") as f:
            data = f.read()
        return data if binary else data.decode()

    def env(self, **extra):
        env = dict(os.environ, PULLBOX_ROOT=self.dir)
        env.update(extra)
        return env

    @property
    def services(self):
        return SERVICES + (["lighttpd"] if self.lighttpd else [])

    # ---- building the tree ----
    def build(self):
        d = self.dir
        www = grp.getgrnam(WWW).gr_gid
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)  # lighttpd's www-data walks into it
        for rel in ("data/etc", "data/pullbox/tls", "data/pullbox/journal", "data/ssh",
                    "data/home/admin/.ssh", "var/service", "usr/sbin", "sbin", "etc/lighttpd",
                    "run"):
            os.makedirs(self.path(rel), exist_ok=True)
        os.chmod(self.path("data/ssh"), 0o700)
        os.chmod(self.path("data/home/admin/.ssh"), 0o700)
        for rel, mode in (("data/config-ui/spool", 0o1770), ("run/pullbox-wizard", 0o770)):
            os.makedirs(self.path(rel), exist_ok=True)
            os.chown(self.path(rel), 0, www)
            os.chmod(self.path(rel), mode)
        # update bundles (20-firstboot.sh): the wizard's uploads are its own
        up = self.path("data/config-ui/upload")
        os.makedirs(up, exist_ok=True)
        os.chown(up, pwd.getpwnam(WWW).pw_uid, www)
        os.chmod(up, 0o700)
        os.makedirs(self.path("data/updates"), mode=0o770, exist_ok=True)
        _write(self.path("etc/pullbox-version"), open(os.path.join(REPO, "VERSION")).read())
        verify = self.path("usr/sbin/pullbox-update-verify")
        if not os.path.lexists(verify):
            os.symlink(config_ui_binary("pullbox-update-verify"), verify)
        for svc in self.services:
            os.makedirs(self.path("var/log/" + svc), exist_ok=True)
        # programs of the appliance
        shutil.copy(os.path.join(ROOTFS, "usr/sbin/pullbox-firewall"), self.path("usr/sbin/pullbox-firewall"))
        os.chmod(self.path("usr/sbin/pullbox-firewall"), 0o755)
        link = self.path("usr/sbin/pullboxd")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(pullboxd_binary(), link)
        calls = self.path("calls.log")
        for verb in ("reboot", "poweroff"):
            _script(self.path("sbin/" + verb), 'echo "%s $*" >>%s\n' % (verb, shlex.quote(calls)))
        share = self.path("usr/share/pullbox")
        if not os.path.exists(share):
            shutil.copytree(os.path.join(ROOTFS, "usr/share/pullbox"), share)
        # first boot (rootfs/etc/runit/core-services/20-firstboot.sh)
        shutil.copy(os.path.join(ROOTFS, "usr/share/pullbox/defaults/shadow"), self.path("data/etc/shadow"))
        os.chmod(self.path("data/etc/shadow"), 0o600)
        _write(self.path("data/etc/setup-code"), self.setup_code + "\n", 0o640, www)
        _write(self.path("data/etc/firstboot-done"), time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        tls = self.path("data/pullbox/tls")
        subprocess.run([pullboxd_binary(), "--make-cert", tls + "/cert.pem", tls + "/key.pem",
                        "pullbox,localhost,127.0.0.1"], check=True, capture_output=True, timeout=60)
        # as on the appliance (root:pullbox there): www-data may not enter the folder
        os.chmod(tls, 0o750)
        os.chmod(tls + "/key.pem", 0o640)
        os.chmod(tls + "/cert.pem", 0o640)
        r = subprocess.run([config_ui_binary("pullbox-apply"), "--render"], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("pullbox-apply --render: " + r.stdout + r.stderr)
        self._services()
        if self.lighttpd:
            self._lighttpd_conf()

    def _service(self, name, run):
        sd = self.path("var/service/" + name)
        os.makedirs(sd + "/log", exist_ok=True)
        _script(sd + "/run", "exec 2>&1\n" + run)
        _script(sd + "/log/run", "exec svlogd -tt %s\n" % shlex.quote(self.path("var/log/" + name)))
        # runsv keeps an existing supervise/: made readable here (as stage 2
        # does on the appliance) so the unprivileged status pages can read
        # the state; its control fifo stays root's
        for sup in (sd + "/supervise", sd + "/log/supervise"):
            os.makedirs(sup, exist_ok=True)
            os.chmod(sup, 0o755)

    def _services(self):
        q = shlex.quote
        d = self.dir
        calls = q(self.path("calls.log"))
        self._service("pullboxd", "exec %s -c %s\n" % (q(self.path("usr/sbin/pullboxd")),
                                                       q(self.path("data/pullbox/pullbox.conf"))))
        env = "".join("export %s=%s\n" % (k, q(v)) for k, v in sorted(self.apply_env.items()))
        self._service("pullbox-apply", "export PULLBOX_ROOT=%s\n%sexec %s --serve\n" % (
            q(d), env, q(config_ui_binary("pullbox-apply"))))
        # stand-ins: they record that they (re)started and with which settings
        for name, conf in (("network", "network.conf"), ("ntpd", "ntp.conf")):
            self._service(name, 'echo "%s start $(grep -v "^#" %s 2>/dev/null | tr "\\n" " ")" >>%s\n'
                                'exec sleep 2147483647\n' % (name, q(self.path("data/etc/" + conf)), calls))
        if self.lighttpd:
            self._service("lighttpd", "exec lighttpd -D -f %s\n" % q(self.path("etc/lighttpd/lighttpd.conf")))

    def _lighttpd_conf(self):
        """rootfs/etc/lighttpd/**.conf with every absolute path under /data, /usr, /var,
        /etc moved under the root, www-data for www, and PULLBOX_ROOT for the CGI."""
        src_dir = os.path.join(ROOTFS, "etc/lighttpd")
        for dirpath, _, names in os.walk(src_dir):
            for n in names:
                if not n.endswith(".conf"):
                    continue
                src = os.path.join(dirpath, n)
                dst = self.path(os.path.join("etc/lighttpd", os.path.relpath(src, src_dir)))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                text = open(src).read()
                text = re.sub(r'"(/(?:data|usr|var|etc)(?:/[^"]*)?)"',
                              lambda m: '"%s%s"' % (self.dir, m.group(1)), text)
                text = re.sub(r'(server\.(?:username|groupname)\s*=\s*)"www"', r'\1"%s"' % WWW, text)
                if n == "lighttpd.conf" and dirpath == src_dir:
                    text += '\nsetenv.add-environment += ( "PULLBOX_ROOT" => "%s" )\n' % self.dir
                _write(dst, text)
                # programs the conf names under the root (the CGI): the build's
                for p in re.findall(r'"(%s/usr/[^"]+)"' % re.escape(self.dir), text):
                    p = p.rstrip("/")  # an alias target names the CGI with a slash
                    b = config_ui_binary(os.path.basename(p))
                    if not os.path.lexists(p) and os.path.exists(b):
                        os.makedirs(os.path.dirname(p), exist_ok=True)
                        os.symlink(b, p)

    # ---- running ----
    def start(self, wait=60.0, check=True):
        if not os.path.exists(self.path("data/etc/settings.conf")):
            self.build()
        log = open(self.path("runsvdir.log"), "ab")
        self.runsvdir = subprocess.Popen(["runsvdir", "-P", self.path("var/service"), "log: " + "." * 200],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        log.close()
        self.pid = self.runsvdir.pid
        _write(self.path("approot.json"), json.dumps({"runsvdir_pid": self.pid, "lighttpd": self.lighttpd}))
        if check:
            self.wait_ready(wait)
        return self.info()

    def wait_ready(self, timeout=60.0):
        deadline = time.time() + timeout
        ports = [8895, 8893] + ([443] if self.lighttpd else [])
        while time.time() < deadline:
            if self.service_up("pullbox-apply") and all(_port_open(p) for p in ports):
                return
            time.sleep(0.1)
        raise RuntimeError("the appliance tree did not come up in %.0f s: %s\n%s" % (
            timeout, {s: self.service_up(s) for s in self.services}, self.log_tail("pullboxd")))

    def service_pid(self, name):
        try:
            with open(self.path("var/service/%s/supervise/pid" % name)) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def service_up(self, name):
        try:
            with open(self.path("var/service/%s/supervise/stat" % name)) as f:
                return f.read().startswith("run")
        except OSError:
            return False

    def info(self):
        return {
            "dir": self.dir,
            "runsvdir_pid": self.pid,
            "services": {s: self.service_pid(s) for s in self.services},
            "setup_code": self.setup_code,
            "signature_key": self.secrets().get("signature-key", ""),
            "spool": self.path("data/config-ui/spool"),
            "apply": config_ui_binary("pullbox-apply"),
            "pullboxd": pullboxd_binary(),
            "calls_log": self.path("calls.log"),
            "env": {"PULLBOX_ROOT": self.dir},
        }

    def sv(self, verb, name, timeout=30):
        return subprocess.run(["sv", "-w", str(int(timeout)), verb, self.path("var/service/" + name)],
                              capture_output=True, text=True, timeout=timeout + 10)

    def stop(self, timeout=30.0):
        """Stops the services, then runsvdir and its runsv processes (all started here)."""
        if self.pid is None:
            try:
                self.pid = json.loads(self.read("approot.json"))["runsvdir_pid"]
            except (OSError, ValueError, KeyError):
                self.pid = None
        svdir = self.path("var/service")
        if os.path.isdir(svdir):
            for name in sorted(os.listdir(svdir)):
                for sub in (name, name + "/log"):
                    if os.path.exists(os.path.join(svdir, sub, "supervise/ok")):
                        subprocess.run(["sv", "-w", "10", "force-stop", os.path.join(svdir, sub)],
                                       capture_output=True, timeout=30)
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGHUP)  # runsvdir: TERM to each runsv, then exit
            except ProcessLookupError:
                pass
            deadline = time.time() + timeout
            while time.time() < deadline and _alive(self.pid):
                if self.runsvdir is not None and self.runsvdir.poll() is not None:
                    break
                time.sleep(0.05)
            if self.runsvdir is not None:
                try:
                    self.runsvdir.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
        # whatever still runs in the tree (runsv, a service that ignored TERM): by pid
        deadline = time.time() + timeout
        sig = signal.SIGTERM
        while time.time() < deadline:
            left = self._processes_in_tree()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
            if time.time() > deadline - timeout / 2:
                sig = signal.SIGKILL
        self.pid = None

    def _processes_in_tree(self):
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                cwd = os.readlink("/proc/%s/cwd" % p)
            except OSError:
                continue
            # runsv, the services and svlogd work in var/service or var/log
            if cwd.startswith(self.path("var") + "/"):
                pids.append(int(p))
        return pids

    # ---- requests ----
    def submit(self, op, args=(), timeout=60.0):
        """Writes a request and waits for its result (a dict: ok, field, message, steps)."""
        spool = self.path("data/config-ui/spool")
        rid = new_request_id()
        _write(os.path.join(spool, rid + ".req"), encode_request(op, args), 0o640)
        res = os.path.join(spool, rid + ".res")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(res):
                with open(res, "rb") as f:
                    data = f.read()
                os.unlink(res)
                return decode_result(data)
            time.sleep(0.05)
        try:
            os.unlink(os.path.join(spool, rid + ".req"))
        except OSError:
            pass
        raise TimeoutError("no answer from pullbox-apply in %.0f s" % timeout)

    def settings(self):
        return _keyvals(self.read("data/etc/settings.conf"))

    def secrets(self):
        try:
            return _keyvals(self.read("data/etc/secrets.conf"))
        except OSError:
            return {}

    def calls(self):
        try:
            return self.read("calls.log").splitlines()
        except OSError:
            return []

    def log_tail(self, name, n=30):
        try:
            return "\n".join(self.read("var/log/%s/current" % name).splitlines()[-n:])
        except OSError:
            return ""


def _keyvals(text):
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main(argv):
    if len(argv) < 2 or argv[0] not in ("start", "stop", "submit"):
        print(__doc__.split("As a module")[0], file=sys.stderr)
        return 100
    cmd, directory, rest = argv[0], argv[1], argv[2:]
    if cmd == "start":
        lighttpd = "--lighttpd" in rest
        code = DEFAULT_SETUP_CODE
        env = {}
        wait = "--no-wait" not in rest
        i = 0
        while i < len(rest):
            if rest[i] == "--setup-code":
                code = rest[i + 1]
                i += 1
            elif rest[i] == "--random-code":
                alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
                c = "".join(secrets.choice(alphabet) for _ in range(12))
                code = "%s-%s-%s" % (c[:4], c[4:8], c[8:])
            elif rest[i] == "--apply-env":
                k, _, v = rest[i + 1].partition("=")
                env[k] = v
                i += 1
            elif rest[i] not in ("--lighttpd", "--no-wait"):
                print("approot: unknown option %s" % rest[i], file=sys.stderr)
                return 100
            i += 1
        root = AppRoot(directory, lighttpd=lighttpd, setup_code=code, apply_env=env)
        try:
            info = root.start(check=wait)
        except Exception as e:
            print("approot: %s" % e, file=sys.stderr)
            root.stop()
            return 1
        print(json.dumps(info, indent=1))
        return 0
    if cmd == "stop":
        AppRoot(directory).stop()
        return 0
    args = []
    for a in rest[1:]:
        if "<" in a and ("=" not in a or a.index("<") < a.index("=")):
            k, _, f = a.partition("<")
            args.append((k, open(f, "rb").read()))
        else:
            k, _, v = a.partition("=")
            args.append((k, v))
    res = AppRoot(directory).submit(rest[0], args)
    print(json.dumps(res, indent=1))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
