################################################################################
#
# hiredis: the Redis client of pullboxd (the Redis store, on its libev loop)
#
################################################################################
# Plain make, no configure. Only the static library is built and installed
# (pullboxd links statically); headers go where <hiredis/...> finds them,
# with the libev adapter the store attaches through.

HIREDIS_VERSION = 0.14.1-3
HIREDIS_POOL = main/h/hiredis
HIREDIS_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) CC="$(TARGET_CC)" AR=ar OPTIMIZATION= \
	CFLAGS="$(TARGET_CFLAGS)" static
HIREDIS_INSTALL_STAGING_CMDS = \
	install -d $(STAGING_DIR)/usr/include/hiredis/adapters $(STAGING_DIR)/usr/lib && \
	install -m 0644 hiredis.h async.h read.h sds.h alloc.h $(STAGING_DIR)/usr/include/hiredis/ && \
	install -m 0644 adapters/*.h $(STAGING_DIR)/usr/include/hiredis/adapters/ && \
	install -m 0644 libhiredis.a $(STAGING_DIR)/usr/lib/

HIREDIS_LICENSE = BSD-3-Clause
HIREDIS_LICENSE_FILES = COPYING debian/copyright

$(eval $(call debian-source-package,hiredis))
