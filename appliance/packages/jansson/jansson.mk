################################################################################
#
# jansson: JSON for pullboxd
#
################################################################################

JANSSON_VERSION = 2.14-2
JANSSON_POOL = main/j/jansson
JANSSON_CONFIGURE_CMDS = autoreconf -fi && $(TARGET_CONFIGURE_ENV) ./configure $(TARGET_CONFIGURE_ARGS) --disable-dependency-tracking
JANSSON_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS)
JANSSON_INSTALL_STAGING_CMDS = $(MAKE) install DESTDIR=$(STAGING_DIR)

JANSSON_LICENSE = MIT
JANSSON_LICENSE_FILES = LICENSE debian/copyright

$(eval $(call debian-source-package,jansson))
