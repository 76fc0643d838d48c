#!/bin/sh
#---help---
# Usage: appliance/scripts/pkg-pin.sh SRCPKG VERSION
#
# Prints a <name>.hash file for a Debian source package version: the sha256
# of its .dsc and of every file the .dsc lists, as the apt Sources index
# (signed by the Debian archive key through Release/InRelease) gives them.
# Used when bumping a pin; the build itself never asks apt, it checks the
# downloaded files against the committed .hash.
#---help---
set -eu
die() { printf 'pkg-pin: %s\n' "$*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: pkg-pin.sh SRCPKG VERSION"
pkg=$1 ver=$2
out=$(apt-cache showsrc "$pkg" | awk -v v="$ver" '
	/^Package:/ { p = $2 } /^Version:/ { cur = $2; sub(/^[0-9]+:/, "", cur) }
	/^Directory:/ { if (cur == v) dir = $2 }
	/^Checksums-Sha256:/ { c = 1; next } /^[^ ]/ { c = 0 }
	c && cur == v { print $1, $3 }
	END { if (dir != "") print "dir", dir }' | sort -u)
[ -n "$out" ] || die "$pkg $ver: not in the apt Sources index (is deb-src configured? appliance/scripts/setup-host.sh src)"
dir=$(printf '%s\n' "$out" | sed -n 's/^dir //p')
printf '# %s %s: Debian source package, %s\n' "$pkg" "$ver" "$dir"
printf '# sha256 of the .dsc and its files, from the bookworm Sources index (Checksums-Sha256)\n'
printf '%s\n' "$out" | grep -v '^dir ' | awk '{ printf "sha256  %s  %s\n", $1, $2 }'
