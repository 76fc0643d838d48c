################################################################################
#
# linux: Debian's generic amd64 kernel (binary package), pinned
#
################################################################################
# The generic flavour, not cloud-amd64: only it has AHCI, e1000/e1000e and
# mptspi (VirtualBox and VMware defaults). Storage and ext4 are modules, so
# the initramfs loads them (mkinitramfs.sh); the module selection is in
# appliance/configs/modules-*.txt.

LINUX_VERSION = 6.1.192-2
LINUX_ABI = 6.1.0-56-amd64
LINUX_POOL = main/l/linux-signed-amd64
LINUX_KERNEL = $(LINUX_SRCDIR)/boot/vmlinuz-$(LINUX_ABI)
LINUX_MODULES = $(LINUX_SRCDIR)/lib/modules/$(LINUX_ABI)

LINUX_LICENSE = GPL-2.0-only WITH Linux-syscall-note
# built from linux (the kernel) and linux-signed-amd64 (its signed image):
# their source packages are what make legal-info offers
LINUX_SOURCE_HASH = $(LINUX_PKGDIR)/linux.source.hash $(LINUX_PKGDIR)/linux-signed.source.hash
LINUX_SOURCE_SITES = $(foreach p,main/l/linux main/l/linux-signed-amd64,\
	$(DEBIAN_MIRROR)/pool/$(p) $(DEBIAN_SECURITY_MIRROR)/pool/updates/$(p))
LINUX_LICENSE_FILES = usr/share/doc/linux-image-$(LINUX_ABI)/copyright

$(eval $(call debian-binary-package,linux))
