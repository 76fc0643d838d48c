/* TLS with OpenSSL 3: the server context (certificate, key, chain, TLS 1.2+
 * with forward-secret AEAD suites, no compression or renegotiation, ALPN
 * http/1.1) and the self-signed certificate of a first boot. */
#ifndef PULLBOX_TLS_H
#define PULLBOX_TLS_H

#include "first.h"

#include <openssl/ssl.h>

struct config;

/* Builds a server context from the tls-* keys. Returns NULL with err naming
 * the key and file (unreadable, not PEM, key does not match, expired). */
SSL_CTX *tls_ctx_new(const struct config *cfg, char *err, size_t errlen);
/* Writes a self-signed certificate (ECDSA P-256, valid `days`) for the
 * comma-separated host names and IP addresses in names (the first is the
 * subject CN), and its key (mode 0600). Files are replaced atomically.
 * Returns 0, or -1 with err. */
int tls_make_cert(const char *cert_path, const char *key_path, const char *names, int days,
                  char *err, size_t errlen);
/* This machine's host name and addresses plus localhost, comma-separated
 * (the default names of a first-boot certificate). Caller frees. */
char *tls_default_names(void);
/* The newest OpenSSL error as text, for logs ("" when none). */
const char *tls_last_error(void);

#endif
