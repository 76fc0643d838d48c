/* TLS to Redis (and to the Sentinels): one OpenSSL client context for the
 * store's connections, made at start from redis-tls-ca or a pinned
 * redis-tls-fingerprint. Each connection gets its own SSL object, named for
 * the host it dials (SNI, and the name or IP its certificate must carry),
 * before hiredis sends a byte: a certificate that does not verify fails the
 * handshake, so AUTH is never written to that socket, and the failure's
 * reason is kept for the connection's log line. There is no fallback to
 * plain TCP. */
#ifndef PULLBOX_REDIS_TLS_H
#define PULLBOX_REDIS_TLS_H

#include "first.h"

#include <stddef.h>

struct redisContext;
struct redis_tls;

#define REDIS_TLS_ERR_LEN 200

/* Checks the redis-tls settings together (fingerprint syntax, one of CA or
 * fingerprint when on, no unix: socket). Returns 0 or -1 with err naming
 * the key. */
int redis_tls_check(int on, const char *ca, const char *fingerprint, const char *redis_spec,
                    char *err, size_t errlen);
/* Makes the client context: reads the CA file (or takes the pin); name
 * overrides the host each connection verifies when not empty. Returns NULL
 * with err naming the key and the file. Strings are copied. */
struct redis_tls *redis_tls_new(const char *ca, const char *fingerprint, const char *name,
                                char *err, size_t errlen);
void redis_tls_free(struct redis_tls *t);
/* Starts TLS on c (connecting or connected; blocking or not) for host.
 * why (REDIS_TLS_ERR_LEN bytes, borrowed: must outlive the connection) is
 * cleared, and gets the reason when the certificate later does not verify.
 * Returns 0, or -1 with why set. */
int redis_tls_start(struct redis_tls *t, struct redisContext *c, const char *host, char *why);

#endif
