#!/bin/sh
#---help---
# Usage: PORT_BASE=N MONITOR=SOCK SERIAL=LOG packer/probe.sh
#
# Packer's shell-local provisioner for pullbox.pkr.hcl: waits for the
# appliance's "pullbox: ready" serial line, probes 8893, 8894 (TLS), 443
# (wizard) and 22 (SSH banner) over the 127.0.0.1 forwards, then presses
# the ACPI power button through the QEMU monitor. Exit 1 on a failed probe.
#---help---
set -eu
die() { printf 'probe: %s\n' "$*" >&2; exit 1; }
base=${PORT_BASE:?} mon=${MONITOR:?} serial=${SERIAL:?}
i=0
until grep -q 'pullbox: ready' "$serial" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || die "no 'pullbox: ready' on the serial console after 300 s"
	sleep 1
done
echo "probe: ready after about $i s of waiting"
curl -s -o /dev/null -m 10 "http://127.0.0.1:$((base + 893))/" || die "8893 does not answer"
curl -sk -o /dev/null -m 10 "https://127.0.0.1:$((base + 894))/" || die "8894 (TLS) does not answer"
curl -skf -m 10 "https://127.0.0.1:$((base + 443))/" | grep -q 'setup wizard coming' || die "443 does not serve the wizard page"
python3 - "$((base + 22))" <<'PY' || die "22 does not answer with an SSH banner"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
assert s.recv(64).startswith(b"SSH-2.0-dropbear")
PY
echo "probe: 8893, 8894, 443 and 22 answer"
python3 - "$mon" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.3)
s.sendall(b"system_powerdown\n")
time.sleep(0.5)
PY
echo "probe: ACPI power button pressed"
