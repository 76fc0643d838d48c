################################################################################
#
# redis: redis-server (the shared store when this appliance is the cluster
# hub; runit service "redis", down unless /data/etc/redis.conf exists) and
# redis-cli (admin shell, tests), static
#
################################################################################
# Plain make in src/, no configure. Debian's orig tarball keeps upstream's
# deps/ (hiredis, linenoise, lua, hdr_histogram, jemalloc; 7.0 has no
# fpconv, that came in 7.2) and Debian's patches only add
# USE_SYSTEM_JEMALLOC, which we leave unset: the bundled deps are built and
# linked, jemalloc is not built at all (MALLOC=libc, musl's malloc).
# Patch 0004's "#if USE_SYSTEM_JEMALLOC == yes" lines are true when both
# sides are undefined, but each sits inside a USE_JEMALLOC block or only
# renames a jemalloc symbol nothing uses with libc malloc.
# BUILD_TLS=yes against the sysroot's OpenSSL (its headers in CFLAGS, which
# the command line also hands to deps/hiredis; OPENSSL_PREFIX for -L;
# pkg-config finds libssl and libcrypto there through TARGET_MAKE_ENV): the hub serves
# the nodes on a tls-port only, as the firewall's narrowing to cluster.peers
# keeps strangers out but not an eavesdropper on the cluster network, and
# the AUTH password crosses it (the bundled deps/hiredis is built with
# USE_SSL=1 for redis-cli --tls). USE_SYSTEMD=no (else src/Makefile asks
# pkg-config), DEBUG= (stripped anyway). Warnings are upstream's: -Wall -W (= -Wextra)
# -pedantic, -Wall for Lua; gcc 12 gives 3, all on upstream code (evict.c
# -Waddress, zipmap.c -Warray-bounds, Lua's ldump.c -Wmaybe-uninitialized).
# Reproducible: mkreleasehdr.sh asks git for a sha and a dirty count, and
# would find the Pullbox tree around out/ (GIT_DIR=/nonexistent gives
# 00000000 and 0); its build id comes from SOURCE_DATE_EPOCH; the compiler
# wrapper maps the build path away.
# Measured on this 2-core host (extract + build, download cached): 59 s
# user + 18 s sys CPU, 94-118 s wall while other builds and QEMU tests
# shared the machine (load 3-6). Stripped static binaries: redis-server
# 4 545 704 B, redis-cli 3 104 944 B with TLS (1 718 312 B and 288 496 B
# without: each carries its own static libssl and libcrypto; -Os;
# src/Makefile's -rdynamic does no harm in a static link). "redis-server
# --version": v=7.0.15 sha=00000000:0 malloc=libc bits=64. This build runs
# tests/integration/97-redis-acl.py and 98-redis-tls.py green when put
# first in PATH (TLS with the openssl CLI's certificates).

REDIS_VERSION = 7.0.15-1~deb12u10
REDIS_POOL = main/r/redis
REDIS_DEPENDENCIES = openssl
REDIS_MAKE_OPTS = -C src CC="$(TARGET_CC)" AR=ar OPTIMIZATION= DEBUG= \
	CFLAGS="$(TARGET_CFLAGS) -isystem $(STAGING_DIR)/usr/include" LDFLAGS="$(TARGET_LDFLAGS)" \
	MALLOC=libc BUILD_TLS=yes OPENSSL_PREFIX=$(STAGING_DIR)/usr USE_SYSTEMD=no PREFIX=/usr V=1
REDIS_BUILD_CMDS = GIT_DIR=/nonexistent $(MAKE) -j$(PKG_JOBS) $(REDIS_MAKE_OPTS) \
	redis-server redis-cli
REDIS_INSTALL_TARGET_CMDS = for p in redis-server redis-cli; do \
	file -L src/$$p | grep -q 'statically linked' || { echo "redis: src/$$p is not static" >&2; exit 1; }; \
	install -D -m 0755 src/$$p $(TARGET_DIR)/usr/bin/$$p && strip $(TARGET_DIR)/usr/bin/$$p || exit 1; done

REDIS_LICENSE = BSD-3-Clause AND MIT
REDIS_LICENSE_FILES = COPYING debian/copyright

$(eval $(call debian-source-package,redis))
