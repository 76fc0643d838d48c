#include "first.h"

#include "redis_tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_TLS_PIN_LEN 32 /* SHA-256 */

struct redis_tls {
    SSL_CTX *ctx;
    unsigned char pin[REDIS_TLS_PIN_LEN];
    bool pinned;
    char *name; /* "" : each connection's own host */
};

/* where a connection's SSL keeps its `why` buffer */
static int why_index = -1;

/* "ab:CD:..." or "abcd..." to 32 bytes; -1 unless exactly 64 hex digits */
static int parse_pin(const char *s, unsigned char out[REDIS_TLS_PIN_LEN])
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (*s == ':')
            continue;
        int v = hex_digit_value(*s);
        if (v < 0 || n == REDIS_TLS_PIN_LEN)
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    return n == REDIS_TLS_PIN_LEN && hi < 0 ? 0 : -1;
}

int redis_tls_check(int on, const char *ca, const char *fingerprint, const char *redis_spec,
                    char *err, size_t errlen)
{
    unsigned char pin[REDIS_TLS_PIN_LEN];
    if (fingerprint[0] && parse_pin(fingerprint, pin) != 0) {
        snprintf(err, errlen,
                 "redis-tls-fingerprint: \"%s\" is not a SHA-256 (64 hex digits, colons allowed)",
                 fingerprint);
        return -1;
    }
    if (!on)
        return 0;
    if (!ca[0] == !fingerprint[0]) {
        snprintf(err, errlen,
                 "redis-tls: on needs one of redis-tls-ca (a CA file) or redis-tls-fingerprint "
                 "(a pinned CA), to verify Redis's certificate");
        return -1;
    }
    if (strncmp(redis_spec, "unix:", 5) == 0) {
        snprintf(err, errlen, "redis-tls: Redis serves no TLS on a unix: socket (set it off)");
        return -1;
    }
    return 0;
}

static char *why_of(X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    return ssl ? SSL_get_ex_data(ssl, why_index) : NULL;
}

/* Keeps the first reason a certificate is refused, for the log. */
static int on_verify(int ok, X509_STORE_CTX *x)
{
    char *why = why_of(x);
    if (!ok && why && !why[0]) {
        char subject[96] = "?";
        X509 *cert = X509_STORE_CTX_get_current_cert(x);
        if (cert)
            X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
        snprintf(why, REDIS_TLS_ERR_LEN, "TLS: Redis's certificate (%s) is refused: %s", subject,
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
    }
    return ok;
}

static bool pin_matches(const struct redis_tls *t, X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    return X509_digest(cert, EVP_sha256(), md, &n) && n == REDIS_TLS_PIN_LEN &&
           CRYPTO_memcmp(md, t->pin, REDIS_TLS_PIN_LEN) == 0;
}

/* With a pin, the trust anchor is the certificate of the presented chain
 * whose SHA-256 is the pin; the chain is then verified up to it as against
 * a CA file (signatures, dates, the name), so the hub may renew its own
 * certificate under the same CA without the nodes changing anything. */
static int verify_pinned(X509_STORE_CTX *x, void *arg)
{
    const struct redis_tls *t = arg;
    X509 *anchor = NULL, *leaf = X509_STORE_CTX_get0_cert(x);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(x);
    if (leaf && pin_matches(t, leaf))
        anchor = leaf;
    for (int i = 0; !anchor && chain && i < sk_X509_num(chain); i++)
        if (pin_matches(t, sk_X509_value(chain, i)))
            anchor = sk_X509_value(chain, i);
    if (!anchor) {
        char *why = why_of(x);
        if (why && !why[0])
            snprintf(why, REDIS_TLS_ERR_LEN,
                     "TLS: Redis presents no certificate with the SHA-256 of "
                     "redis-tls-fingerprint (not the hub it names)");
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_UNTRUSTED);
        return 0;
    }
    STACK_OF(X509) *trusted = sk_X509_new_null();
    if (!trusted || !sk_X509_push(trusted, anchor)) {
        sk_X509_free(trusted);
        return 0;
    }
    X509_STORE_CTX_set0_trusted_stack(x, trusted);
    int ok = X509_verify_cert(x);
    X509_STORE_CTX_set0_trusted_stack(x, NULL);
    sk_X509_free(trusted);
    return ok > 0;
}

struct redis_tls *redis_tls_new(const char *ca, const char *fingerprint, const char *name,
                                char *err, size_t errlen)
{
    if (why_index < 0)
        why_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    struct redis_tls *t = xcalloc(1, sizeof *t);
    t->name = xstrdup(name);
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx || why_index < 0) {
        snprintf(err, errlen, "redis-tls: cannot make a TLS context");
        redis_tls_free(t);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, on_verify);
    if (fingerprint[0]) {
        if (parse_pin(fingerprint, t->pin) != 0) {
            snprintf(err, errlen, "redis-tls-fingerprint: not a SHA-256");
            redis_tls_free(t);
            return NULL;
        }
        t->pinned = true;
        SSL_CTX_set_cert_verify_callback(t->ctx, verify_pinned, t);
    } else if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1) {
        unsigned long e = ERR_peek_last_error();
        snprintf(err, errlen, "redis-tls-ca: %s: no CA certificate read (%s)", ca,
                 e ? ERR_reason_error_string(e) : "unreadable");
        ERR_clear_error();
        redis_tls_free(t);
        return NULL;
    }
    return t;
}

void redis_tls_free(struct redis_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->name);
    free(t);
}

int redis_tls_start(struct redis_tls *t, struct redisContext *c, const char *host, char *why)
{
    const char *name = t->name[0] ? t->name : host;
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    why[0] = '\0';
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || !SSL_set_ex_data(ssl, why_index, why) ||
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1
               : SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1)) {
        snprintf(why, REDIS_TLS_ERR_LEN, "TLS: cannot set up a connection to verify \"%s\"", name);
        SSL_free(ssl);
        return -1;
    }
    if (redisInitiateSSL(c, ssl) != REDIS_OK) {
        /* hiredis keeps the SSL only on success */
        if (!why[0])
            snprintf(why, REDIS_TLS_ERR_LEN, "TLS: %s", c->errstr);
        SSL_free(ssl);
        return -1;
    }
    return 0;
}
