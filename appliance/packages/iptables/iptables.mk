################################################################################
#
# iptables: the firewall, legacy backend only, static (extensions built in)
#
################################################################################
# nftables' sources are not served by the mirror (APPLIANCE.md), so the
# firewall is iptables-legacy: one xtables-legacy-multi binary.

IPTABLES_VERSION = 1.8.9-2
IPTABLES_POOL = main/i/iptables
IPTABLES_CONFIGURE_CMDS = $(TARGET_CONFIGURE_ENV) ./configure $(TARGET_CONFIGURE_ARGS) \
	--disable-dependency-tracking --disable-nftables --disable-connlabel \
	--disable-bpf-compiler --disable-nfsynproxy --disable-libipq --disable-devel \
	--with-xtlibdir=/usr/lib/xtables
IPTABLES_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) LDFLAGS="-all-static $(TARGET_LDFLAGS)"
IPTABLES_LINKS = iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore
IPTABLES_INSTALL_TARGET_CMDS = install -D -m 0755 iptables/xtables-legacy-multi \
	$(TARGET_DIR)/usr/sbin/xtables-legacy-multi && \
	strip $(TARGET_DIR)/usr/sbin/xtables-legacy-multi && \
	for l in $(IPTABLES_LINKS); do ln -sf xtables-legacy-multi $(TARGET_DIR)/usr/sbin/$$l; done

IPTABLES_LICENSE = GPL-2.0-or-later
IPTABLES_LICENSE_FILES = COPYING debian/copyright

$(eval $(call debian-source-package,iptables))
