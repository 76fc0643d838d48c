################################################################################
#
# zlib
#
################################################################################

ZLIB_VERSION = 1.2.13.dfsg-1
ZLIB_POOL = main/z/zlib
ZLIB_CONFIGURE_CMDS = CC=$(TARGET_CC) CFLAGS="$(TARGET_CFLAGS)" CHOST=$(TARGET_TUPLE) \
	./configure --static --prefix=/usr
ZLIB_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) libz.a
ZLIB_INSTALL_STAGING_CMDS = $(MAKE) install DESTDIR=$(STAGING_DIR)

ZLIB_LICENSE = Zlib
ZLIB_LICENSE_FILES = LICENSE debian/copyright

$(eval $(call debian-source-package,zlib))
