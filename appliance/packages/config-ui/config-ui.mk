################################################################################
#
# config-ui: the setup wizard (CGI), the console and the apply service
# (config-ui/), static against musl, OpenSSL and libxcrypt
#
################################################################################

CONFIG_UI_SUBDIR = config-ui
CONFIG_UI_DEPENDENCIES = openssl libxcrypt zlib
CONFIG_UI_PKG_LIBS = -lssl -lcrypto -lcrypt
CONFIG_UI_INSTALL = config-ui/pullbox-wizard.cgi:/usr/libexec/pullbox/pullbox-wizard.cgi \
	config-ui/pullbox-console:/usr/sbin/pullbox-console config-ui/pullbox-apply:/usr/sbin/pullbox-apply \
	config-ui/pullbox-growdata:/usr/sbin/pullbox-growdata \
	config-ui/pullbox-update-verify:/usr/sbin/pullbox-update-verify \
	config-ui/pullbox-sampler:/usr/sbin/pullbox-sampler \
	config-ui/pullbox-update-copy:/usr/sbin/pullbox-update-copy \
	config-ui/pullbox-kexec:/usr/libexec/pullbox/pullbox-kexec \
	config-ui/pullbox-watchdog:/usr/libexec/pullbox/pullbox-watchdog

$(eval $(call local-package,config-ui))
