################################################################################
#
# update.mk: the signed update bundle out/images/pullbox-<version>.pbu
#
################################################################################
# The system squashfs, the kernel and the initramfs of this build, with a
# manifest signed by the builder's key (appliance/scripts/signing-key.sh:
# ~/.config/pullbox/signing-key.pem, or PULLBOX_SIGNING_KEY for a release
# key); the image built alongside carries the public half (mk/image.mk), and
# pullbox-update-verify checks a bundle against it. Format: config-ui/lib/bundle.h.

UPDATE_BUNDLE := $(IMAGES_DIR)/$(IMG).pbu
# The oldest running version this bundle may replace: raise it when an
# upgrade needs a step only a later version's installer takes.
UPDATE_MIN_FROM ?= 0.1.0

$(UPDATE_BUNDLE): $(IMAGE_BUILD)/system.squashfs $(IMAGE_BUILD)/initrd.img $(BUILD_DIR)/.done/linux \
		$(UPDATE_PUBKEY) $(SCRIPTS)/mkbundle.sh $(SDE_STAMP)
	@echo "  BUNDLE  $@"
	$(Q)mkdir -p $(@D)
	$(Q)key=$$($(SCRIPTS)/signing-key.sh $(UPDATE_PUBKEY)) && \
		$(SCRIPTS)/mkbundle.sh $@ pullbox $(PULLBOX_VERSION) $(UPDATE_MIN_FROM) "$$key" \
		system.squashfs=$(IMAGE_BUILD)/system.squashfs vmlinuz=$(LINUX_KERNEL) \
		initrd.img=$(IMAGE_BUILD)/initrd.img

update: $(UPDATE_BUNDLE)
.PHONY: update
