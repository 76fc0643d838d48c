################################################################################
#
# pullboxd: the queue server (server/), static against musl and the sysroot
#
################################################################################

PULLBOXD_SUBDIR = server
PULLBOXD_DEPENDENCIES = libev hiredis openssl jansson zlib
PULLBOXD_PKG_LIBS = -lev -lhiredis_ssl -lhiredis -ljansson -lssl -lcrypto -lm
PULLBOXD_INSTALL = pullboxd:/usr/sbin/pullboxd

$(eval $(call local-package,pullboxd))
