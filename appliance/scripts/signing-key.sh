#!/bin/sh
#---help---
# Usage: appliance/scripts/signing-key.sh PUBOUT
#
# Finds the key that signs update bundles and writes its public half to
# PUBOUT (the image's /usr/share/pullbox/update-key.pem), rewriting PUBOUT
# only when it differs, so an unchanged key does not rebuild the squashfs.
# Prints the private key's path. The key is PULLBOX_SIGNING_KEY when set
# (a release key: it must exist), else the builder's own
# ~/.config/pullbox/signing-key.pem, made on first use (Ed25519, mode 0600,
# outside the tree so it is never committed).
#---help---
set -eu
die() { printf 'signing-key: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: see the header of $0"
pubout=$1

if [ -n "${PULLBOX_SIGNING_KEY:-}" ]; then
	key=$PULLBOX_SIGNING_KEY
	[ -f "$key" ] || die "PULLBOX_SIGNING_KEY=$key: no such file"
else
	key=${HOME:?HOME is not set}/.config/pullbox/signing-key.pem
	if [ ! -e "$key" ]; then
		mkdir -p "${key%/*}"
		chmod 0700 "${key%/*}"
		(umask 077 && openssl genpkey -algorithm ed25519 -out "$key.tmp" 2>/dev/null) ||
			die "openssl genpkey failed"
		mv "$key.tmp" "$key"
		printf 'signing-key: made %s (keep it: images built with it accept only bundles it signed)\n' \
			"$key" >&2
	fi
fi
case $(ls -ln "$key" | cut -c5-10) in
*[rwx]*) die "$key is readable by others: chmod 0600 it" ;;
esac
openssl pkey -in "$key" -pubout -out "$pubout.tmp" 2>/dev/null || die "$key: not a private key"
grep -q 'BEGIN PUBLIC KEY' "$pubout.tmp" || die "$key: no public half"
[ "$(openssl pkey -pubin -in "$pubout.tmp" -text_pub -noout 2>/dev/null | head -1 | cut -c1-7)" = "ED25519" ] ||
	die "$key: not an Ed25519 key"
if cmp -s "$pubout.tmp" "$pubout"; then rm -f "$pubout.tmp"; else mv "$pubout.tmp" "$pubout"; fi
printf '%s\n' "$key"
