################################################################################
#
# libxcrypt: crypt() for dropbear (Debian's musl has none, #947193)
#
################################################################################

LIBXCRYPT_VERSION = 4.4.33-2
LIBXCRYPT_POOL = main/libx/libxcrypt
LIBXCRYPT_CONFIGURE_CMDS = autoreconf -fi && \
	$(TARGET_CONFIGURE_ENV) ./configure $(TARGET_CONFIGURE_ARGS) \
	--enable-hashes=strong,glibc --enable-obsolete-api=no \
	--disable-failure-tokens --disable-xcrypt-compat-files
LIBXCRYPT_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS)
LIBXCRYPT_INSTALL_STAGING_CMDS = $(MAKE) install DESTDIR=$(STAGING_DIR)

LIBXCRYPT_LICENSE = LGPL-2.1-or-later AND BSD-3-Clause AND 0BSD AND public-domain
LIBXCRYPT_LICENSE_FILES = COPYING.LIB LICENSING debian/copyright.in

$(eval $(call debian-source-package,libxcrypt))
