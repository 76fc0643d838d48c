################################################################################
#
# lighttpd: the setup wizard on 443 (mod_openssl, mod_cgi), static
#
################################################################################
# A static lighttpd needs LIGHTTPD_STATIC=yes, src/plugin-static.h listing the
# modules, and libtool's -all-static (plain -static still links musl
# dynamically). No PCRE: the config uses no regular expressions.

LIGHTTPD_VERSION = 1.4.69-1
LIGHTTPD_POOL = main/l/lighttpd
LIGHTTPD_DEPENDENCIES = openssl zlib
LIGHTTPD_EXTRA_DEPS = $(LIGHTTPD_PKGDIR)/plugin-static.h
LIGHTTPD_CONFIGURE_CMDS = cp $(LIGHTTPD_PKGDIR)/plugin-static.h src/plugin-static.h && \
	LIGHTTPD_STATIC=yes $(TARGET_CONFIGURE_ENV) ./configure $(TARGET_CONFIGURE_ARGS) \
	--disable-dependency-tracking --with-openssl=$(STAGING_DIR)/usr --with-zlib \
	--without-pcre2 --without-pcre --without-bzip2 --without-zstd --without-brotli \
	--without-libev --without-lua --without-mysql --without-pgsql --without-ldap \
	--without-pam --without-attr --without-fam --without-xxhash --without-dbi \
	--without-krb5 --without-sasl --without-maxminddb --without-webdav-props \
	--without-webdav-locks --without-gnutls --without-mbedtls --without-nss --without-wolfssl
LIGHTTPD_BUILD_CMDS = $(MAKE) -j$(PKG_JOBS) LDFLAGS="-all-static $(TARGET_LDFLAGS)"
LIGHTTPD_INSTALL_TARGET_CMDS = install -D -m 0755 src/lighttpd $(TARGET_DIR)/usr/sbin/lighttpd && \
	strip $(TARGET_DIR)/usr/sbin/lighttpd

LIGHTTPD_LICENSE = BSD-3-Clause
LIGHTTPD_LICENSE_FILES = COPYING debian/copyright

$(eval $(call debian-source-package,lighttpd))
