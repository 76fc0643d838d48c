#!/bin/sh
#---help---
# Usage: appliance/scripts/mkformats.sh IN.raw OUT.{qcow2|vmdk|vhdx}
#
# Converts the raw disk with qemu-img, reproducibly:
#   qcow2  compressed
#   vmdk   streamOptimized (what OVA importers want), header v3, with the
#          random CID qemu-img writes replaced by a fixed one
#   vhdx   dynamic (Hyper-V), with qemu-img's random GUIDs replaced by fixed
#          ones and the header checksums recomputed
#---help---
set -eu
die() { printf 'mkformats: %s\n' "$*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: mkformats.sh IN.raw OUT.{qcow2|vmdk|vhdx}"
in=$1 out=$2
tmp=$out.tmp
rm -f "$tmp"
case $out in
*.qcow2)
	qemu-img convert -q -f raw -O qcow2 -c -o compression_type=zlib "$in" "$tmp" ;;
*.vmdk)
	qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized,adapter_type=ide,hwversion=10 "$in" "$tmp"
	# the descriptor (text, in the first sectors) carries a random CID
	off=$(grep -abo -m1 'CID=[0-9a-f]\{8\}' "$tmp" | head -1 | cut -d: -f1)
	[ -n "$off" ] || die "$tmp: no CID in the vmdk descriptor"
	printf 'CID=5a1e0001' | dd of="$tmp" bs=1 seek="$off" conv=notrunc status=none ;;
*.vhdx)
	qemu-img convert -q -f raw -O vhdx -o subformat=dynamic,block_size=1048576 "$in" "$tmp"
	python3 "$(dirname "$0")/vhdx-fix-guids.py" "$tmp" ;;
*) die "$out: unknown format" ;;
esac
mv "$tmp" "$out"
