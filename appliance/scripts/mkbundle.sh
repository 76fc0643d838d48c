#!/bin/sh
#---help---
# Usage: appliance/scripts/mkbundle.sh OUT PRODUCT VERSION MIN_FROM KEY NAME=FILE...
#
# Writes the signed update bundle OUT (format: config-ui/lib/bundle.h and
# appliance/README.md): a header line, the manifest (product, version,
# min-from, build-date = SOURCE_DATE_EPOCH, then per part its name, size and
# SHA-256), the manifest's Ed25519 signature made with the private KEY,
# then the parts in the order given. Ed25519 signatures are deterministic,
# so one commit and one key give the same bytes every time.
#---help---
set -eu
die() { printf 'mkbundle: %s\n' "$*" >&2; exit 1; }
cleanup() {
	set +eu
	trap '' EXIT HUP INT TERM
	rm -f "$out.manifest" "$out.sig" "$out.tmp"
}
[ $# -ge 6 ] || die "usage: see the header of $0"
out=$1 product=$2 version=$3 min_from=$4 key=$5
shift 5
sde=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH is not set}
[ -f "$key" ] || die "$key: no such key"
trap cleanup EXIT
trap 'cleanup; exit 130' HUP INT TERM

{
	printf 'product=%s\nversion=%s\nmin-from=%s\nbuild-date=%s\n' "$product" "$version" "$min_from" "$sde"
	for p in "$@"; do
		name=${p%%=*} file=${p#*=}
		[ "$name" != "$p" ] && [ -n "$name" ] || die "$p: not NAME=FILE"
		[ -f "$file" ] || die "$file: no such file"
		printf 'part=%s %s %s\n' "$name" "$(stat -c %s "$file")" "$(sha256sum <"$file" | cut -d' ' -f1)"
	done
} >"$out.manifest"
openssl pkeyutl -sign -rawin -inkey "$key" -in "$out.manifest" -out "$out.sig" ||
	die "openssl pkeyutl -sign failed (is $key an Ed25519 private key?)"
[ "$(stat -c %s "$out.sig")" -eq 64 ] || die "the signature is not 64 bytes: not an Ed25519 key?"
{
	printf 'pullbox-bundle 1 %s\n' "$(stat -c %s "$out.manifest")"
	cat "$out.manifest" "$out.sig"
	for p in "$@"; do cat "${p#*=}"; done
} >"$out.tmp"
mv "$out.tmp" "$out"
