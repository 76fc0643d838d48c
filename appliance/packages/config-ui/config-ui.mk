################################################################################
#
# config-ui: the setup wizard (CGI), the console and the apply service
# (config-ui/), static against musl, OpenSSL and libxcrypt
#
################################################################################
# Not a Debian package: built from the tree every time (config-ui/Makefile is
# incremental), like pullboxd.

CONFIG_UI_DEPENDENCIES = openssl libxcrypt zlib
CONFIG_UI_OBJDIR = $(BUILD_DIR)/config-ui
CONFIG_UI_BUILD = $(CONFIG_UI_OBJDIR)/config-ui
CONFIG_UI_MAKE_OPTS = -C $(APPLIANCE_TOP)/config-ui O=$(CONFIG_UI_OBJDIR) \
	CC=$(TARGET_CC) CFLAGS="$(TARGET_CFLAGS)" \
	PKG_CFLAGS="-isystem $(STAGING_DIR)/usr/include" \
	PKG_LIBS="-L$(STAGING_DIR)/usr/lib -lssl -lcrypto -lcrypt" \
	LDFLAGS="$(TARGET_LDFLAGS)"
# what lands in the image: program -> path
CONFIG_UI_INSTALL = pullbox-wizard.cgi:/usr/libexec/pullbox/pullbox-wizard.cgi \
	pullbox-console:/usr/sbin/pullbox-console pullbox-apply:/usr/sbin/pullbox-apply \
	pullbox-growdata:/usr/sbin/pullbox-growdata

$(CONFIG_UI_BUILD)/.built: $(TOOLCHAIN_STAMP) $(foreach d,$(CONFIG_UI_DEPENDENCIES),$(BUILD_DIR)/.done/$(d)) FORCE
	@echo "  BUILD   config-ui (musl, static)"
	$(Q)PATH="$(TARGET_PATH)" $(MAKE) --no-print-directory $(CONFIG_UI_MAKE_OPTS)
	$(Q)touch $@

$(BUILD_DIR)/.done/config-ui: $(CONFIG_UI_BUILD)/.built
	$(Q)for p in $(CONFIG_UI_INSTALL); do \
		bin=$(CONFIG_UI_BUILD)/$${p%%:*} dst=$(TARGET_DIR)$${p#*:}; \
		file -L $$bin | grep -q 'statically linked' || { echo "config-ui: $$bin is not static" >&2; exit 1; }; \
		install -D -m 0755 $$bin $$dst && strip $$dst || exit 1; \
	done
	$(Q)mkdir -p $(@D) && touch $@

config-ui-image: $(BUILD_DIR)/.done/config-ui
PACKAGES += config-ui
.PHONY: config-ui-image
