/* Checks of a certificate, its key and its chain before they are installed
 * (the wizard's and the console's upload, the apply service again), and of
 * the installed one (status pages). Everything is done with libcrypto on
 * the PEM text; nothing is written. The first error wins; warnings are
 * collected up to the report's room. */
#include "certcheck.h"

#include "fileio.h"
#include "root.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* More certificates than this in one upload is not a chain anyone needs
 * (public CAs use one or two intermediates). */
#define CERT_CHAIN_MAX 8
#define CERT_WARN_DAYS 30

/* ---- report helpers ---- */

__attribute__((format(printf, 2, 3))) static void cert_error(struct cert_report *rep,
                                                             const char *fmt, ...)
{
    va_list ap;

    if (rep->error[0])
        return; /* the first error is the one the admin must fix first */
    va_start(ap, fmt);
    vsnprintf(rep->error, sizeof rep->error, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void cert_warn(struct cert_report *rep,
                                                            const char *fmt, ...)
{
    va_list ap;
    size_t max = sizeof rep->warnings / sizeof rep->warnings[0];

    if (rep->nwarnings == max)
        return;
    va_start(ap, fmt);
    vsnprintf(rep->warnings[rep->nwarnings++], sizeof rep->warnings[0], fmt, ap);
    va_end(ap);
}

/* ---- formatting ---- */

/* "CN=push.example.com, O=Example": the one-line form without the spaces
 * around '=', UTF-8 shown as is. */
static void cert_name(const X509_NAME *n, char *out, size_t outlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    unsigned long flags = (XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ & ~ASN1_STRFLGS_ESC_MSB);
    int len;

    out[0] = '\0';
    if (!b)
        return;
    if (X509_NAME_print_ex(b, n, 0, flags) >= 0) {
        len = BIO_read(b, out, (int)outlen - 1);
        out[len > 0 ? len : 0] = '\0';
    }
    BIO_free(b);
}

/* Unix time of an ASN1_TIME, or 0 if it cannot be read. */
static long long cert_time(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (long long)timegm(&tm);
}

/* "2027-11-29 03:00 UTC" (with_time) or "2027-11-29". */
static void cert_date(long long when, bool with_time, char *out, size_t outlen)
{
    time_t t = (time_t)when;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, outlen, with_time ? "%Y-%m-%d %H:%M UTC" : "%Y-%m-%d", &tm);
}

/* SHA-256 of the certificate's DER in the "AB:12:..." form browsers show. */
static void cert_fingerprint(X509 *x, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    size_t used = 0;

    out[0] = '\0';
    if (X509_digest(x, EVP_sha256(), md, &n) != 1)
        return;
    for (unsigned i = 0; i < n && used + 4 <= outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%02X", i ? ":" : "", md[i]);
}

/* The DNS and IP subject alternative names, space-separated. */
static void cert_alt_names(X509 *x, char *out, size_t outlen)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char one[INET6_ADDRSTRLEN + 256];

        one[0] = '\0';
        if (g->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
            int n = ASN1_STRING_length(g->d.dNSName);

            snprintf(one, sizeof one, "%.*s", n > 255 ? 255 : n, (const char *)s);
        } else if (g->type == GEN_IPADD) {
            int n = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);

            if (n == 4 || n == 16)
                inet_ntop(n == 4 ? AF_INET : AF_INET6, a, one, sizeof one);
        }
        if (one[0] && used + strlen(one) + 2 <= outlen) {
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? " " : "", one);
        }
    }
    GENERAL_NAMES_free(gens);
}

/* ---- parsing ---- */

static bool cert_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return false;
    return true;
}

/* Reads every certificate of pem into out[] (appending at *n). Returns 0,
 * or -1 when a block does not parse or there are too many; text between
 * blocks is ignored, as openssl does. */
static int cert_read_all(const char *pem, X509 **out, size_t *n, size_t max)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    int rc = 0;

    if (!b)
        return -1;
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

        if (!x) {
            unsigned long e = ERR_peek_last_error();

            /* the end of the text is "no start line"; anything else is a
             * damaged block */
            if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
                rc = -1;
            break;
        }
        if (*n == max) {
            X509_free(x);
            rc = -1;
            break;
        }
        out[(*n)++] = x;
    }
    ERR_clear_error();
    BIO_free(b);
    return rc;
}

/* A passphrase callback that offers none, so an encrypted key fails to load
 * instead of prompting on the terminal. */
static int cert_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

static EVP_PKEY *cert_read_key(const char *pem, struct cert_report *rep)
{
    BIO *b;
    EVP_PKEY *k;

    if (strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
        strstr(pem, "Proc-Type: 4,ENCRYPTED")) {
        cert_error(rep, "the private key is protected by a passphrase: upload it without one "
                        "(openssl pkey -in key.pem -out key-plain.pem)");
        return NULL;
    }
    b = BIO_new_mem_buf(pem, -1);
    k = b ? PEM_read_bio_PrivateKey(b, NULL, cert_no_passphrase, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (!k)
        cert_error(rep, "the private key could not be read: it should be a PEM file starting with "
                        "-----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)");
    return k;
}

/* ---- checks ---- */

static bool cert_is_self_signed(X509 *x)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    bool self = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 && k &&
                X509_verify(x, k) == 1;

    ERR_clear_error();
    return self;
}

/* Validity window of one certificate; what names it in the messages
 * ("the certificate", "the chain certificate CN=..."). */
static void cert_check_dates(X509 *x, const char *what, long long now, struct cert_report *rep,
                             bool warn_soon)
{
    long long nb = cert_time(X509_get0_notBefore(x)), na = cert_time(X509_get0_notAfter(x));
    char date[32];

    if (na && na <= now) {
        cert_date(na, true, date, sizeof date);
        cert_error(rep, "%s expired on %s", what, date);
    } else if (nb && nb > now) {
        cert_date(nb, true, date, sizeof date);
        cert_error(rep,
                   "%s is not valid yet: it starts on %s (is the clock of this appliance "
                   "right?)",
                   what, date);
    } else if (warn_soon && na && na - now < CERT_WARN_DAYS * 86400LL) {
        long long days = (na - now) / 86400;

        cert_date(na, false, date, sizeof date);
        cert_warn(rep, "%s expires in %lld day%s (%s)", what, days, days == 1 ? "" : "s", date);
    }
}

/* Chain order and signatures: list[i] must be issued (name and signature)
 * by list[i + 1]. */
static void cert_check_chain(X509 **list, size_t n, long long now, struct cert_report *rep)
{
    char a[256], b[256], what[300];

    for (size_t i = 0; i + 1 < n; i++) {
        X509 *x = list[i], *up = list[i + 1];
        EVP_PKEY *k = X509_get0_pubkey(up);

        cert_name(X509_get_issuer_name(x), a, sizeof a);
        cert_name(X509_get_subject_name(up), b, sizeof b);
        if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(up)) != 0) {
            if (i == 0)
                cert_error(rep,
                           "an intermediate certificate is missing: the certificate is "
                           "issued by %s, but the chain starts with %s",
                           a, b);
            else
                cert_error(rep,
                           "the chain is not in order: chain certificate %zu is issued by "
                           "%s, but the next one is %s",
                           i, a, b);
            return;
        }
        if (!k || X509_verify(x, k) != 1) {
            ERR_clear_error();
            cert_error(rep,
                       "%s%s is not signed by the key of %s (the chain belongs to another "
                       "certificate)",
                       i == 0 ? "the certificate" : "the chain certificate ", i == 0 ? "" : a, b);
            return;
        }
        if (X509_check_ca(up) == 0) {
            cert_error(rep, "%s in the chain is not a certificate authority", b);
            return;
        }
        snprintf(what, sizeof what, "the chain certificate %s", b);
        cert_check_dates(up, what, now, rep, true);
    }
    if (n > 1 && !cert_is_self_signed(list[n - 1])) {
        cert_name(X509_get_issuer_name(list[n - 1]), a, sizeof a);
        cert_warn(rep, "the chain ends at %s, which browsers must already trust", a);
    }
}

/* public_name against the certificate's names, as a browser would match
 * it: subject alternative names only (browsers ignore the common name). */
static void cert_check_name(X509 *x, const char *name, struct cert_report *rep)
{
    unsigned char addr[16];
    int match;

    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        match = X509_check_ip_asc(x, name, 0);
    else
        match = X509_check_host(x, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);
    ERR_clear_error();
    if (match != 1)
        cert_warn(rep,
                  "the certificate does not cover %s (it covers: %s): browsers will refuse it for "
                  "that name",
                  name, rep->names[0] ? rep->names : "no names");
}

void cert_check(const char *cert_pem, const char *key_pem, const char *chain_pem,
                const char *public_name, long long now, struct cert_report *rep)
{
    X509 *list[CERT_CHAIN_MAX + 1];
    size_t n = 0;
    EVP_PKEY *key = NULL;

    memset(rep, 0, sizeof *rep);
    if (!cert_pem || cert_blank(cert_pem)) {
        cert_error(rep, "no certificate was given");
        goto done;
    }
    if (strlen(cert_pem) > CERT_PEM_MAX || (key_pem && strlen(key_pem) > CERT_PEM_MAX) ||
        (chain_pem && strlen(chain_pem) > CERT_PEM_MAX)) {
        cert_error(rep, "a file is larger than %d KiB: that is not a certificate, key or chain",
                   CERT_PEM_MAX / 1024);
        goto done;
    }
    /* A "full chain" file in the certificate field (certbot's fullchain.pem)
     * is accepted: the certificates after the first are the chain. */
    if (cert_read_all(cert_pem, list, &n, CERT_CHAIN_MAX + 1) != 0 || n == 0) {
        cert_error(rep, "the certificate could not be read: it should be a PEM file starting "
                        "with -----BEGIN CERTIFICATE-----");
        goto done;
    }
    if (chain_pem && !cert_blank(chain_pem)) {
        size_t before = n;

        if (cert_read_all(chain_pem, list, &n, CERT_CHAIN_MAX + 1) != 0 || n == before) {
            cert_error(rep,
                       n > CERT_CHAIN_MAX ? "the chain has more than %d certificates"
                                          : "the chain could not be read: it should be "
                                            "one or more PEM certificates (limit %d)",
                       CERT_CHAIN_MAX);
            goto done;
        }
    }

    cert_name(X509_get_subject_name(list[0]), rep->subject, sizeof rep->subject);
    cert_name(X509_get_issuer_name(list[0]), rep->issuer, sizeof rep->issuer);
    cert_alt_names(list[0], rep->names, sizeof rep->names);
    rep->not_after_unix = cert_time(X509_get0_notAfter(list[0]));
    cert_date(rep->not_after_unix, true, rep->not_after, sizeof rep->not_after);
    cert_date(cert_time(X509_get0_notBefore(list[0])), true, rep->not_before,
              sizeof rep->not_before);
    cert_fingerprint(list[0], rep->fingerprint, sizeof rep->fingerprint);
    rep->self_signed = cert_is_self_signed(list[0]);

    if (key_pem) {
        key = cert_read_key(key_pem, rep);
        if (key && X509_check_private_key(list[0], key) != 1)
            cert_error(rep, "the private key does not match the certificate");
        ERR_clear_error();
    }

    if (rep->self_signed && n > 1)
        cert_warn(rep, "the certificate is self-signed: the chain is not needed and is ignored");
    else if (n > 1)
        cert_check_chain(list, n, now, rep);
    else if (!rep->self_signed)
        cert_warn(rep,
                  "no chain was given: the certificate is issued by %s, which browsers must "
                  "already trust (if that is an intermediate CA, add the chain file)",
                  rep->issuer);

    cert_check_dates(list[0], "the certificate", now, rep, true);
    if (public_name && public_name[0])
        cert_check_name(list[0], public_name, rep);

done:
    for (size_t i = 0; i < n; i++)
        X509_free(list[i]);
    EVP_PKEY_free(key);
    rep->ok = rep->error[0] == '\0';
}

/* Reads one installed file under the root; a missing optional file gives
 * "" (the chain), a missing required one an error in rep naming what.
 * NULL on error. */
static char *cert_read_installed(const char *rel, const char *what, bool optional,
                                 struct cert_report *rep)
{
    char path[4096], err[256];
    char *data = NULL;

    if (root_path(path, sizeof path, rel) != 0) {
        cert_error(rep, "the settings folder path is too long");
        return NULL;
    }
    if (file_read_all(path, CERT_PEM_MAX, &data, err, sizeof err) < 0) {
        if (optional && errno == ENOENT)
            return strdup("");
        cert_error(rep, "the installed %s cannot be read: %s", what, err);
        return NULL;
    }
    return data;
}

void cert_check_installed(const char *public_name, long long now, struct cert_report *rep)
{
    char *cert;

    memset(rep, 0, sizeof *rep);
    /* cert.pem as installed: the certificate, then its chain */
    cert = cert_read_installed(PATH_TLS_PUBLIC, "certificate", false, rep);
    if (cert)
        cert_check(cert, NULL, "", public_name, now, rep);
    free(cert);
}
