#include "first.h"

#include "tls.h"
#include "config.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tls_last_error(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (!e)
        return "";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    /* we speak HTTP/1.1 (and WebSocket over it) only */
    for (unsigned i = 0; i < inlen;) {
        unsigned n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static bool readable(const char *key, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
        return false;
    }
    fclose(f);
    return true;
}

static void fmt_time(const ASN1_TIME *t, char *out, size_t n)
{
    BIO *b = BIO_new(BIO_s_mem());
    ASN1_TIME_print(b, t);
    int len = BIO_read(b, out, (int)n - 1);
    out[len > 0 ? len : 0] = '\0';
    BIO_free(b);
}

SSL_CTX *tls_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: %s", tls_last_error());
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version == CONFIG_TLS_13 ? TLS1_3_VERSION
                                                                             : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
    /* idle connections give their record buffers back (thousands of idle
     * WebSockets); partial writes let the output queue advance per record */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"pullboxd", 8);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        snprintf(err, errlen, "tls-ciphers: no usable cipher in \"%s\"", cfg->tls_ciphers);
        goto fail;
    }
    if (SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1) {
        snprintf(err, errlen, "tls-ciphersuites: no usable suite in \"%s\"", cfg->tls_ciphersuites);
        goto fail;
    }
    if (!readable("tls-certificate", cfg->tls_certificate, err, errlen) ||
        !readable("tls-key", cfg->tls_key, err, errlen))
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1) {
        snprintf(err, errlen, "tls-certificate: %s: not a PEM certificate (%s)",
                 cfg->tls_certificate, tls_last_error());
        goto fail;
    }
    if (cfg->tls_chain[0]) {
        if (!readable("tls-chain", cfg->tls_chain, err, errlen))
            goto fail;
        FILE *f = fopen(cfg->tls_chain, "r");
        X509 *x;
        int n = 0;
        while (f && (x = PEM_read_X509(f, NULL, NULL, NULL))) {
            SSL_CTX_add_extra_chain_cert(ctx, x); /* takes ownership */
            n++;
        }
        if (f)
            fclose(f);
        ERR_clear_error(); /* the end of the file reads as an error */
        if (n == 0) {
            snprintf(err, errlen, "tls-chain: %s: no PEM certificate in it", cfg->tls_chain);
            goto fail;
        }
    }
    /* the key is read on its own first, so that a key of another
     * certificate is reported as that, not as an unreadable key */
    FILE *kf = fopen(cfg->tls_key, "r");
    EVP_PKEY *pkey = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    if (kf)
        fclose(kf);
    if (!pkey) {
        snprintf(err, errlen, "tls-key: %s: not a PEM private key (%s)", cfg->tls_key,
                 tls_last_error());
        goto fail;
    }
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (!cert || X509_check_private_key(cert, pkey) != 1) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        snprintf(err, errlen, "tls-key: %s does not match tls-certificate %s", cfg->tls_key,
                 cfg->tls_certificate);
        goto fail;
    }
    int used = SSL_CTX_use_PrivateKey(ctx, pkey);
    EVP_PKEY_free(pkey);
    if (used != 1) {
        snprintf(err, errlen, "tls-key: %s: %s", cfg->tls_key, tls_last_error());
        goto fail;
    }
    if (cert && X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        char when[64];
        fmt_time(X509_get0_notAfter(cert), when, sizeof when);
        snprintf(err, errlen, "tls-certificate: %s expired on %s", cfg->tls_certificate, when);
        goto fail;
    }
    if (cert && X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        char when[64];
        fmt_time(X509_get0_notBefore(cert), when, sizeof when);
        snprintf(err, errlen, "tls-certificate: %s is not valid before %s", cfg->tls_certificate,
                 when);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- first-boot certificate ---- */

static bool add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return false;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

static int write_pem_atomically(const char *path, mode_t mode, X509 *x, EVP_PKEY *k, char *err,
                                size_t errlen)
{
    /* a name nobody can guess, made here (O_EXCL) and not through a link,
     * its mode set on the descriptor: root runs this in folders it does
     * not own alone */
    char tmp[4096];
    uint8_t r[8];
    if (RAND_bytes(r, sizeof r) != 1 ||
        snprintf(tmp, sizeof tmp, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", path, r[0], r[1], r[2],
                 r[3], r[4], r[5], r[6], r[7]) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: no temporary name", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, mode) != 0) {
        close(fd);
        unlink(tmp);
        fd = -1;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        ok = 0;
    fclose(f);
    if (ok != 1 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write (%s)", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int tls_make_cert(const char *cert_path, const char *key_path, const char *names, int days,
                  char *err, size_t errlen)
{
    int rc = -1;
    X509 *x = NULL;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    char *list = xstrdup(names), *save = NULL;
    struct buf_like {
        char s[4096];
        size_t n;
    } san = {.n = 0};
    const char *cn = NULL;
    if (!k) {
        snprintf(err, errlen, "key generation failed: %s", tls_last_error());
        goto out;
    }
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        unsigned char a[16];
        bool ip = inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
        int w = snprintf(san.s + san.n, sizeof san.s - san.n, "%s%s:%s", san.n ? "," : "",
                         ip ? "IP" : "DNS", name);
        if (w < 0 || (size_t)w >= sizeof san.s - san.n) {
            snprintf(err, errlen, "too many names for one certificate");
            goto out;
        }
        san.n += (size_t)w;
        if (!cn)
            cn = name;
    }
    if (!cn) {
        snprintf(err, errlen, "no host name or address for the certificate");
        goto out;
    }
    x = X509_new();
    uint8_t serial[16];
    if (!x || RAND_bytes(serial, sizeof serial) != 1) {
        snprintf(err, errlen, "certificate: %s", tls_last_error());
        goto out;
    }
    serial[0] &= 0x7f; /* a positive serial */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
    X509_set_pubkey(x, k);
    X509_NAME *subj = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"Pullbox", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, subj);
    if (!add_ext(x, NID_subject_alt_name, san.s) ||
        !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, NID_subject_key_identifier, "hash") || X509_sign(x, k, EVP_sha256()) <= 0) {
        snprintf(err, errlen, "certificate: %s", tls_last_error());
        goto out;
    }
    if (write_pem_atomically(key_path, 0600, NULL, k, err, errlen) != 0 ||
        write_pem_atomically(cert_path, 0644, x, NULL, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    free(list);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

char *tls_default_names(void)
{
    char out[4096] = "";
    size_t n = 0;
    char host[256];
    if (gethostname(host, sizeof host) == 0 && host[0]) {
        host[sizeof host - 1] = '\0';
        n += (size_t)snprintf(out + n, sizeof out - n, "%s,", host);
    }
    n += (size_t)snprintf(out + n, sizeof out - n, "localhost");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr)
                continue;
            char a[INET6_ADDRSTRLEN];
            int fam = i->ifa_addr->sa_family;
            if (fam == AF_INET)
                inet_ntop(fam, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
            else if (fam == AF_INET6)
                inet_ntop(fam, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a, sizeof a);
            else
                continue;
            if (strchr(a, '%') || strncmp(a, "fe80", 4) == 0)
                continue; /* link-local addresses are no use in a certificate */
            if (n + strlen(a) + 2 < sizeof out)
                n += (size_t)snprintf(out + n, sizeof out - n, ",%s", a);
        }
        freeifaddrs(ifs);
    }
    return xstrdup(out);
}
