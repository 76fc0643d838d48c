################################################################################
#
# appliance: the image build (packages, rootfs, disk, OVA), included by the
# top-level Makefile. Also usable alone: make -f mk/appliance.mk image
#
################################################################################
#   image        out/images/pullbox-<version>.{raw,qcow2,vmdk,vhdx} + SHA256SUMS
#   ova          out/images/pullbox-<version>.ova (OVF 1.0, IDE + E1000, SHA256 .mf)
#   update       out/images/pullbox-<version>.pbu, the signed update bundle (mk/update.mk)
#   check-image  boot the image in QEMU (TCG) and probe it from outside (TAP)
#   run-image    boot the image in QEMU with the ports forwarded to 127.0.0.1
#   packages     only the static musl userland (out/staging, out/target)
#   <pkg>, <pkg>-dirclean   one package (busybox, openssl, lighttpd, ...)
#   legal-licenses, legal-info  licences (also in the image) and sources (mk/legal.mk)

APPLIANCE_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
O ?= $(APPLIANCE_TOP)/out

include $(APPLIANCE_TOP)/mk/toolchain.mk
include $(APPLIANCE_TOP)/mk/pkg.mk
include $(sort $(wildcard $(APPLIANCE_TOP)/appliance/packages/*/*.mk))
include $(APPLIANCE_TOP)/mk/image.mk
include $(APPLIANCE_TOP)/mk/update.mk
include $(APPLIANCE_TOP)/mk/legal-info.mk

packages: $(foreach p,$(PACKAGES),$(BUILD_DIR)/.done/$(p))
.PHONY: packages
