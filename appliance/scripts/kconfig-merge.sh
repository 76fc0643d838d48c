#!/bin/sh
#---help---
# Usage: appliance/scripts/kconfig-merge.sh .config FRAGMENT...
#
# Sets every option of each FRAGMENT ("CONFIG_X=..." or "# CONFIG_X is not
# set" lines) in .config, replacing what .config says about that option.
# Run `make oldconfig </dev/null` afterwards to settle dependencies.
#---help---
set -eu
die() { printf 'kconfig-merge: %s\n' "$*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: kconfig-merge.sh .config FRAGMENT..."
cfg=$1; shift
[ -f "$cfg" ] || die "$cfg: no such file"
for frag; do
	[ -r "$frag" ] || die "$frag: cannot read"
	sed -nE 's/^(CONFIG_[A-Za-z0-9_]+)=.*/\1/p; s/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1/p' "$frag" |
	while read -r opt; do
		sed -i -E "/^$opt=/d; /^# $opt is not set\$/d" "$cfg"
	done
	grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$frag" >>"$cfg"
done
