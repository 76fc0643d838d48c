################################################################################
#
# pkg.mk: the generic package steps, Buildroot style
#
################################################################################
# A package is appliance/packages/<name>/<name>.mk (variables only) plus
# <name>.hash (sha256 of every input). The .mk ends with one of:
#   $(eval $(call debian-source-package,<name>))  Debian source package (.dsc)
#   $(eval $(call debian-binary-package,<name>))  Debian binary package (.deb)
# Variables, with NAME the upper-cased name:
#   NAME_VERSION        Debian version without epoch (must match the .hash)
#   NAME_POOL           pool directory under the archive, e.g. main/b/busybox
#   NAME_DEPENDENCIES   packages whose staging install this one needs
#   NAME_CONFIGURE_CMDS, NAME_BUILD_CMDS, NAME_INSTALL_STAGING_CMDS,
#   NAME_INSTALL_TARGET_CMDS   one shell command each (join with && \);
#                       they run in $(NAME_SRCDIR) with $(TARGET_MAKE_ENV) set
#   NAME_EXTRA_DEPS     files whose change redoes configure (configs, patches)
# Steps and stamps (out/build/<name>-<version>/.stamp_*):
#   download+verify (out/dl/<name>/) -> extract (dpkg-source -x, Debian patches
#   applied; or dpkg-deb -x) -> patch (patches/*.patch) -> configure -> build
#   -> install-staging (out/staging) -> install-target (out/target).
# Each step's output goes to out/build/logs/<name>-<step>.log (V=1: terminal).

DEBIAN_MIRROR ?= http://deb.debian.org/debian
DEBIAN_SECURITY_MIRROR ?= http://deb.debian.org/debian-security
PKG_SCRIPTS := $(APPLIANCE_TOP)/appliance/scripts
PKG_LOGDIR := $(BUILD_DIR)/logs
PACKAGES :=

include $(APPLIANCE_TOP)/mk/legal.mk

uc = $(shell echo '$(1)' | tr 'a-z-' 'A-Z_')

# $(call pkg-run,name,step,command): run one step, quietly unless V=1
ifeq ($(V),1)
pkg-run = { $(3); }
else
pkg-run = mkdir -p $(PKG_LOGDIR) && { $(3); } >$(PKG_LOGDIR)/$(1)-$(2).log 2>&1 || { \
	tail -n 40 $(PKG_LOGDIR)/$(1)-$(2).log; \
	printf '\npackage %s: %s failed (full log: %s)\n\n' $(1) $(2) $(PKG_LOGDIR)/$(1)-$(2).log >&2; exit 1; }
endif

define pkg-common
# $(1) name, $(2) NAME
PACKAGES += $(1)
$(2)_PKGDIR := $(APPLIANCE_TOP)/appliance/packages/$(1)
$(2)_HASH := $$($(2)_PKGDIR)/$(1).hash
$(2)_FILES := $$(shell awk '$$$$1 == "sha256" { print $$$$3 }' $$($(2)_HASH))
$(2)_DLDIR := $(DL_DIR)/$(1)
$(2)_DIR := $(BUILD_DIR)/$(1)-$$($(2)_VERSION)
$(2)_SRCDIR ?= $$($(2)_DIR)/src
$(2)_PATCHES := $$(sort $$(wildcard $$($(2)_PKGDIR)/patches/*.patch))
$(2)_SITES := $(DEBIAN_MIRROR)/pool/$$($(2)_POOL) $(DEBIAN_SECURITY_MIRROR)/pool/updates/$$($(2)_POOL)
$(2)_DEP_STAMPS := $$(foreach d,$$($(2)_DEPENDENCIES),$(BUILD_DIR)/.done/$$(d))
$(2)_CONFIGURE_CMDS ?= true
$(2)_BUILD_CMDS ?= true
$(2)_INSTALL_STAGING_CMDS ?= true
$(2)_INSTALL_TARGET_CMDS ?= true
$(call pkg-legal,$(1),$(2))

$$($(2)_DLDIR)/.stamp_downloaded-$$($(2)_VERSION): $$($(2)_HASH) | $(HOST_SETUP_STAMP)
	@echo "  FETCH   $(1) $$($(2)_VERSION)"
	$$(Q)grep -qF -- '$$($(2)_VERSION)' $$($(2)_HASH) || { echo "package $(1): $$($(2)_HASH) does not pin version $$($(2)_VERSION)" >&2; exit 1; }
	$$(Q)$(PKG_SCRIPTS)/pkg-fetch.sh $(1) $$($(2)_HASH) $$($(2)_DLDIR) $$($(2)_SITES)
	$$(Q)touch $$@

$$($(2)_DIR)/.stamp_extracted: $$($(2)_DLDIR)/.stamp_downloaded-$$($(2)_VERSION)
	@echo "  EXTRACT $(1) $$($(2)_VERSION)"
	$$(Q)# verify again: the cache may have changed since it was downloaded
	$$(Q)$(PKG_SCRIPTS)/pkg-fetch.sh $(1) $$($(2)_HASH) $$($(2)_DLDIR) >/dev/null
	$$(Q)rm -rf $$($(2)_DIR) && mkdir -p $$($(2)_DIR)
	$$(Q)$$(call pkg-run,$(1),extract,$$($(2)_EXTRACT_CMDS))
	$$(Q)touch $$@

$$($(2)_DIR)/.stamp_patched: $$($(2)_DIR)/.stamp_extracted $$($(2)_PATCHES)
	$$(Q)for p in $$($(2)_PATCHES); do echo "  PATCH   $(1) $$$${p##*/}"; \
		patch -d $$($(2)_SRCDIR) -p1 -N --no-backup-if-mismatch <$$$$p >/dev/null || { echo "package $(1): $$$$p does not apply" >&2; exit 1; }; done
	$$(Q)touch $$@

$$($(2)_DIR)/.stamp_configured: $$($(2)_DIR)/.stamp_patched $(TOOLCHAIN_STAMP) $$($(2)_DEP_STAMPS) \
		$$($(2)_PKGDIR)/$(1).mk $$($(2)_EXTRA_DEPS)
	@echo "  CONFIG  $(1)"
	$$(Q)$$(call pkg-run,$(1),configure,cd $$($(2)_SRCDIR) && export $(TARGET_MAKE_ENV) && $$($(2)_CONFIGURE_CMDS))
	$$(Q)touch $$@

$$($(2)_DIR)/.stamp_built: $$($(2)_DIR)/.stamp_configured
	@echo "  BUILD   $(1)"
	$$(Q)$$(call pkg-run,$(1),build,cd $$($(2)_SRCDIR) && export $(TARGET_MAKE_ENV) && $$($(2)_BUILD_CMDS))
	$$(Q)touch $$@

$$($(2)_DIR)/.stamp_staging_installed: $$($(2)_DIR)/.stamp_built
	$$(Q)mkdir -p $(STAGING_DIR)
	$$(Q)$$(call pkg-run,$(1),install-staging,cd $$($(2)_SRCDIR) && export $(TARGET_MAKE_ENV) && $$($(2)_INSTALL_STAGING_CMDS))
	$$(Q)touch $$@

$$($(2)_DIR)/.stamp_target_installed: $$($(2)_DIR)/.stamp_staging_installed
	$$(Q)mkdir -p $(TARGET_DIR)
	$$(Q)$$(call pkg-run,$(1),install-target,cd $$($(2)_SRCDIR) && export $(TARGET_MAKE_ENV) && $$($(2)_INSTALL_TARGET_CMDS))
	$$(Q)touch $$@

$(BUILD_DIR)/.done/$(1): $$($(2)_DIR)/.stamp_target_installed
	$$(Q)mkdir -p $$(@D) && touch $$@

$(1): $(BUILD_DIR)/.done/$(1)
$(1)-source: $$($(2)_DLDIR)/.stamp_downloaded-$$($(2)_VERSION)
$(1)-dirclean:
	rm -rf $$($(2)_DIR) $(BUILD_DIR)/.done/$(1)
.PHONY: $(1) $(1)-source $(1)-dirclean
endef

# Debian source package: the .dsc is listed in the .hash; dpkg-source checks
# the .dsc's own checksums again and applies Debian's patches.
define pkg-debian-source
$(2)_EXTRACT_CMDS ?= cd $$($(2)_DIR) && dpkg-source --no-copy -x $$($(2)_DLDIR)/$$(filter %.dsc,$$($(2)_FILES)) $$($(2)_SRCDIR)
$(call pkg-common,$(1),$(2))
endef

# Debian binary package: the .deb is unpacked into $(NAME_SRCDIR).
define pkg-debian-binary
$(2)_EXTRACT_CMDS ?= dpkg-deb -x $$($(2)_DLDIR)/$$(filter %.deb,$$($(2)_FILES)) $$($(2)_SRCDIR)
$(call pkg-common,$(1),$(2))
endef

debian-source-package = $(call pkg-debian-source,$(1),$(call uc,$(1)))
debian-binary-package = $(call pkg-debian-binary,$(1),$(call uc,$(1)))

# Local package: built from this tree (server/, config-ui/) with the musl
# toolchain against the sysroot, every time (the sub-make is incremental);
# each program is checked to be static and installed only when it changed.
#   NAME_SUBDIR         the tree's folder with the Makefile
#   NAME_DEPENDENCIES   packages whose staging install it links
#   NAME_PKG_LIBS       libraries from the sysroot
#   NAME_INSTALL        what lands in the image: built-file:/path/in/image ...
define pkg-local
# $(1) name, $(2) NAME
PACKAGES += $(1)
$(2)_OBJDIR := $(BUILD_DIR)/$(1)
$(2)_MAKE_OPTS := -C $(APPLIANCE_TOP)/$$($(2)_SUBDIR) O=$$($(2)_OBJDIR) \
	CC=$(TARGET_CC) CFLAGS="$(TARGET_CFLAGS)" \
	PKG_CFLAGS="-isystem $(STAGING_DIR)/usr/include" \
	PKG_LIBS="-L$(STAGING_DIR)/usr/lib $$($(2)_PKG_LIBS)" \
	LDFLAGS="$(TARGET_LDFLAGS)"
$(2)_BUILT := $$($(2)_OBJDIR)/.stamp_built

$$($(2)_BUILT): $(TOOLCHAIN_STAMP) $$(foreach d,$$($(2)_DEPENDENCIES),$(BUILD_DIR)/.done/$$(d)) FORCE
	@echo "  BUILD   $(1) (musl, static)"
	$$(Q)PATH="$(TARGET_PATH)" $(MAKE) --no-print-directory $$($(2)_MAKE_OPTS)
	$$(Q)for p in $$($(2)_INSTALL); do bin=$$($(2)_OBJDIR)/$$$${p%%:*}; \
		[ -f $$@ ] && [ ! $$$$bin -nt $$@ ] || { touch $$@; break; }; done

$(BUILD_DIR)/.done/$(1): $$($(2)_BUILT)
	$$(Q)for p in $$($(2)_INSTALL); do \
		bin=$$($(2)_OBJDIR)/$$$${p%%:*} dst=$(TARGET_DIR)$$$${p#*:}; \
		file -L $$$$bin | grep -q 'statically linked' || { echo "$(1): $$$$bin is not static" >&2; exit 1; }; \
		install -D -m 0755 $$$$bin $$$$dst && strip $$$$dst || exit 1; \
	done
	$$(Q)mkdir -p $$(@D) && touch $$@

$(1): $(BUILD_DIR)/.done/$(1)
.PHONY: $(1)
$(call pkg-legal-local,$(1),$(2))
endef

local-package = $(call pkg-local,$(1),$(call uc,$(1)))
.PHONY: FORCE
FORCE:
