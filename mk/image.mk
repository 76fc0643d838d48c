################################################################################
#
# image.mk: kernel modules, initramfs, system squashfs, GPT disk, formats, OVA
#
################################################################################
# Outputs in out/images (IMG = pullbox-<version>):
#   IMG.raw  IMG.qcow2  IMG.vmdk (streamOptimized)  IMG.vhdx  IMG.ova  SHA256SUMS
# Intermediate files in out/image.

IMG := pullbox-$(PULLBOX_VERSION)
IMAGE_BUILD := $(O)/image
ROOTFS_DIR := $(O)/rootfs
APPLIANCE_DIR := $(APPLIANCE_TOP)/appliance
SCRIPTS := $(APPLIANCE_DIR)/scripts
OVERLAY_DIR := $(APPLIANCE_TOP)/rootfs
OVERLAY_FILES := $(shell find $(OVERLAY_DIR) ! -type l 2>/dev/null)
IMAGE_PACKAGES := busybox lighttpd dropbear iptables redis pullboxd config-ui
VM_CPUS ?= 2
VM_MEM_MIB ?= 1024

IMG_RAW := $(IMAGES_DIR)/$(IMG).raw
IMG_FORMATS := $(IMAGES_DIR)/$(IMG).qcow2 $(IMAGES_DIR)/$(IMG).vmdk $(IMAGES_DIR)/$(IMG).vhdx
IMG_OVA := $(IMAGES_DIR)/$(IMG).ova

# Image files embed SOURCE_DATE_EPOCH (the last commit's time): a new value
# redoes them, so an incremental build equals a clean one.
SDE_STAMP := $(IMAGE_BUILD)/.sde-$(SOURCE_DATE_EPOCH)
$(SDE_STAMP):
	$(Q)mkdir -p $(@D) && rm -f $(IMAGE_BUILD)/.sde-* && touch $@

$(IMAGE_BUILD)/.stamp_modules: $(BUILD_DIR)/.done/linux $(SCRIPTS)/mkmodules.sh \
		$(APPLIANCE_DIR)/configs/modules-initramfs.txt $(APPLIANCE_DIR)/configs/modules-rootfs.txt
	@echo "  MODULES $(LINUX_ABI)"
	$(Q)mkdir -p $(IMAGE_BUILD)
	$(Q)$(SCRIPTS)/mkmodules.sh $(LINUX_SRCDIR) $(LINUX_ABI) $(IMAGE_BUILD)/modules-initramfs \
		$(APPLIANCE_DIR)/configs/modules-initramfs.txt >/dev/null
	$(Q)$(SCRIPTS)/mkmodules.sh $(LINUX_SRCDIR) $(LINUX_ABI) $(IMAGE_BUILD)/modules-rootfs \
		$(APPLIANCE_DIR)/configs/modules-initramfs.txt $(APPLIANCE_DIR)/configs/modules-rootfs.txt >/dev/null
	$(Q)touch $@

# pullbox-kexec (config-ui/tools/kexec.c) starts a trial boot from the initramfs,
# pullbox-watchdog (tools/watchdog.c) arms the hypervisor's watchdog for it
$(IMAGE_BUILD)/initrd.img: $(BUILD_DIR)/.done/busybox $(BUILD_DIR)/.done/config-ui $(IMAGE_BUILD)/.stamp_modules \
		$(APPLIANCE_DIR)/initramfs/init $(SCRIPTS)/mkinitramfs.sh $(SDE_STAMP)
	@echo "  INITRD  $@"
	$(Q)$(SCRIPTS)/mkinitramfs.sh $(TARGET_DIR)/bin/busybox $(APPLIANCE_DIR)/initramfs/init \
		$(IMAGE_BUILD)/modules-initramfs $(TARGET_DIR)/usr/libexec/pullbox/pullbox-kexec \
		$(TARGET_DIR)/usr/libexec/pullbox/pullbox-watchdog $@ >/dev/null

# The public half of the key that signs update bundles (mk/update.mk): the
# system accepts only bundles it signed. Rewritten only when the key changed.
UPDATE_PUBKEY := $(TARGET_DIR)/usr/share/pullbox/update-key.pem
$(UPDATE_PUBKEY): FORCE
	$(Q)mkdir -p $(@D) && $(SCRIPTS)/signing-key.sh $@ >/dev/null

$(IMAGE_BUILD)/system.squashfs: $(foreach p,$(IMAGE_PACKAGES),$(BUILD_DIR)/.done/$(p)) \
		$(BUILD_DIR)/.done/legal-licenses $(UPDATE_PUBKEY) \
		$(IMAGE_BUILD)/.stamp_modules $(OVERLAY_FILES) $(APPLIANCE_DIR)/permissions.txt \
		$(SCRIPTS)/mkrootfs.sh $(APPLIANCE_TOP)/VERSION $(SDE_STAMP)
	@echo "  ROOTFS  $@"
	$(Q)$(SCRIPTS)/mkrootfs.sh $(ROOTFS_DIR) $@ $(TARGET_DIR) $(OVERLAY_DIR) \
		$(IMAGE_BUILD)/modules-rootfs $(BUILD_DIR)/busybox.links \
		$(APPLIANCE_DIR)/permissions.txt $(PULLBOX_VERSION) >/dev/null

$(IMG_RAW): $(IMAGE_BUILD)/system.squashfs $(IMAGE_BUILD)/initrd.img $(BUILD_DIR)/.done/linux \
		$(APPLIANCE_DIR)/configs/syslinux.cfg $(SCRIPTS)/mkdisk.sh
	@echo "  DISK    $@"
	$(Q)mkdir -p $(IMAGES_DIR)
	$(Q)$(SCRIPTS)/mkdisk.sh $(LINUX_KERNEL) $(IMAGE_BUILD)/initrd.img $(IMAGE_BUILD)/system.squashfs \
		$(APPLIANCE_DIR)/configs/syslinux.cfg $@

$(IMG_FORMATS): $(IMAGES_DIR)/$(IMG).%: $(IMG_RAW) $(SCRIPTS)/mkformats.sh $(SCRIPTS)/vmdk-fix-cid.py $(SCRIPTS)/vhdx-fix-guids.py
	@echo "  CONVERT $@"
	$(Q)$(SCRIPTS)/mkformats.sh $< $@

$(IMG_OVA): $(IMG_RAW) $(SDE_STAMP) $(SCRIPTS)/mkova.sh $(APPLIANCE_DIR)/ovf/appliance.ovf.in $(SCRIPTS)/mkformats.sh $(SCRIPTS)/vmdk-fix-cid.py
	@echo "  OVA     $@"
	$(Q)VM_CPUS=$(VM_CPUS) VM_MEM_MIB=$(VM_MEM_MIB) $(SCRIPTS)/mkova.sh $< $(IMG) $(PULLBOX_VERSION) $@

$(IMAGES_DIR)/SHA256SUMS: $(IMG_RAW) $(IMG_FORMATS) $(IMG_OVA)
	$(Q)cd $(IMAGES_DIR) && sha256sum $(notdir $^) >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS
	@echo "  SUMS    $@"

image: $(IMG_RAW) $(IMG_FORMATS) $(IMG_OVA) $(IMAGES_DIR)/SHA256SUMS
ova: $(IMG_OVA)
rootfs: $(IMAGE_BUILD)/system.squashfs

# Boot the image in QEMU (TCG unless KVM works) with the ports on 127.0.0.1.
run-image: $(IMG_RAW) $(BUILD_DIR)/.done/pullboxd
	@$(SCRIPTS)/run-qemu.sh $(IMG_RAW) $(TARGET_DIR)/usr/sbin/pullboxd

check-image: image
	@$(APPLIANCE_TOP)/tests/image/boot_test.py $(IMG_RAW)

image-clean:
	rm -rf $(IMAGE_BUILD) $(ROOTFS_DIR) $(IMAGES_DIR)

.PHONY: image ova rootfs run-image check-image image-clean

# Packer (Debian's 1.6.6, offline) boots the built image headless, probes it
# and re-runs the post-processing; see packer/pullbox.pkr.hcl.
packer-check: image
	$(Q)rm -rf $(O)/packer $(O)/packer.monitor $(O)/packer.serial.log
	$(Q)cd $(APPLIANCE_TOP) && base=$$(packer/port-base.py) && \
		CHECKPOINT_DISABLE=1 PACKER_CACHE_DIR=$(O)/packer_cache packer build -color=false \
		-var version=$(PULLBOX_VERSION) -var source_date_epoch=$(SOURCE_DATE_EPOCH) -var port_base=$$base \
		-var images_dir=$(IMAGES_DIR) -var output_dir=$(O)/packer packer/pullbox.pkr.hcl

.PHONY: packer-check
