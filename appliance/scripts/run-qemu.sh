#!/bin/sh
#---help---
# Usage: appliance/scripts/run-qemu.sh IMAGE.raw PULLBOXD     (what `make run` does)
#
# Boots the appliance in QEMU (TCG; KVM=1 uses /dev/kvm) from a persistent
# copy of the image (out/run-vm/disk.raw: settings and keys survive between
# runs; it starts over when the image is rebuilt), with the serial console
# on this terminal (Ctrl-a x quits QEMU) and the ports forwarded to
# 127.0.0.1 only. PORT_BASE (default 18000) moves them:
#   PORT_BASE+443 -> 443 (wizard)   PORT_BASE+80 -> 80    PORT_BASE+22 -> 22
#   PORT_BASE+893 -> 8893   PORT_BASE+894 -> 8894   PORT_BASE+895 -> 8895
# UEFI=1 boots with OVMF instead of SeaBIOS.
#
# Developer mode: on a new copy it writes to the data partition a
# secrets.conf with a new signature key (made with PULLBOXD, the static
# build) and a settings.conf that allows this host (10.0.2.2 behind QEMU's
# NAT) to publish, and prints the key; the appliance is left unclaimed, so
# the setup wizard asks for the setup code shown on the console.
#---help---
set -eu
die() { printf 'run-qemu: %s\n' "$*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: run-qemu.sh IMAGE.raw PULLBOXD"
img=$(cd "$(dirname "$1")" && pwd)/${1##*/}
pullboxd=$2
[ -r "$img" ] || die "$img: no such image (make image)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (appliance/scripts/setup-host.sh tools)"
base=${PORT_BASE:-18000}
vmdir=${RUN_VM_DIR:-$(dirname "$img")/../run-vm}
mkdir -p "$vmdir"
disk=$vmdir/disk.raw

# byte offset of the data partition (GPT name pullbox-data)
data_offset() {
	sfdisk -d "$1" | sed -n 's/.*start= *\([0-9]*\),.*name="pullbox-data".*/\1/p' | awk '{ print $1 * 512 }'
}

if [ ! -f "$disk" ] || [ "$img" -nt "$disk" ]; then
	[ ! -f "$disk" ] || echo "run-qemu: the image was rebuilt: starting over with a fresh appliance (new keys)"
	rm -f "$disk" "$vmdir/vars.fd"
	cp --sparse=always "$img" "$disk.tmp"
	off=$(data_offset "$disk.tmp")
	[ -n "$off" ] || die "$img has no pullbox-data partition"
	key=$("$pullboxd" --print-config --generate-key | sed -n 's/^signature-key = //p')
	printf 'signature-key = %s\n' "$key" >"$vmdir/secrets.conf"
	printf '# written by make run (developer mode): this host behind QEMU NAT may publish\nsite.publishers = 10.0.2.2\n' >"$vmdir/settings.conf"
	debugfs -w -f - "$disk.tmp?offset=$off" >/dev/null 2>&1 <<CMDS
mkdir /etc
write $vmdir/secrets.conf /etc/secrets.conf
write $vmdir/settings.conf /etc/settings.conf
CMDS
	mv "$disk.tmp" "$disk"
fi
key=$(sed -n 's/^signature-key *= *//p' "$vmdir/secrets.conf" 2>/dev/null)
accel=tcg
if [ "${KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then accel=kvm; fi
fw=""
if [ "${UEFI:-0}" = 1 ]; then
	[ -f "$vmdir/vars.fd" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vmdir/vars.fd"
	fw="-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive if=pflash,format=raw,file=$vmdir/vars.fd"
fi
fwd="hostfwd=tcp:127.0.0.1:$((base + 443))-:443,hostfwd=tcp:127.0.0.1:$((base + 80))-:80"
fwd="$fwd,hostfwd=tcp:127.0.0.1:$((base + 22))-:22,hostfwd=tcp:127.0.0.1:$((base + 893))-:8893"
fwd="$fwd,hostfwd=tcp:127.0.0.1:$((base + 894))-:8894,hostfwd=tcp:127.0.0.1:$((base + 895))-:8895"
cat <<MSG
Booting the Pullbox appliance ($accel; about 20 s to serving under TCG).
  setup wizard:        https://127.0.0.1:$((base + 443))/   (setup code: on the console below)
  subscribe:           http://127.0.0.1:$((base + 893))/bitrix/sub/   ws://127.0.0.1:$((base + 893))/bitrix/subws/
  subscribe over TLS:  https://127.0.0.1:$((base + 894))/bitrix/sub/  wss://127.0.0.1:$((base + 894))/bitrix/subws/
  publish:             http://127.0.0.1:$((base + 895))/bitrix/pub/
  health, metrics:     http://127.0.0.1:$((base + 895))/health  http://127.0.0.1:$((base + 895))/metrics
  ssh:                 127.0.0.1 port $((base + 22)) (no login until the wizard sets one)
  signature_key:       ${key:-(set by the appliance on its first boot)}
  disk:                $disk (delete it to start over)
Serial console below; Ctrl-a x quits QEMU.
MSG
# shellcheck disable=SC2086
exec qemu-system-x86_64 -machine q35,accel=$accel -m 1024 -smp 2 $fw \
	-drive file="$disk",format=raw,if=virtio \
	-netdev user,id=n0,$fwd -device virtio-net-pci,netdev=n0 \
	-nographic -serial mon:stdio
