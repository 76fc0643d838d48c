#!/bin/sh
#---help---
# Usage: appliance/scripts/setup-host.sh [src|tools|all]
#
# Prepares a fresh Debian 12 build host for the appliance image:
#   src    adds a deb-src entry for bookworm (and bookworm-security) when
#          none is configured, then runs apt-get update
#   tools  installs the Debian packages the image build and boot test use
#   all    both (default)
# Safe to run again: it only changes what is missing. Needs root for changes.
#---help---
set -eu

die() { printf 'setup-host: %s\n' "$*" >&2; exit 1; }
einfo() { printf 'setup-host: %s\n' "$*"; }

what=${1:-all}
srcfile=/etc/apt/sources.list.d/pullbox-deb-src.sources
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

tools="musl-tools musl-dev build-essential dpkg-dev autoconf automake libtool pkg-config
bison flex bc cpio xz-utils zstd kmod e2fsprogs squashfs-tools mtools dosfstools fdisk
syslinux syslinux-common syslinux-efi grub-efi-amd64-bin ovmf qemu-system-x86 qemu-utils
libxml2-utils packer python3 curl openssh-client file"

have_deb_src() {
	# an enabled deb-src line (one-line format) or stanza (deb822 format) for bookworm
	grep -rhsE '^[[:space:]]*deb-src[[:space:]].*[[:space:]]bookworm([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN{RS="";FS="\n"} /(^|\n)Types:[^\n]*deb-src/ && /(^|\n)Suites:[^\n]*bookworm([ \t\n]|$)/ && !/(^|\n)Enabled:[ \t]*no/ {f=1} END{exit !f}' "$f" && return 0
	done
	return 1
}

need_root() { [ "$(id -u)" -eq 0 ] || die "$* (run as root)"; }

do_src() {
	if have_deb_src; then
		einfo "deb-src for bookworm already configured"
		if [ -z "$(find /var/lib/apt/lists -name '*_source_Sources*' 2>/dev/null | head -1)" ]; then
			need_root "apt-get update is needed for the source indexes"
			apt-get update -qq
		fi
		return 0
	fi
	need_root "no deb-src entry for bookworm"
	uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	suri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep security | head -1)
	[ -n "$suri" ] || suri=http://deb.debian.org/debian-security
	einfo "adding $srcfile"
	cat >"$srcfile" <<SRC
# Added by pullbox appliance/scripts/setup-host.sh: the image is built from
# pinned Debian source packages (versions and sha256 in appliance/packages).
Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: $keyring

Types: deb-src
URIs: $suri
Suites: bookworm-security
Components: main
Signed-By: $keyring
SRC
	apt-get update -qq
}

do_tools() {
	missing=""
	for p in $tools; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -n "$missing" ] || { einfo "build tools present"; return 0; }
	need_root "missing Debian packages:$missing"
	einfo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	[ -n "$(find /var/lib/apt/lists -name '*_Packages*' 2>/dev/null | head -1)" ] || apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

case $what in
src) do_src ;;
tools) do_tools ;;
all) do_src; do_tools ;;
-h|--help) sed -n '/^#---help---/,/^#---help---/p' "$0" | sed '1d;$d;s/^# \{0,1\}//'; exit 0 ;;
*) die "unknown step: $what" ;;
esac
