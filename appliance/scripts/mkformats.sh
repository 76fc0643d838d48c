#!/bin/sh
#---help---
# Usage: appliance/scripts/mkformats.sh IN.raw OUT.{qcow2|vmdk|vhdx}
#
# Converts the raw disk with qemu-img, reproducibly:
#   qcow2  compressed
#   vmdk   streamOptimized (what OVA importers want), header v3, with the
#          random CID qemu-img writes replaced by a fixed one (vmdk-fix-cid.py,
#          which also checks the descriptor afterwards)
#   vhdx   dynamic (Hyper-V), with qemu-img's random GUIDs replaced by fixed
#          ones and the header checksums recomputed
#---help---
set -eu
die() { printf 'mkformats: %s\n' "$*" >&2; exit 1; }
cleanup() { set +eu; trap '' EXIT HUP INT TERM; [ -z "${tmpdir:-}" ] || rm -rf "$tmpdir"; }
trap cleanup EXIT
trap 'cleanup; exit 130' HUP INT TERM
[ $# -eq 2 ] || die "usage: mkformats.sh IN.raw OUT.{qcow2|vmdk|vhdx}"
in=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
# the file is written under its final name (a vmdk's descriptor names its
# own extent file) in a private directory, then moved into place
tmpdir=$(mktemp -d "$(dirname "$out")/.mkformats.XXXXXX")
tmp=$tmpdir/${out##*/}
case $out in
*.qcow2)
	qemu-img convert -q -f raw -O qcow2 -c -o compression_type=zlib "$in" "$tmp" ;;
*.vmdk)
	qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized,adapter_type=ide,hwversion=10 "$in" "$tmp"
	python3 "$here/vmdk-fix-cid.py" "$tmp" ;;
*.vhdx)
	qemu-img convert -q -f raw -O vhdx -o subformat=dynamic,block_size=1048576 "$in" "$tmp"
	python3 "$here/vhdx-fix-guids.py" "$tmp" ;;
*) die "$out: unknown format" ;;
esac
mv "$tmp" "$out"
