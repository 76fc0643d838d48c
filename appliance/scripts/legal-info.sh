#!/bin/sh
#---help---
# Usage: appliance/scripts/legal-info.sh STEP LEGALDIR ARGS...
#
# One step of `make legal-info` (mk/legal.mk): the licences and sources of
# everything in the image, written under LEGALDIR:
#   license NAME VERSION LICENSE SRCDIR FILE...   copy a package's licence files
#   local NAME VERSION SUBDIR                     a program of this tree
#   host-licenses LIST                            host packages the image holds
#   manifest                                      rows/* -> manifest.csv
#   source NAME VERSION HASHFILE DLDIR PATCHES [SRCHASHES SRCDLDIR]
#                                                 a package's verified sources
#   host-sources LIST                             the host packages' sources (apt)
#   tree TOP VERSION                              this tree, as a git archive
#   summary                                       what was written
# Fails loudly, naming the package, when a licence file or a source is missing.
#---help---
set -euf

die() { printf 'legal-info: %s\n' "$*" >&2; exit 1; }
step=$1 legal=$2
shift 2
mkdir -p "$legal/rows" "$legal/licenses" "$legal/sources"

# one CSV row: package,version,licence,where its source is
row() { printf '"%s","%s","%s","%s"\n' "$1" "$2" "$3" "$4"; }

# the host packages of LIST ("package | licence | why" lines): "package|licence"
host_list() {
	while IFS='|' read -r pkg lic _; do
		pkg=$(echo $pkg) lic=$(echo $lic)
		case $pkg in ''|'#'*) continue ;; esac
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			die "host package $pkg (listed in $1) is not installed: the image build needs it"
		printf '%s|%s\n' "$pkg" "$lic"
	done <"$1"
}

case $step in
license)
	name=$1 version=$2 lic=$3 src=$4
	shift 4
	[ $# -gt 0 ] || die "package $name: no licence files named (${name}_LICENSE_FILES)"
	dest="$legal/licenses/$name-$version"
	rm -rf "$dest"
	for f in "$@"; do
		[ -f "$src/$f" ] || die "package $name: licence file $f is missing in $src"
		mkdir -p "$dest/$(dirname "$f")"
		cp "$src/$f" "$dest/$f"
	done
	row "$name" "$version" "$lic" "Debian source package, sources/$name-$version" >"$legal/rows/$name"
	;;
local)
	name=$1 version=$2 subdir=$3
	row "$name" "$version" "see the Pullbox source tree" "this tree ($subdir/), sources/pullbox-$version.tar.gz" \
		>"$legal/rows/$name"
	;;
host-licenses)
	list=$1
	host_list "$list" | while IFS='|' read -r pkg lic; do
		version=$(dpkg-query -W -f='${Version}' "$pkg")
		srcpkg=$(dpkg-query -W -f='${source:Package} ${source:Version}' "$pkg")
		dest="$legal/licenses/host-$pkg-$version"
		mkdir -p "$dest"
		[ -f "/usr/share/doc/$pkg/copyright" ] || die "host package $pkg: /usr/share/doc/$pkg/copyright is missing"
		cp "/usr/share/doc/$pkg/copyright" "$dest/copyright"
		row "$pkg" "$version" "$lic" "Debian source package $srcpkg (build host), sources/host"
	done >"$legal/rows/host.tmp"
	mv "$legal/rows/host.tmp" "$legal/rows/host"
	;;
manifest)
	# the image's packages by name, then the host's
	{ row package version licence source; find "$legal/rows" -type f ! -name host | sort | xargs cat
	  cat "$legal/rows/host"; } >"$legal/manifest.csv.tmp"
	mv "$legal/manifest.csv.tmp" "$legal/manifest.csv"
	;;
source)
	name=$1 version=$2 hashfile=$3 dldir=$4 patches=$5 srchash=${6:-} srcdl=${7:-}
	dest="$legal/sources/$name-$version"
	rm -rf "$dest"
	mkdir -p "$dest"
	copy_listed() { # hashfile dldir: what is missing goes to MISSING
		awk '$1 == "sha256" { print $3 }' "$1" | while read -r f; do
			if [ -f "$2/$f" ]; then cp "$2/$f" "$dest/$f"
			else printf '%s %s: %s (pinned in %s)\n' "$name" "$version" "$f" "$1" >>"$legal/MISSING"; fi
		done
	}
	copy_listed "$hashfile" "$dldir"
	for h in $srchash; do copy_listed "$h" "$srcdl"; done
	for p in $patches; do mkdir -p "$dest/patches" && cp "$p" "$dest/patches/"; done
	(cd "$dest" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum >SHA256SUMS)
	;;
host-sources)
	# apt's deb-src entry comes from appliance/scripts/setup-host.sh (the build's host setup)
	list=$1 dest="$legal/sources/host"
	mkdir -p "$dest"
	host_list "$list" | while IFS='|' read -r pkg _; do dpkg-query -W -f='${source:Package}=${source:Version}\n' "$pkg"; done |
		sort -u | while read -r src; do
			(cd "$dest" && apt-get -qq source --download-only "$src" >/dev/null 2>&1) ||
				printf 'host package source %s: apt-get source failed (deb-src: appliance/scripts/setup-host.sh src)\n' \
					"$src" >>"$legal/MISSING"
		done
	;;
tree)
	top=$1 version=$2 out="$legal/sources/pullbox-$version.tar.gz"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$top" archive --format=tar.gz --prefix="pullbox-$version/" -o "$out" HEAD
		[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
			printf 'legal-info: warning: the tree has uncommitted changes; %s holds HEAD\n' "$out" >&2
	else
		tar -C "$top" --exclude=./out --exclude=node_modules -czf "$out" .
	fi
	;;
summary)
	n=$(($(wc -l <"$legal/manifest.csv") - 1))
	printf '  LEGAL   %s: %d components, licences %s, sources %s\n' "$legal" "$n" \
		"$(du -sh "$legal/licenses" | cut -f1)" "$(du -sh "$legal/sources" | cut -f1)"
	if [ -s "$legal/MISSING" ]; then
		printf 'legal-info: these sources could not be collected (set PULLBOX_DL_MIRROR to a cache that has them):\n' >&2
		sed 's/^/  /' "$legal/MISSING" >&2
		exit 1
	fi
	;;
*) die "unknown step $step" ;;
esac
