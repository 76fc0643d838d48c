#!/bin/sh
#---help---
# Usage: appliance/scripts/pkg-fetch.sh NAME HASHFILE DLDIR URL...
#
# Downloads every file listed in HASHFILE ("sha256  HEX  FILE" lines) into
# DLDIR, trying each base URL in turn, and verifies its sha256. A file that
# is already there and matches is kept (DLDIR is the download cache).
# Set PULLBOX_DL_MIRROR to a directory or URL holding the same files to try
# it first (a private cache for sources the public archive no longer serves).
# Fails loudly, naming the package, when a file is missing or does not match.
#---help---
set -eu

name=$1 hashfile=$2 dldir=$3
shift 3
die() { printf '\npackage %s: %s\n\n' "$name" "$*" >&2; exit 1; }
[ -r "$hashfile" ] || die "no hash file $hashfile"
mkdir -p "$dldir"

check() { # file hex
	[ -f "$dldir/$1" ] && [ "$(sha256sum "$dldir/$1" | cut -d' ' -f1)" = "$2" ]
}

n=0
while read -r algo hex file; do
	case $algo in sha256) ;; ''|'#'*) continue ;; *) die "$hashfile: unknown hash type '$algo'" ;; esac
	n=$((n + 1))
	check "$file" "$hex" && continue
	rm -f "$dldir/$file" "$dldir/$file.part"
	got=""
	for base in ${PULLBOX_DL_MIRROR:+"$PULLBOX_DL_MIRROR"} "$@"; do
		case $base in
		/*) [ -f "$base/$file" ] && cp "$base/$file" "$dldir/$file.part" || continue ;;
		*) curl -fsSL --retry 3 --connect-timeout 20 -o "$dldir/$file.part" "$base/$file" 2>/dev/null || { rm -f "$dldir/$file.part"; continue; } ;;
		esac
		mv "$dldir/$file.part" "$dldir/$file"
		if check "$file" "$hex"; then got=$base; break; fi
		actual=$(sha256sum "$dldir/$file" | cut -d' ' -f1)
		mv "$dldir/$file" "$dldir/$file.bad"
		die "$file from $base has sha256 $actual, $hashfile pins $hex (kept as $dldir/$file.bad)"
	done
	[ -n "$got" ] || die "$file: not found at any of: ${PULLBOX_DL_MIRROR:-} $* (the archive may have dropped this version: bump the pin with appliance/scripts/pkg-pin.sh, or set PULLBOX_DL_MIRROR to a cache holding it)"
	printf '  DL      %s\n' "$file"
done <"$hashfile"
[ "$n" -gt 0 ] || die "$hashfile lists no files"
