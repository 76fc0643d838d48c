################################################################################
#
# legal.mk: what the image is made of, under which licences, from which sources
#
################################################################################
# The image ships GPL programs (Linux, BusyBox, iptables, the boot loader), so
# a release must come with their licences and offer their exact sources.
# Every package .mk names its licence and the files carrying it:
#   NAME_LICENSE         SPDX expression (Buildroot's <PKG>_LICENSE)
#   NAME_LICENSE_FILES   paths inside NAME_SRCDIR (<PKG>_LICENSE_FILES)
# A Debian binary package (the kernel) also names what it was built from:
#   NAME_SOURCE_HASH     hash files of those source packages' .dsc and tarballs
#   NAME_SOURCE_SITES    the pool folders that serve them
# Host packages whose files land in the image (boot loader, musl, libgcc) are
# listed in appliance/legal/host-packages.
#   legal-licenses  out/legal-info/manifest.csv and licenses/ (built into the
#                   image as /usr/share/doc/pullbox/legal)
#   legal-info      the above and sources/: every source package as downloaded
#                   and verified, our patches, the host packages' sources and
#                   this tree (a git archive of HEAD)

LEGAL_DIR := $(O)/legal-info
LEGAL_SCRIPT = $(APPLIANCE_TOP)/appliance/scripts/legal-info.sh
LEGAL_HOST_LIST = $(APPLIANCE_TOP)/appliance/legal/host-packages
LEGAL_ROW_STAMPS :=
LEGAL_SOURCE_TARGETS :=

# $(call pkg-legal,name,NAME): the licence row and the sources of a Debian package
define pkg-legal
$(2)_LICENSE ?= $$(error package $(1): $(2)_LICENSE is not set)
$(2)_SOURCE_HASH ?=
$(2)_SOURCE_SITES ?=
LEGAL_ROW_STAMPS += $(LEGAL_DIR)/rows/$(1)
$(LEGAL_DIR)/rows/$(1): $$($(2)_DIR)/.stamp_extracted $$($(2)_PKGDIR)/$(1).mk $(LEGAL_SCRIPT)
	$$(Q)$(LEGAL_SCRIPT) license $(LEGAL_DIR) $(1) '$$($(2)_VERSION)' '$$($(2)_LICENSE)' \
		$$($(2)_SRCDIR) $$($(2)_LICENSE_FILES)
LEGAL_SOURCE_TARGETS += $(1)-legal-source
$(1)-legal-source: $$($(2)_DLDIR)/.stamp_downloaded-$$($(2)_VERSION)
	$$(Q)for h in $$($(2)_SOURCE_HASH); do $(PKG_SCRIPTS)/pkg-fetch.sh $(1)-source \
		$$$$h $(DL_DIR)/$(1)-source $$($(2)_SOURCE_SITES) || true; done
	$$(Q)$(LEGAL_SCRIPT) source $(LEGAL_DIR) $(1) '$$($(2)_VERSION)' $$($(2)_HASH) $$($(2)_DLDIR) \
		'$$($(2)_PATCHES)' '$$($(2)_SOURCE_HASH)' $(DL_DIR)/$(1)-source
.PHONY: $(1)-legal-source
endef

# $(call pkg-legal-local,name,NAME): a program of this tree (its row names the tree)
define pkg-legal-local
LEGAL_ROW_STAMPS += $(LEGAL_DIR)/rows/$(1)
$(LEGAL_DIR)/rows/$(1): $(LEGAL_SCRIPT) $(APPLIANCE_TOP)/VERSION
	$$(Q)$(LEGAL_SCRIPT) local $(LEGAL_DIR) $(1) '$(PULLBOX_VERSION)' $$($(2)_SUBDIR)
endef
