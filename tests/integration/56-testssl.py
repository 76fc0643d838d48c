#!/usr/bin/env python3
"""testssl (Debian package testssl.sh 3.0.x, /usr/bin/testssl) against the TLS
subscribe listener: no finding rated HIGH or CRITICAL.

The main scan uses a certificate issued by a throw-away local CA (trusted with
--add-ca, 200 days, CRL and OCSP URIs present), so what is judged is the
server's TLS configuration, not the properties every self-signed certificate
has. A short -S scan of the `pullboxd --make-cert` certificate follows (cut
after CERT_LIMIT seconds); its findings are printed as notes only (a
self-signed certificate is always "not trusted", and its 10-year validity is
HIGH for testssl).

Offline-safe: --nodns none, no --phone-out (no OCSP/CRL fetches), --fast, and
a hard time bound on each run."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, ok, note, done, make_cert, tls_conf, tls_port  # noqa: E402

MAIN_LIMIT = 240     # seconds for the main scan (about 100 s on an idle 2-core machine)
CERT_LIMIT = 60      # seconds for the informational certificate-only scan
BAD = ("HIGH", "CRITICAL")
TMP = tempfile.mkdtemp(prefix="pullbox-testssl-")


def testssl_bin():
    for p in ("/usr/bin/testssl", shutil.which("testssl") or "", shutil.which("testssl.sh") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


def run_testssl(port, args, limit, tag):
    """Runs testssl with a JSON file; returns (findings list or None, seconds, output tail)."""
    jf = os.path.join(TMP, tag + ".json")
    cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
           "--connect-timeout", "5", "--openssl-timeout", "5", "--jsonfile", jf,
           "--ip", "127.0.0.1"] + args + ["https://127.0.0.1:%d/bitrix/sub/" % port]
    note("running: " + " ".join(cmd))
    t0 = time.time()
    # own session: on timeout the whole group (testssl and its openssl children) is ended
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        timed_out = True
    dt = time.time() - t0
    text = out.decode(errors="replace")
    findings = None
    try:
        with open(jf) as f:
            findings = json.load(f)
    except (OSError, ValueError) as e:
        note("%s: no JSON (%r)" % (tag, e))
    return findings, dt, text, timed_out, proc.returncode


def summary(findings):
    counts = {}
    for x in findings:
        counts[x.get("severity")] = counts.get(x.get("severity"), 0) + 1
    return ", ".join("%s %d" % (k, v) for k, v in sorted(counts.items()))


def local_pki():
    """A CA and a server certificate for 127.0.0.1 issued by it (openssl)."""
    d = os.path.join(TMP, "pki")
    os.makedirs(d)
    ca_key, ca, key, csr, cert, ext = (os.path.join(d, n) for n in (
        "ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "ext.cnf"))
    run = lambda c: subprocess.run(c, capture_output=True, text=True, check=True)  # noqa: E731
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", ca_key, "-out", ca, "-subj", "/O=Pullbox Test/CN=Pullbox Test CA", "-days", "400",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "crlDistributionPoints=URI:http://127.0.0.1/pullbox-test.crl\n"
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1/ocsp\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "200", "-sha256", "-extfile", ext])
    return ca, cert, key


TESTSSL = testssl_bin()
if TESTSSL is None:
    ok(False, "testssl is installed (Debian package testssl.sh, /usr/bin/testssl) -- it is missing")
    done()

ver = subprocess.run([TESTSSL, "--version"], capture_output=True, text=True)
for line in (ver.stdout + ver.stderr).splitlines():
    if "testssl" in line and "from" in line:
        note(re.sub(r"\x1b\[[0-9;]*m", "", line).strip())

ca, cert, key = local_pki()
with Server(tls_conf(cert, key, **{"longpoll-timeout": 5})) as srv:
    port = tls_port(srv)
    findings, dt, text, timed_out, rc = run_testssl(
        port, ["--add-ca", ca, "--fast", "-p", "-s", "-f", "-S", "-U"], MAIN_LIMIT, "main")
    ok(not timed_out, "testssl (protocols, ciphers, FS, server defaults, vulnerabilities) "
       "finishes within %ds (%.0fs)" % (MAIN_LIMIT, dt))
    if timed_out or findings is None:
        note(text[-3000:])
    findings = findings or []
    scanned = [x for x in findings if x.get("id") == "scanTime"]
    ok(findings and scanned and scanned[0].get("finding", "").isdigit(),
       "testssl completed the scan and wrote its JSON (%d findings)" % len(findings))
    note("findings: " + summary(findings))
    for x in findings:
        if x.get("severity") not in ("OK", "INFO"):
            note("  %-9s %-28s %s" % (x.get("severity"), x.get("id"), x.get("finding")))
    for ident in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cert_chain_of_trust",
                  "PFS", "FS", "cipher_order", "secure_renego", "secure_client_renego", "CRIME_TLS"):
        for x in findings:
            if x.get("id") == ident:
                note("  %-9s %-28s %s" % (x.get("severity"), ident, x.get("finding")))
    bad = [x for x in findings if x.get("severity") in BAD]
    ok(findings and not bad, "testssl: no finding rated HIGH or CRITICAL")
    for x in bad:
        note("  BAD %s %s: %s" % (x.get("severity"), x.get("id"), x.get("finding")))
    trust = [x for x in findings if x.get("id") == "cert_chain_of_trust"]
    ok(trust and trust[0].get("severity") == "OK",
       "testssl trusts the chain with the local CA (%s)" % (trust[0].get("finding") if trust else "-"))

# the certificate pullboxd --make-cert writes: findings as notes only, and only when
# the main scan left time for it (the whole file stays near 3 minutes)
main_dt = dt
mc_cert, mc_key = make_cert(TMP, "127.0.0.1", "make-cert")
if main_dt > 120:
    note("main scan took %.0fs: the informational --make-cert scan is left out" % main_dt)
    shutil.rmtree(TMP, ignore_errors=True)
    done()
with Server(tls_conf(mc_cert, mc_key)) as srv:
    findings, dt, text, timed_out, rc = run_testssl(tls_port(srv), ["-S"], CERT_LIMIT, "make-cert")
    findings = findings or []
    note("--make-cert certificate (informational, not asserted%s, %.0fs): %s"
         % (", scan cut at %ds" % CERT_LIMIT if timed_out else "", dt, summary(findings)))
    for x in findings:
        if x.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
            note("  %-9s %-28s %s" % (x.get("severity"), x.get("id"), x.get("finding")))

shutil.rmtree(TMP, ignore_errors=True)
done()
