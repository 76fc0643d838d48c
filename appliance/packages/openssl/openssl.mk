################################################################################
#
# openssl: libssl/libcrypto only (no-shared), for pullboxd and lighttpd
#
################################################################################
# CFLAGS/CPPFLAGS/LDFLAGS are unset on purpose: OpenSSL embeds its compiler
# command line, and a build path in it would make the image depend on where
# it was built (APPLIANCE.md 3.2). no-async: musl has no ucontext.

OPENSSL_VERSION = 3.0.20-1~deb12u2
OPENSSL_POOL = main/o/openssl
OPENSSL_CONF_OPTS = linux-x86_64 --prefix=/usr --openssldir=/etc/ssl --libdir=lib \
	no-shared no-module no-dso no-engine no-async no-afalgeng no-tests no-comp \
	no-ssl3 no-weak-ssl-ciphers no-legacy no-idea no-mdc2 no-rc5 no-srp no-gost \
	no-ui-console -static -Os -ffunction-sections -fdata-sections -fstack-protector-strong
OPENSSL_CONFIGURE_CMDS = env -u CFLAGS -u CPPFLAGS -u LDFLAGS CC=$(TARGET_CC) \
	./Configure $(OPENSSL_CONF_OPTS)
OPENSSL_BUILD_CMDS = env -u CFLAGS -u CPPFLAGS -u LDFLAGS $(MAKE) -j$(PKG_JOBS) build_libs
OPENSSL_INSTALL_STAGING_CMDS = $(MAKE) install_dev DESTDIR=$(STAGING_DIR)

OPENSSL_LICENSE = Apache-2.0
OPENSSL_LICENSE_FILES = LICENSE.txt debian/copyright

$(eval $(call debian-source-package,openssl))
