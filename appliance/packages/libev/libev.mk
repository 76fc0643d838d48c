################################################################################
#
# libev: the event loop of pullboxd
#
################################################################################

LIBEV_VERSION = 4.33-1
LIBEV_POOL = main/libe/libev
LIBEV_CONFIGURE_CMDS = $(TARGET_CONFIGURE_ENV) ./configure $(TARGET_CONFIGURE_ARGS)
LIBEV_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS)
LIBEV_INSTALL_STAGING_CMDS = $(MAKE) install DESTDIR=$(STAGING_DIR)

LIBEV_LICENSE = BSD-2-Clause OR GPL-2.0-or-later
LIBEV_LICENSE_FILES = LICENSE debian/copyright

$(eval $(call debian-source-package,libev))
