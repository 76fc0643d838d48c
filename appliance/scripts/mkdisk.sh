#!/bin/sh
#---help---
# Usage: appliance/scripts/mkdisk.sh KERNEL INITRD SYSTEM_SQUASHFS SYSLINUX_CFG OUT.raw
#
# Writes the raw GPT disk that boots on BIOS (syslinux gptmbr.bin + the
# LegacyBIOSBootable ESP) and on UEFI (syslinux.efi as BOOTX64.EFI):
#   p1  ESP "ESP"             64 MiB  FAT32: syslinux, /a and /b (each slot's
#                                     kernel, initramfs and version)
#   p2  "pullbox-system-a"   256 MiB  system slot a: the read-only squashfs
#   p3  "pullbox-system-b"   256 MiB  system slot b: empty until an update
#   p4  "pullbox-data"       rest     ext4 for every setting, key and log; last,
#                                     so that pullbox-growdata can grow it
# pullbox-update writes the slot that is not running; SYSLINUX_CFG has a
# label per slot and DEFAULT a.
# Rootless (mtools, mkfs -d free, sfdisk on a file, dd; no loop devices or
# mounts) and reproducible: fixed GUIDs and ids, SOURCE_DATE_EPOCH times.
# DISK_MIB (default 1024) sets the disk size.
#---help---
set -eu
die() { printf 'mkdisk: %s\n' "$*" >&2; exit 1; }
einfo() { printf 'mkdisk: %s\n' "$*"; }
cleanup() { set +eu; trap '' EXIT HUP INT TERM; [ -z "${tmp:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'cleanup; exit 130' HUP INT TERM
[ $# -eq 5 ] || die "usage: mkdisk.sh KERNEL INITRD SYSTEM_SQUASHFS SYSLINUX_CFG OUT.raw"
kernel=$1 initrd=$2 system=$3 cfg=$4 out=$5
sde=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH is not set}
disk_mib=${DISK_MIB:-1024}
for f in "$kernel" "$initrd" "$system" "$cfg"; do [ -r "$f" ] || die "$f: cannot read"; done
GPTMBR=/usr/lib/syslinux/mbr/gptmbr.bin
SYSLINUX_EFI=/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi
LDLINUX_E64=/usr/lib/syslinux/modules/efi64/ldlinux.e64
for f in $GPTMBR $SYSLINUX_EFI $LDLINUX_E64; do [ -r "$f" ] || die "$f missing (apt-get install syslinux syslinux-common syslinux-efi)"; done

# sectors of 512 bytes; a slot has room for a system twice today's size
esp_start=2048 esp_size=131072
sys_size=524288
sys_start=$((esp_start + esp_size)) sysb_start=$((esp_start + esp_size + sys_size))
data_start=$((sysb_start + sys_size))
total=$((disk_mib * 2048))
data_size=$((total - data_start - 2048))
[ "$data_size" -gt 131072 ] || die "DISK_MIB=$disk_mib is too small"
[ "$(wc -c <"$system")" -le $((sys_size * 512)) ] || die "$system does not fit in $((sys_size / 2048)) MiB"
version=$(unsquashfs -cat "$system" etc/pullbox-version 2>/dev/null) || die "$system: no etc/pullbox-version"

tmp=$(mktemp -d "${out%/*}/.mkdisk.XXXXXX")
export MTOOLS_SKIP_CHECK=1 SOURCE_DATE_EPOCH="$sde"

step_esp() {
	esp=$tmp/esp.img
	for f in "$kernel" "$initrd" "$cfg" $SYSLINUX_EFI $LDLINUX_E64; do
		cp "$f" "$tmp/${f##*/}.in"
		touch -d "@$sde" "$tmp/${f##*/}.in"
	done
	printf '%s\n' "$version" >"$tmp/version.in"
	touch -d "@$sde" "$tmp/version.in"
	mkfs.fat -C -F 32 -S 512 -s 1 -h $esp_start -i 5A1E0001 -n PULLBOX --invariant \
		"$esp" $((esp_size / 2)) >/dev/null
	mmd -i "$esp" ::/syslinux ::/EFI ::/EFI/BOOT ::/a ::/pullbox
	mcopy -m -i "$esp" "$tmp/${kernel##*/}.in" ::/a/vmlinuz
	mcopy -m -i "$esp" "$tmp/${initrd##*/}.in" ::/a/initrd.img
	mcopy -m -i "$esp" "$tmp/version.in" ::/a/version
	mcopy -m -i "$esp" "$tmp/${cfg##*/}.in" ::/syslinux/syslinux.cfg
	mcopy -m -i "$esp" "$tmp/${cfg##*/}.in" ::/EFI/BOOT/syslinux.cfg
	mcopy -m -i "$esp" "$tmp/syslinux.efi.in" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -m -i "$esp" "$tmp/ldlinux.e64.in" ::/EFI/BOOT/ldlinux.e64
	syslinux --install --directory /syslinux "$esp"
}

step_data() {
	data=$tmp/data.img
	truncate -s $((data_size * 512)) "$data"
	E2FSPROGS_FAKE_TIME=$sde mkfs.ext4 -q -F -L pbdata -U 5a1e0003-0000-4000-8000-000000000003 \
		-E hash_seed=5a1e0003-0000-4000-8000-0000000000a5,root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0 \
		-b 4096 -m 1 "$data"
}

step_gpt() {
	rm -f "$out.tmp"
	truncate -s $((total * 512)) "$out.tmp"
	sfdisk -q --no-reread --no-tell-kernel "$out.tmp" <<GPT
label: gpt
label-id: 5A1E0000-0000-4000-8000-000000000000
first-lba: 2048
start=$esp_start, size=$esp_size, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=5A1E0001-0000-4000-8000-000000000001, name="ESP", attrs="LegacyBIOSBootable"
start=$sys_start, size=$sys_size, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=5A1E0002-0000-4000-8000-000000000002, name="pullbox-system-a"
start=$sysb_start, size=$sys_size, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=5A1E0004-0000-4000-8000-000000000004, name="pullbox-system-b"
start=$data_start, size=$data_size, type=3B8F8425-20E0-4F3B-907F-1A25A76F98E8, uuid=5A1E0003-0000-4000-8000-000000000003, name="pullbox-data"
GPT
	dd if=$GPTMBR of="$out.tmp" bs=440 count=1 conv=notrunc status=none
	dd if="$tmp/esp.img" of="$out.tmp" bs=512 seek=$esp_start conv=notrunc,sparse status=none
	dd if="$system" of="$out.tmp" bs=512 seek=$sys_start conv=notrunc,sparse status=none
	dd if="$tmp/data.img" of="$out.tmp" bs=512 seek=$data_start conv=notrunc,sparse status=none
	mv "$out.tmp" "$out"
}

step_esp
step_data
step_gpt
einfo "$out ($disk_mib MiB; $(du -k "$out" | cut -f1) KiB allocated)"
