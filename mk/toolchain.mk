################################################################################
#
# toolchain: Debian's musl-gcc, static, against one sysroot (out/staging)
#
################################################################################
# The wrapper x86_64-linux-musl-gcc adds the kernel UAPI headers (linux/, asm/)
# after musl's own headers, never glibc's (APPLIANCE.md 1.1), and maps the
# build directory away so that outputs do not depend on where the tree is.

TARGET_TUPLE := x86_64-linux-musl
DL_DIR ?= $(O)/dl
BUILD_DIR := $(O)/build
HOST_DIR := $(O)/host
STAGING_DIR := $(O)/staging
TARGET_DIR := $(O)/target
IMAGES_DIR := $(O)/images
PKG_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# One timestamp for everything in the image: the last commit, else a constant.
SOURCE_DATE_EPOCH ?= $(shell git -C $(APPLIANCE_TOP) log -1 --format=%ct 2>/dev/null || echo 1700000000)
export SOURCE_DATE_EPOCH
export TZ := UTC
export LC_ALL := C

PULLBOX_VERSION := $(shell cat $(APPLIANCE_TOP)/VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(V),1)
Q :=
else
Q := @
endif

TARGET_CC := $(TARGET_TUPLE)-gcc
TARGET_CFLAGS := -Os -pipe -ffunction-sections -fdata-sections -fstack-protector-strong
TARGET_CPPFLAGS := -I$(STAGING_DIR)/usr/include
TARGET_LDFLAGS := -static -L$(STAGING_DIR)/usr/lib -Wl,--gc-sections

# The environment of every configure/make of a target package.
TARGET_PATH := $(HOST_DIR)/bin:$(PATH)
TARGET_MAKE_ENV := PATH="$(TARGET_PATH)" \
	PKG_CONFIG_LIBDIR="$(STAGING_DIR)/usr/lib/pkgconfig" PKG_CONFIG_PATH= \
	PKG_CONFIG_SYSROOT_DIR="$(STAGING_DIR)"
TARGET_CONFIGURE_ENV := $(TARGET_MAKE_ENV) \
	CC="$(TARGET_CC)" AR=ar RANLIB=ranlib STRIP=strip NM=nm \
	CFLAGS="$(TARGET_CFLAGS)" CPPFLAGS="$(TARGET_CPPFLAGS)" LDFLAGS="$(TARGET_LDFLAGS)"
TARGET_CONFIGURE_ARGS := --host=$(TARGET_TUPLE) --build=x86_64-linux-gnu --prefix=/usr \
	--sysconfdir=/etc --localstatedir=/var --disable-shared --enable-static

TOOLCHAIN_STAMP := $(HOST_DIR)/.stamp_toolchain
HOST_SETUP_STAMP := $(HOST_DIR)/.stamp_host_setup

# Debian packages the build and the boot test use, and the deb-src entry
# (appliance/scripts/setup-host.sh: installs only what is missing; as root).
$(HOST_SETUP_STAMP): $(APPLIANCE_TOP)/appliance/scripts/setup-host.sh
	@echo "  HOST    build tools and deb-src (appliance/scripts/setup-host.sh)"
	$(Q)$(APPLIANCE_TOP)/appliance/scripts/setup-host.sh all
	$(Q)mkdir -p $(@D) && touch $@

host-setup: $(HOST_SETUP_STAMP)
.PHONY: host-setup
KINC_DIRS := linux asm-generic mtd rdma sound video xen drm misc

$(TOOLCHAIN_STAMP): $(APPLIANCE_TOP)/mk/toolchain.mk | $(HOST_SETUP_STAMP)
	@command -v musl-gcc >/dev/null || { echo "toolchain: musl-gcc is missing: run appliance/scripts/setup-host.sh tools" >&2; exit 1; }
	$(Q)rm -rf $(HOST_DIR)/kinc $(HOST_DIR)/bin
	$(Q)mkdir -p $(HOST_DIR)/kinc $(HOST_DIR)/bin $(STAGING_DIR)/usr/include/sys $(STAGING_DIR)/usr/lib
	$(Q)for d in $(KINC_DIRS); do [ ! -d /usr/include/$$d ] || ln -sfn /usr/include/$$d $(HOST_DIR)/kinc/$$d; done
	$(Q)ln -sfn /usr/include/x86_64-linux-gnu/asm $(HOST_DIR)/kinc/asm
	$(Q)printf '#!/bin/sh\nexec /usr/bin/musl-gcc -idirafter %s -ffile-prefix-map=%s=/pullbox "$$@"\n' \
		$(HOST_DIR)/kinc $(O) >$(HOST_DIR)/bin/$(TARGET_CC)
	$(Q)chmod 755 $(HOST_DIR)/bin/$(TARGET_CC)
	$(Q)# musl has no <sys/queue.h> (lighttpd's ls-hpack needs it): glibc's is header-only
	$(Q)cp /usr/include/x86_64-linux-gnu/sys/queue.h $(STAGING_DIR)/usr/include/sys/queue.h
	$(Q)touch $@

toolchain: $(TOOLCHAIN_STAMP)
.PHONY: toolchain
