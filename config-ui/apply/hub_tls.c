/* The hub's CA and its Redis certificate (hubca.h), made once when the
 * appliance becomes the hub: an ECDSA P-256 CA of its own, and a server
 * certificate it signs for HUBCA_REDIS_NAME and 127.0.0.1. Both last 20
 * years, as the CA is pinned by every node and a renewal would mean
 * visiting them all; the CA's key stays here (root only) so that the
 * Redis certificate can be made again under the same pin. */
#include "apply.h"

#include "fileio.h"
#include "hubca.h"
#include "root.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define HUB_TLS_DAYS 7300L

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = e && X509_add_ext(x, e, -1) == 1;

    X509_EXTENSION_free(e);
    return ok;
}

/* A certificate for key named cn, signed by issuer (NULL: by itself, a CA). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    X509V3_CTX ctx;
    bool ca = issuer == NULL, ok;

    if (!x || !serial)
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    ok = X509_set_version(x, 2) == 1 && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
         /* an hour back: a node whose clock is a little behind still accepts it */
         X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(x), HUB_TLS_DAYS * 86400L) &&
         X509_set_pubkey(x, key) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) == 1 &&
         X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer)) == 1;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca ? x : issuer, x, NULL, NULL, 0);
    ok = ok && add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
         (ca ? add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                   add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")
             : add_ext(x, &ctx, NID_authority_key_identifier, "keyid") &&
                   add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
                   add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") &&
                   add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") &&
                   add_ext(x, &ctx, NID_subject_alt_name,
                           "DNS:" HUBCA_REDIS_NAME ",IP:127.0.0.1,IP:::1")) &&
         X509_sign(x, ca ? key : issuer_key, EVP_sha256()) > 0;
    BN_free(serial);
    if (ok)
        return x;
fail:
    BN_free(serial);
    X509_free(x);
    return NULL;
}

/* PEM of a certificate (or two) or a key, into a file by the atomic write */
static int write_pem(const char *rel, X509 *cert, X509 *cert2, EVP_PKEY *key, unsigned mode,
                     long gid, char *err, size_t errlen)
{
    char path[PATH_MAX], *data;
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;

    if (!b || (cert && PEM_write_bio_X509(b, cert) != 1) ||
        (cert2 && PEM_write_bio_X509(b, cert2) != 1) ||
        (key && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)) {
        snprintf(err, errlen, "%s: cannot encode it", rel);
    } else {
        long len = BIO_get_mem_data(b, &data);
        root_path(path, sizeof(path), rel);
        rc = file_write_atomic_owned(path, data, (size_t)len, mode, 0, gid, err, errlen);
    }
    BIO_free(b);
    return rc;
}

static bool present(const char *rel)
{
    char path[PATH_MAX];

    return root_path(path, sizeof(path), rel) == 0 && access(path, F_OK) == 0;
}

int hub_tls_ensure(const struct settings *st, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct group *g = root_is_system() ? getgrnam("redis") : NULL;
    long redis_gid = g ? (long)g->gr_gid : -1;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    int rc = -1, dfd;

    if (strcmp(st->v[S_CLUSTER_ROLE], "hub") != 0 ||
        (present(PATH_HUBCA_CERT) && present(PATH_HUBCA_REDIS_CERT) &&
         present(PATH_HUBCA_REDIS_KEY)))
        return 0;
    /* data/etc is root's; the folder is made (or put right) by descriptor */
    root_path(path, sizeof(path), "data/etc");
    dfd = file_open_dir(path);
    if (dfd < 0) {
        snprintf(err, errlen, "data/etc: %s", strerror(errno));
        return -1;
    }
    int sub = file_secure_at(dfd, "redis-tls", true, 0, 0, 0755, err, errlen);
    close(dfd);
    if (sub < 0)
        return -1;
    close(sub);
    ca_key = EVP_EC_gen("P-256");
    key = EVP_EC_gen("P-256");
    if (ca_key && key)
        ca = make_cert(ca_key, "Pullbox cluster hub CA", NULL, NULL);
    if (ca)
        cert = make_cert(key, HUBCA_REDIS_NAME, ca, ca_key);
    if (!cert) {
        snprintf(err, errlen, "cannot make the hub's Redis certificate");
        goto out;
    }
    /* the keys first: a certificate without its key is never left alone */
    if (write_pem(PATH_HUBCA_KEY, NULL, NULL, ca_key, 0600, 0, err, errlen) != 0 ||
        write_pem(PATH_HUBCA_REDIS_KEY, NULL, NULL, key, 0640, redis_gid, err, errlen) != 0 ||
        write_pem(PATH_HUBCA_REDIS_CERT, cert, ca, NULL, 0644, 0, err, errlen) != 0 ||
        write_pem(PATH_HUBCA_CERT, ca, NULL, NULL, 0644, 0, err, errlen) != 0)
        goto out;
    rc = 1;
out:
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return rc;
}
