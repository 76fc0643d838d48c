#!/usr/bin/env python3
"""pullbox-apply --seed (first boot: the settings that came with the VM) against a
temporary appliance tree (tests/lib/approot.py), as stage 1 runs it before any
service: an OVF environment and a NoCloud seed are validated by the settings
library like the wizard's values; an invalid value is reported and skipped with
its whole group (never half-applied); an admin hash or an SSH key claims the
appliance, otherwise the setup code stays; a document that is not well formed
changes nothing."""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("PULLBOX_ROOT_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

from pbtest import done, note, ok  # noqa: E402
from approot import AppRoot, config_ui_binary  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkS2VQ1dQ0Jm1kq9mB0m3p8n8H2qXv0aJm3Qf7Yc5iW seed@test"
SIGNING_KEY = "0123456789abcdef" * 4


def ovf_env(props):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" '
            'xmlns:oe="http://schemas.dmtf.org/ovf/environment/1">\n<PropertySection>\n' +
            "".join('  <Property oe:key="%s" oe:value="%s"/>\n' % kv for kv in props) +
            "</PropertySection>\n</Environment>\n")


def fresh(tmp, name):
    root = AppRoot(os.path.join(tmp, name))
    root.build()
    return root


def seed(root, kind, path):
    r = subprocess.run([config_ui_binary("pullbox-apply"), "--seed", kind, path], env=root.env(),
                       capture_output=True, text=True, timeout=60)
    note("%s: exit %d\n%s%s" % (kind, r.returncode, r.stdout, r.stderr))
    return r


def digest(root, *rels):
    h = hashlib.sha256()
    for rel in rels:
        try:
            h.update(root.read(rel, binary=True))
        except OSError:
            h.update(b"(none)")
    return h.hexdigest()


def exists(root, rel):
    return os.path.exists(root.path(rel))


def main():
    tmp = tempfile.mkdtemp(prefix="pb-seed-")
    try:
        hash_ = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input="seed-pw", capture_output=True,
                               text=True, check=True).stdout.strip()

        # ---- OVF environment: a bad gateway drops the network group; the rest applies ----
        root = fresh(tmp, "ovf")
        env = os.path.join(tmp, "ovf-env.xml")
        with open(env, "w") as f:
            f.write(ovf_env([("hostname", "pb-east"), ("network.mode", "static"),
                             ("network.address", "192.0.2.10/24"), ("network.gateway", "192.0.2.300"),
                             ("network.dns", ""), ("site.publishers", "192.0.2.20"),
                             ("admin.password-hash", hash_), ("site.signature-key", SIGNING_KEY)]))
        r = seed(root, "ovf", env)
        st, sec = root.settings(), root.secrets()
        ok(r.returncode == 1, "something was skipped: exit 1")
        ok("skipped: OVF property network.gateway = 192.0.2.300: Gateway" in r.stdout,
           "the invalid gateway is reported with the validator's message")
        ok("skipped: OVF property network.mode = static" in r.stdout
           and "skipped: OVF property network.address = 192.0.2.10/24" in r.stdout,
           "... and the rest of the network group is skipped with it")
        ok(st.get("network.mode") == "dhcp" and st.get("network.address", "") == "",
           "settings.conf: the network stays as it was (DHCP): never half-applied")
        ok(st.get("hostname") == "pb-east" and st.get("site.publishers") == "192.0.2.20",
           "settings.conf: the valid groups are applied")
        ok("applied: OVF property hostname = pb-east" in r.stdout, "what was applied is reported")
        ok(sec.get("signature-key") == SIGNING_KEY, "secrets.conf: the given signature key")
        ok("192.0.2.20" in root.read("data/etc/firewall.conf")
           and SIGNING_KEY in root.read("data/pullbox/pullbox.conf"),
           "the services' files are rendered from them (firewall.conf, pullbox.conf)")
        ok(sec.get("admin-password-hash") == hash_ and ("admin:" + hash_) in root.read("data/etc/shadow"),
           "the admin's hash is in secrets.conf and the shadow file")
        ok(exists(root, "data/etc/claimed") and not exists(root, "data/etc/setup-code"),
           "the hash claimed the appliance: no setup code")
        ok(not exists(root, "data/etc/network-rollback"), "no network trial at first boot (nothing to confirm)")

        # ---- NoCloud: an SSH key alone claims it ----
        root = fresh(tmp, "nocloud")
        nc = os.path.join(tmp, "cidata")
        os.makedirs(nc)
        with open(os.path.join(nc, "meta-data"), "w") as f:
            f.write("instance-id: i-1\nlocal-hostname: meta-name\n")
        with open(os.path.join(nc, "user-data"), "w") as f:
            f.write("#cloud-config\nhostname: pb-west\nssh_authorized_keys:\n  - %s\n  - not a key\n" % KEY)
        with open(os.path.join(nc, "network-config"), "w") as f:
            f.write("version: 2\nethernets:\n  eth0:\n    addresses: [198.51.100.5/24]\n"
                    "    routes:\n      - to: default\n        via: 198.51.100.1\n"
                    "    nameservers:\n      addresses: [198.51.100.53]\n")
        r = seed(root, "nocloud", nc)
        st = root.settings()
        ok(st.get("hostname") == "pb-west" and st.get("network.mode") == "static"
           and st.get("network.address") == "198.51.100.5/24" and st.get("network.gateway") == "198.51.100.1"
           and st.get("network.dns") == "198.51.100.53",
           "NoCloud: host name and the static network applied")
        ok(KEY in root.read("data/home/admin/.ssh/authorized_keys"), "the valid SSH key is authorized")
        ok("skipped: user-data ssh_authorized_keys (line 5): SSH key" in r.stdout and r.returncode == 1,
           "the invalid one is reported and skipped")
        ok(exists(root, "data/etc/claimed") and not exists(root, "data/etc/setup-code")
           and root.secrets().get("admin-password-hash", "") == "",
           "the SSH key claimed the appliance (no password set)")

        # ---- a link on the medium is not followed ----
        root = fresh(tmp, "link")
        nc2 = os.path.join(tmp, "cidata-link")
        os.makedirs(nc2)
        with open(os.path.join(nc2, "meta-data"), "w") as f:
            f.write("instance-id: i-2\nlocal-hostname: pb-link\n")
        os.symlink(root.path("data/etc/secrets.conf"), os.path.join(nc2, "user-data"))
        r = seed(root, "nocloud", nc2)
        ok("user-data: not a regular file: not read" in r.stdout and root.settings().get("hostname") == "pb-link"
           and "signature-key" not in r.stdout,
           "a seed file that is a symbolic link is not read (the rest is)")

        # ---- nothing that claims: the setup code stays ----
        root = fresh(tmp, "unclaimed")
        with open(env, "w") as f:
            f.write(ovf_env([("hostname", "pb-north"), ("admin.password-hash", "plain-text"),
                             ("admin.ssh-key", "ssh-ed25519 !!!")]))
        r = seed(root, "ovf", env)
        ok(root.settings().get("hostname") == "pb-north" and r.returncode == 1,
           "an invalid hash and key: the host name still applies")
        ok(not exists(root, "data/etc/claimed") and exists(root, "data/etc/setup-code"),
           "not claimed: the setup code stays")

        # ---- a document that is not well formed changes nothing ----
        root = fresh(tmp, "broken")
        files = ("data/etc/settings.conf", "data/etc/secrets.conf", "data/etc/claimed", "data/etc/setup-code")
        before = digest(root, *files)
        good = ovf_env([("hostname", "pb-south"), ("admin.password-hash", hash_)])
        with open(env, "w") as f:
            f.write(good[:-30])
        r = seed(root, "ovf", env)
        ok(r.returncode == 1 and "not well-formed" in r.stdout and digest(root, *files) == before,
           "a truncated ovf-env.xml: reported, nothing applied")
        with open(env, "w") as f:
            f.write('<!DOCTYPE e [<!ENTITY x "pb-evil">]>' + good.replace("pb-south", "&x;"))
        r = seed(root, "ovf", env)
        ok(r.returncode == 1 and "DOCTYPE" in r.stdout and digest(root, *files) == before,
           "a DOCTYPE (entities) is refused, nothing applied")
        r = seed(root, "nocloud", os.path.join(tmp, "missing"))
        ok(r.returncode == 111 and digest(root, *files) == before, "an empty seed: exit 111, nothing applied")
        # ---- the OVA declares what the first boot reads ----
        import xml.etree.ElementTree as ET
        ns = {"ovf": "http://schemas.dmtf.org/ovf/envelope/1"}
        tpl = open(os.path.join(ROOT, "appliance", "ovf", "appliance.ovf.in")).read()
        props = [(p.get("{%s}key" % ns["ovf"]), p.get("{%s}value" % ns["ovf"]))
                 for p in ET.fromstring(tpl).iter("{%s}Property" % ns["ovf"])]
        ok(len(props) >= 10, "the OVF template's ProductSection declares properties: %s" % [k for k, _ in props])
        root = fresh(tmp, "template")
        with open(env, "w") as f:
            f.write(ovf_env([(k, "pb-tpl" if k == "hostname" else v) for k, v in props]))
        r = seed(root, "ovf", env)
        ok(r.returncode == 0 and "skipped" not in r.stdout and root.settings().get("hostname") == "pb-tpl"
           and exists(root, "data/etc/setup-code"),
           "its defaults are all understood and valid (only the host name given: not claimed)")
        r = subprocess.run([config_ui_binary("pullbox-apply"), "--seed", "iso", env], env=root.env(),
                           capture_output=True, text=True)
        ok(r.returncode == 100, "an unknown seed kind is a usage error")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
