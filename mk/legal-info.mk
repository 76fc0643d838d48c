################################################################################
#
# legal-info.mk: the licence and source targets (mk/legal.mk explains them);
# included after every package, whose rows they collect
#
################################################################################

$(LEGAL_DIR)/rows/host: $(LEGAL_HOST_LIST) $(LEGAL_SCRIPT)
	$(Q)$(LEGAL_SCRIPT) host-licenses $(LEGAL_DIR) $(LEGAL_HOST_LIST)

$(LEGAL_DIR)/manifest.csv: $(LEGAL_ROW_STAMPS) $(LEGAL_DIR)/rows/host
	$(Q)$(LEGAL_SCRIPT) manifest $(LEGAL_DIR)
	@echo "  LEGAL   $@"

# the image carries the licences (not the sources): /usr/share/doc/pullbox/legal
$(BUILD_DIR)/.done/legal-licenses: $(LEGAL_DIR)/manifest.csv
	$(Q)rm -rf $(TARGET_DIR)/usr/share/doc/pullbox/legal
	$(Q)mkdir -p $(TARGET_DIR)/usr/share/doc/pullbox/legal
	$(Q)cp -R $(LEGAL_DIR)/manifest.csv $(LEGAL_DIR)/licenses $(TARGET_DIR)/usr/share/doc/pullbox/legal/
	$(Q)mkdir -p $(@D) && touch $@

legal-licenses: $(LEGAL_DIR)/manifest.csv

# a source the archive no longer serves is listed in out/legal-info/MISSING and
# fails the target at the end, after everything else was collected
legal-info: legal-licenses
	$(Q)rm -f $(LEGAL_DIR)/MISSING
	$(Q)$(MAKE) --no-print-directory $(LEGAL_SOURCE_TARGETS)
	$(Q)$(LEGAL_SCRIPT) host-sources $(LEGAL_DIR) $(LEGAL_HOST_LIST)
	$(Q)$(LEGAL_SCRIPT) tree $(LEGAL_DIR) $(APPLIANCE_TOP) '$(PULLBOX_VERSION)'
	$(Q)$(LEGAL_SCRIPT) summary $(LEGAL_DIR)

.PHONY: legal-licenses legal-info
