################################################################################
#
# pullboxd: the queue server (server/), static against musl and the sysroot
#
################################################################################
# Not a Debian package: built from the tree every time (server/Makefile is
# incremental); installed only when the binary changed.

PULLBOXD_DEPENDENCIES = libev hiredis openssl jansson zlib
PULLBOXD_OBJDIR = $(BUILD_DIR)/pullboxd
PULLBOXD_BIN = $(PULLBOXD_OBJDIR)/pullboxd
PULLBOXD_MAKE_OPTS = -C $(APPLIANCE_TOP)/server O=$(PULLBOXD_OBJDIR) \
	CC=$(TARGET_CC) CFLAGS="$(TARGET_CFLAGS)" \
	PKG_CFLAGS="-isystem $(STAGING_DIR)/usr/include" \
	PKG_LIBS="-L$(STAGING_DIR)/usr/lib -lev -lhiredis -ljansson -lssl -lcrypto -lm" \
	LDFLAGS="$(TARGET_LDFLAGS)"

$(PULLBOXD_BIN): $(TOOLCHAIN_STAMP) $(foreach d,$(PULLBOXD_DEPENDENCIES),$(BUILD_DIR)/.done/$(d)) FORCE
	@echo "  BUILD   pullboxd (musl, static)"
	$(Q)PATH="$(TARGET_PATH)" $(MAKE) --no-print-directory $(PULLBOXD_MAKE_OPTS)

$(BUILD_DIR)/.done/pullboxd: $(PULLBOXD_BIN)
	$(Q)file -L $(PULLBOXD_BIN) | grep -q 'statically linked' || { echo "pullboxd: $(PULLBOXD_BIN) is not static" >&2; exit 1; }
	$(Q)install -D -m 0755 $(PULLBOXD_BIN) $(TARGET_DIR)/usr/sbin/pullboxd
	$(Q)strip $(TARGET_DIR)/usr/sbin/pullboxd
	$(Q)mkdir -p $(@D) && touch $@

pullboxd: $(BUILD_DIR)/.done/pullboxd
PACKAGES += pullboxd
.PHONY: pullboxd FORCE
FORCE:
