################################################################################
#
# hiredis: the Redis client of pullboxd (the Redis store, on its libev loop)
#
################################################################################
# Plain make, no configure. Only the static libraries are built and
# installed (pullboxd links statically): libhiredis.a and, with USE_SSL=1,
# libhiredis_ssl.a (TLS to the cluster hub's Redis) against the sysroot's
# OpenSSL. 1.2 is trixie's: bookworm's 0.14 has no TLS. Headers go where
# <hiredis/...> finds them, with the libev adapter the store attaches
# through. server/Makefile builds the same pinned source for the host
# (out/hiredis), so the tests run the client the image ships.

HIREDIS_VERSION = 1.2.0-6
HIREDIS_POOL = main/h/hiredis
HIREDIS_DEPENDENCIES = openssl
HIREDIS_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) CC="$(TARGET_CC)" AR=ar OPTIMIZATION= DEBUG_FLAGS= \
	CFLAGS="$(TARGET_CFLAGS)" CPPFLAGS="-isystem $(STAGING_DIR)/usr/include" USE_SSL=1 static
HIREDIS_INSTALL_STAGING_CMDS = \
	install -d $(STAGING_DIR)/usr/include/hiredis/adapters $(STAGING_DIR)/usr/lib && \
	install -m 0644 hiredis.h hiredis_ssl.h async.h read.h sds.h alloc.h sockcompat.h \
		$(STAGING_DIR)/usr/include/hiredis/ && \
	install -m 0644 adapters/*.h $(STAGING_DIR)/usr/include/hiredis/adapters/ && \
	install -m 0644 libhiredis.a libhiredis_ssl.a $(STAGING_DIR)/usr/lib/

HIREDIS_LICENSE = BSD-3-Clause
HIREDIS_LICENSE_FILES = COPYING debian/copyright

$(eval $(call debian-source-package,hiredis))
