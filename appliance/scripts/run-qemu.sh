#!/bin/sh
#---help---
# Usage: appliance/scripts/run-qemu.sh IMAGE.raw     (what `make run` does)
#
# Boots the appliance in QEMU (KVM when /dev/kvm works, else TCG) on a
# persistent copy-on-write overlay (out/run-vm/disk.qcow2: settings and keys
# survive between runs; it is recreated when the image is rebuilt), with the
# serial console on this terminal (Ctrl-a x quits QEMU) and the ports
# forwarded to 127.0.0.1 only. PORT_BASE (default 18000) moves them:
#   PORT_BASE+443 -> 443 (wizard)   PORT_BASE+80 -> 80    PORT_BASE+22 -> 22
#   PORT_BASE+893 -> 8893   PORT_BASE+894 -> 8894   PORT_BASE+895 -> 8895
# UEFI=1 boots with OVMF instead of SeaBIOS.
#---help---
set -eu
die() { printf 'run-qemu: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: run-qemu.sh IMAGE.raw"
img=$(cd "$(dirname "$1")" && pwd)/${1##*/}
[ -r "$img" ] || die "$img: no such image (make image)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (appliance/scripts/setup-host.sh tools)"
base=${PORT_BASE:-18000}
vmdir=${RUN_VM_DIR:-$(dirname "$img")/../run-vm}
mkdir -p "$vmdir"
disk=$vmdir/disk.qcow2
if [ ! -f "$disk" ] || [ "$img" -nt "$disk" ]; then
	[ ! -f "$disk" ] || echo "run-qemu: the image was rebuilt: starting over with a fresh appliance (new keys)"
	rm -f "$disk"
	qemu-img create -q -f qcow2 -F raw -b "$img" "$disk" 2G
fi
accel=tcg
if [ -w /dev/kvm ] && [ "${KVM:-0}" = 1 ]; then accel=kvm; fi
fw=""
if [ "${UEFI:-0}" = 1 ]; then
	cp -n /usr/share/OVMF/OVMF_VARS_4M.fd "$vmdir/vars.fd"
	fw="-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive if=pflash,format=raw,file=$vmdir/vars.fd"
fi
fwd="hostfwd=tcp:127.0.0.1:$((base + 443))-:443,hostfwd=tcp:127.0.0.1:$((base + 80))-:80"
fwd="$fwd,hostfwd=tcp:127.0.0.1:$((base + 22))-:22,hostfwd=tcp:127.0.0.1:$((base + 893))-:8893"
fwd="$fwd,hostfwd=tcp:127.0.0.1:$((base + 894))-:8894,hostfwd=tcp:127.0.0.1:$((base + 895))-:8895"
cat <<MSG
Booting the Pullbox appliance ($accel; the first boot generates its keys, about 30 s under TCG).
  setup wizard:        https://127.0.0.1:$((base + 443))/
  subscribe:           http://127.0.0.1:$((base + 893))/bitrix/sub/   ws://127.0.0.1:$((base + 893))/bitrix/subws/
  subscribe over TLS:  https://127.0.0.1:$((base + 894))/bitrix/sub/
  publish, health:     http://127.0.0.1:$((base + 895))/bitrix/pub/  http://127.0.0.1:$((base + 895))/health
                       (QEMU's NAT makes the host 10.0.2.2: allow it as a publisher in the wizard)
  ssh:                 ssh -p $((base + 22)) admin@127.0.0.1 (once the wizard has set a password)
  disk:                $disk
Serial console below; Ctrl-a x quits QEMU.
MSG
# shellcheck disable=SC2086
exec qemu-system-x86_64 -machine q35,accel=$accel -m 1024 -smp 2 $fw \
	-drive file="$disk",format=qcow2,if=virtio \
	-netdev user,id=n0,$fwd -device virtio-net-pci,netdev=n0 \
	-nographic -serial mon:stdio
