#!/bin/sh
#---help---
# Usage: appliance/scripts/mkmodules.sh KROOT ABI DEST LIST...
#
# Copies the kernel modules named in the LIST files (one name a line, '#'
# comments), with every module they depend on, from KROOT/lib/modules/ABI
# (an unpacked linux-image .deb) to DEST/lib/modules/ABI, and runs depmod
# there. A name that is neither a module nor built in is an error.
#---help---
set -eu
die() { printf 'mkmodules: %s\n' "$*" >&2; exit 1; }
[ $# -ge 4 ] || die "usage: mkmodules.sh KROOT ABI DEST LIST..."
kroot=$1 abi=$2 dest=$3
shift 3
src=$kroot/lib/modules/$abi
[ -d "$src" ] || die "$src: no such directory"
# Debian's .deb ships no modules.dep (its postinst makes it): make one once.
[ -s "$src/modules.dep" ] || depmod -b "$kroot" "$abi" || die "depmod failed on $src"

names=$(cat "$@" | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | tr '-' '_' | sort -u)
files=$(printf '%s\n' "$names" | awk -v src="$src" '
	FNR == NR { want[$1] = 1; next }
	FILENAME ~ /modules.builtin$/ { n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub("-", "_", n); builtin[n] = 1; next }
	{
		line = $0; sub(/:.*/, "", line)
		n = line; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub("-", "_", n)
		if (n in want) {
			found[n] = 1
			print line
			rest = $0; sub(/^[^:]*:[ ]*/, "", rest)
			k = split(rest, d, " ")
			for (i = 1; i <= k; i++) print d[i]
		}
	}
	END {
		for (n in want) if (!(n in found) && !(n in builtin)) { print "MISSING " n; bad = 1 }
	}' - "$src/modules.builtin" "$src/modules.dep" | sort -u)
missing=$(printf '%s\n' "$files" | sed -n 's/^MISSING //p')
[ -z "$missing" ] || die "not modules of $abi: $missing"

rm -rf "$dest/lib/modules/$abi"
mkdir -p "$dest/lib/modules/$abi"
printf '%s\n' "$files" | while read -r f; do
	[ -n "$f" ] || continue
	mkdir -p "$dest/lib/modules/$abi/$(dirname "$f")"
	cp -p "$src/$f" "$dest/lib/modules/$abi/$f"
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ ! -f "$src/$f" ] || cp -p "$src/$f" "$dest/lib/modules/$abi/$f"
done
depmod -b "$dest" "$abi" || die "depmod failed on $dest"
# depmod's binary indexes are not needed by BusyBox modprobe
rm -f "$dest/lib/modules/$abi"/*.bin
printf 'mkmodules: %s modules -> %s\n' "$(printf '%s\n' "$files" | grep -c .)" "$dest/lib/modules/$abi"
