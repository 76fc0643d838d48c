################################################################################
#
# dropbear: SSH on 22 (multi-binary: dropbear, dropbearkey, and scp, the
# server side of `scp -O` that pullbox-console -c runs for update bundles and backups)
#
################################################################################
# localoptions.h: host keys on the data partition, no X11/agent forwarding,
# no DSS. --disable-harden: its -pie flags do not mix with -static.

DROPBEAR_VERSION = 2022.83-1+deb12u3
DROPBEAR_POOL = main/d/dropbear
DROPBEAR_DEPENDENCIES = zlib libxcrypt
DROPBEAR_EXTRA_DEPS = $(DROPBEAR_PKGDIR)/localoptions.h
DROPBEAR_PROGRAMS = dropbear dropbearkey scp
DROPBEAR_CONFIGURE_CMDS = cp $(DROPBEAR_PKGDIR)/localoptions.h localoptions.h && \
	$(TARGET_CONFIGURE_ENV) ./configure $(TARGET_CONFIGURE_ARGS) --disable-pam \
	--disable-lastlog --disable-utmp --disable-utmpx --disable-wtmp --disable-wtmpx \
	--disable-harden --disable-syslog --with-zlib=$(STAGING_DIR)/usr
DROPBEAR_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) PROGRAMS="$(DROPBEAR_PROGRAMS)" MULTI=1 STATIC=1
DROPBEAR_INSTALL_TARGET_CMDS = install -D -m 0755 dropbearmulti $(TARGET_DIR)/usr/sbin/dropbearmulti && \
	strip $(TARGET_DIR)/usr/sbin/dropbearmulti && \
	for p in $(DROPBEAR_PROGRAMS); do ln -sf dropbearmulti $(TARGET_DIR)/usr/sbin/$$p; done

DROPBEAR_LICENSE = MIT AND Unlicense AND BSD-3-Clause
DROPBEAR_LICENSE_FILES = LICENSE debian/copyright

$(eval $(call debian-source-package,dropbear))
