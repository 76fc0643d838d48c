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
# BUILD_TLS=no (nodes reach the hub's 6379 over the cluster network, which
# pullbox-firewall narrows to cluster.peers; pullboxd's hiredis 0.14 has no
# TLS either), USE_SYSTEMD=no (else src/Makefile asks pkg-config), DEBUG=
# (stripped anyway). Warnings are upstream's: -Wall -W (= -Wextra)
# -pedantic, -Wall for Lua; gcc 12 gives 3, all on upstream code (evict.c
# -Waddress, zipmap.c -Warray-bounds, Lua's ldump.c -Wmaybe-uninitialized).
# Reproducible: mkreleasehdr.sh asks git for a sha and a dirty count, and
# would find the Pullbox tree around out/ (GIT_DIR=/nonexistent gives
# 00000000 and 0); its build id comes from SOURCE_DATE_EPOCH; the compiler
# wrapper maps the build path away.
# Measured on this 2-core host (extract + build, download cached): 59 s
# user + 18 s sys CPU, 94-118 s wall while other builds and QEMU tests
# shared the machine (load 3-6). Stripped static binaries: redis-server
# 1 718 312 B, redis-cli 288 496 B (-Os; src/Makefile's -rdynamic does no
# harm in a static link). "redis-server --version": v=7.0.15
# sha=00000000:0 malloc=libc bits=64, the same build id on every rebuild.

REDIS_VERSION = 7.0.15-1~deb12u10
REDIS_POOL = main/r/redis
REDIS_MAKE_OPTS = -C src CC="$(TARGET_CC)" AR=ar OPTIMIZATION= DEBUG= \
	CFLAGS="$(TARGET_CFLAGS)" LDFLAGS="$(TARGET_LDFLAGS)" \
	MALLOC=libc BUILD_TLS=no USE_SYSTEMD=no PREFIX=/usr V=1
REDIS_BUILD_CMDS = GIT_DIR=/nonexistent $(MAKE) -j$(PKG_JOBS) $(REDIS_MAKE_OPTS) \
	redis-server redis-cli
REDIS_INSTALL_TARGET_CMDS = for p in redis-server redis-cli; do \
	file -L src/$$p | grep -q 'statically linked' || { echo "redis: src/$$p is not static" >&2; exit 1; }; \
	install -D -m 0755 src/$$p $(TARGET_DIR)/usr/bin/$$p && strip $(TARGET_DIR)/usr/bin/$$p || exit 1; done

REDIS_LICENSE = BSD-3-Clause AND MIT
REDIS_LICENSE_FILES = COPYING debian/copyright

$(eval $(call debian-source-package,redis))
