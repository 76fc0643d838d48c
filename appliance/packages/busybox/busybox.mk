################################################################################
#
# busybox: init, runit applets (runsvdir, runsv, sv, chpst, svlogd), shell,
# udhcpc, ntpd, modprobe (by modalias), mdev, switch_root
#
################################################################################

BUSYBOX_VERSION = 1.35.0-4+deb12u1
BUSYBOX_POOL = main/b/busybox
BUSYBOX_FRAGMENT = $(APPLIANCE_TOP)/appliance/configs/busybox.fragment
BUSYBOX_EXTRA_DEPS = $(BUSYBOX_FRAGMENT)
BUSYBOX_DEPENDENCIES = libxcrypt
# crypt() and <crypt.h> from libxcrypt in the sysroot (for login); in CC so
# that BusyBox's own "is -lcrypt there?" probe sees them too
BUSYBOX_MAKE_OPTS = CC="$(TARGET_CC) -isystem $(STAGING_DIR)/usr/include -L$(STAGING_DIR)/usr/lib" \
	HOSTCC=gcc KCONFIG_NOTIMESTAMP=1
BUSYBOX_CONFIGURE_CMDS = $(MAKE) $(BUSYBOX_MAKE_OPTS) defconfig && \
	$(PKG_SCRIPTS)/kconfig-merge.sh .config $(BUSYBOX_FRAGMENT) && \
	$(MAKE) $(BUSYBOX_MAKE_OPTS) oldconfig </dev/null
BUSYBOX_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) $(BUSYBOX_MAKE_OPTS) busybox
BUSYBOX_INSTALL_TARGET_CMDS = install -D -m 0755 busybox $(TARGET_DIR)/bin/busybox && \
	strip $(TARGET_DIR)/bin/busybox && \
	./busybox --list-full >$(BUILD_DIR)/busybox.links

BUSYBOX_LICENSE = GPL-2.0-only
BUSYBOX_LICENSE_FILES = LICENSE debian/copyright

$(eval $(call debian-source-package,busybox))
