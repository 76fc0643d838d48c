#!/bin/sh
#---help---
# Usage: appliance/scripts/mkova.sh IN.raw NAME VERSION OUT.ova
#
# Builds the OVA: a streamOptimized vmdk of IN.raw, the OVF 1.0 descriptor
# from appliance/ovf/appliance.ovf.in (@@VARS@@ filled in; VM_CPUS and
# VM_MEM_MIB set the hardware), a manifest of "SHA256(file)= hex" lines, and
# a ustar tar with the descriptor first, then the manifest, then the disk.
# Reproducible: fixed CID (mkformats.sh), owners 0:0, mtimes SOURCE_DATE_EPOCH.
#---help---
set -eu
die() { printf 'mkova: %s\n' "$*" >&2; exit 1; }
cleanup() { set +eu; trap '' EXIT HUP INT TERM; [ -z "${tmp:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'cleanup; exit 130' HUP INT TERM
[ $# -eq 4 ] || die "usage: mkova.sh IN.raw NAME VERSION OUT.ova"
raw=$1 name=$2 version=$3 out=$4
sde=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH is not set}
here=$(cd "$(dirname "$0")" && pwd)
tpl=$here/../ovf/appliance.ovf.in
[ -r "$raw" ] || die "$raw: cannot read"

tmp=$(mktemp -d "${out%/*}/.mkova.XXXXXX")
disk=$name-disk1.vmdk
"$here/mkformats.sh" "$raw" "$tmp/$disk"
capacity=$(qemu-img info --output=json -f raw "$raw" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p' | head -1)
populated=$(du -B1 "$raw" | cut -f1)
sed -e "s|@@NAME@@|$name|g" -e "s|@@VERSION@@|$version|g" -e "s|@@DISK_FILE@@|$disk|g" \
	-e "s|@@DISK_SIZE@@|$(wc -c <"$tmp/$disk")|g" -e "s|@@CAPACITY@@|$capacity|g" \
	-e "s|@@POPULATED@@|$populated|g" -e "s|@@CPUS@@|${VM_CPUS:-2}|g" \
	-e "s|@@MEM@@|${VM_MEM_MIB:-1024}|g" "$tpl" >"$tmp/$name.ovf"
grep -q '@@' "$tmp/$name.ovf" && die "unfilled @@VARS@@ in $tmp/$name.ovf"
if command -v xmllint >/dev/null; then
	xmllint --noout "$tmp/$name.ovf" || die "$name.ovf is not well-formed XML"
fi
(cd "$tmp" && for f in "$name.ovf" "$disk"; do
	printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"
done) >"$tmp/$name.mf"
touch -d "@$sde" "$tmp/$name.ovf" "$tmp/$name.mf" "$tmp/$disk"
tar -C "$tmp" --format=ustar --owner=0 --group=0 --numeric-owner --mode=0644 \
	--mtime="@$sde" -cf "$tmp/out.ova" "$name.ovf" "$name.mf" "$disk"
mv "$tmp/out.ova" "$out"
printf 'mkova: %s (%s bytes)\n' "$out" "$(wc -c <"$out")"
