/* Unit tests for config-ui/lib/certcheck.c. The certificates are made here
 * with libcrypto: a root CA, an intermediate, leaves signed by it (right
 * name, wrong name, expired, not yet valid, expiring soon), a self-signed
 * one, keys of several types, an encrypted key. */
#include "certcheck.h"
#include "root.h"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define DAY 86400L

static long long now;

/* ---- making certificates ---- */

static EVP_PKEY *new_key(int type)
{
    EVP_PKEY *k = NULL;

    if (type == EVP_PKEY_RSA)
        k = EVP_RSA_gen(2048);
    else if (type == EVP_PKEY_EC)
        k = EVP_EC_gen("P-256");
    else
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k)
        abort();
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e || !X509_add_ext(x, e, -1))
        abort();
    X509_EXTENSION_free(e);
}

/* A certificate for cn with san (NULL: none), valid from now+from to
 * now+to, signed by issuer/ikey (NULL: self-signed). */
static X509 *new_cert(const char *cn, const char *san, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
                      long from, long to, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    const EVP_MD *md = EVP_PKEY_get_id(ikey ? ikey : key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now + from));
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now + to));
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
                               (const unsigned char *)"Pullbox Test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
    add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (san)
        add_ext(x, issuer, NID_subject_alt_name, san);
    if (X509_sign(x, ikey ? ikey : key, md) <= 0)
        abort();
    return x;
}

/* PEM text of certs (static buffers in rotation, enough for one call of
 * cert_check). */
static const char *pem_certs(X509 *a, X509 *b, X509 *c)
{
    static char bufs[4][16384];
    static int turn;
    char *out = bufs[turn++ % 4];
    BIO *bio = BIO_new(BIO_s_mem());
    X509 *xs[3] = {a, b, c};
    int n;

    for (int i = 0; i < 3; i++)
        if (xs[i])
            PEM_write_bio_X509(bio, xs[i]);
    n = BIO_read(bio, out, sizeof bufs[0] - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
    return out;
}

static const char *pem_key(EVP_PKEY *k, const char *pass)
{
    static char bufs[2][8192];
    static int turn;
    char *out = bufs[turn++ % 2];
    BIO *bio = BIO_new(BIO_s_mem());
    int n;

    if (pass)
        PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)pass);
    else
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    n = BIO_read(bio, out, sizeof bufs[0] - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
    return out;
}

/* ---- fixtures ---- */

static EVP_PKEY *root_key, *int_key, *leaf_key, *other_key;
static X509 *root_ca, *int_ca, *leaf, *other_int;

static void setup(void)
{
    now = (long long)time(NULL);
    root_key = new_key(EVP_PKEY_EC);
    int_key = new_key(EVP_PKEY_EC);
    leaf_key = new_key(EVP_PKEY_RSA);
    other_key = new_key(EVP_PKEY_EC);
    root_ca = new_cert("Test Root CA", NULL, root_key, NULL, NULL, -DAY, 3650 * DAY, true);
    int_ca =
        new_cert("Test Intermediate", NULL, int_key, root_ca, root_key, -DAY, 1000 * DAY, true);
    /* an intermediate with the same name but another key: its signature
     * on the leaf must not verify */
    other_int =
        new_cert("Test Intermediate", NULL, other_key, root_ca, root_key, -DAY, 1000 * DAY, true);
    leaf = new_cert("push.example.com", "DNS:push.example.com,DNS:*.push.example.org,IP:192.0.2.7",
                    leaf_key, int_ca, int_key, -DAY, 200 * DAY, false);
}

static bool has_warning(const struct cert_report *r, const char *needle)
{
    for (size_t i = 0; i < r->nwarnings; i++)
        if (strstr(r->warnings[i], needle))
            return true;
    return false;
}

static void show(const struct cert_report *r)
{
    if (r->error[0])
        note("error: %s", r->error);
    for (size_t i = 0; i < r->nwarnings; i++)
        note("warning: %s", r->warnings[i]);
}

/* ---- tests ---- */

static void test_good_chain(void)
{
    struct cert_report r;

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL),
               pem_certs(int_ca, root_ca, NULL), "push.example.com", now, &r);
    show(&r);
    ok(r.ok && r.error[0] == '\0', "leaf + key + intermediate + root: usable");
    ok(r.nwarnings == 0, "no warnings when the chain ends self-signed and the name is covered");
    ok(strcmp(r.subject, "O=Pullbox Test, CN=push.example.com") == 0, "subject");
    note("subject: %s / issuer: %s", r.subject, r.issuer);
    ok(strcmp(r.issuer, "O=Pullbox Test, CN=Test Intermediate") == 0, "issuer");
    ok(strcmp(r.names, "push.example.com *.push.example.org 192.0.2.7") == 0, "names");
    note("names: %s, not after %s", r.names, r.not_after);
    ok(!r.self_signed, "not self-signed");
    ok(r.not_after_unix >= now + 200 * DAY - 1 && r.not_after_unix <= now + 200 * DAY,
       "not_after_unix");
    ok(strlen(r.not_after) == 20 && strstr(r.not_after, " UTC"), "not_after in words");

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL), pem_certs(int_ca, NULL, NULL),
               "push.example.com", now, &r);
    show(&r);
    ok(r.ok, "chain without the root: usable");
    ok(r.nwarnings == 1 && has_warning(&r, "the chain ends at O=Pullbox Test, CN=Test Root CA, "
                                           "which browsers must already trust"),
       "warns where the chain ends");

    cert_check(pem_certs(leaf, int_ca, NULL), pem_key(leaf_key, NULL), NULL, "push.example.com",
               now, &r);
    ok(r.ok && has_warning(&r, "the chain ends at"),
       "a full-chain file in the certificate field is read as cert + chain");

    cert_check(pem_certs(leaf, NULL, NULL), NULL, pem_certs(int_ca, root_ca, NULL), NULL, now, &r);
    ok(r.ok, "without a key: the certificate and chain alone are checked");

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL), "\n  \n", "192.0.2.7", now,
               &r);
    show(&r);
    ok(r.ok && has_warning(&r, "no chain was given: the certificate is issued by O=Pullbox Test, "
                               "CN=Test Intermediate"),
       "a blank chain: warns that none was given");
    ok(!has_warning(&r, "does not cover"), "an IP address SAN covers the public address");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, NULL, "a.push.example.org", now, &r);
    ok(!has_warning(&r, "does not cover"), "a wildcard covers one label");
}

static void test_chain_errors(void)
{
    struct cert_report r;

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL), pem_certs(root_ca, NULL, NULL),
               NULL, now, &r);
    show(&r);
    ok(!r.ok, "the intermediate missing from the chain is an error");
    ok(strstr(r.error, "an intermediate certificate is missing: the certificate is issued by "
                       "O=Pullbox Test, CN=Test Intermediate, but the chain starts with "
                       "O=Pullbox Test, CN=Test Root CA") != NULL,
       "...naming the issuer and what the chain starts with");

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL),
               pem_certs(root_ca, int_ca, NULL), NULL, now, &r);
    ok(!r.ok && strstr(r.error, "an intermediate certificate is missing"),
       "chain in the wrong order: its first certificate is not the issuer");

    X509 *int2 =
        new_cert("Second Intermediate", NULL, int_key, root_ca, root_key, -DAY, DAY * 900, true);
    cert_check(pem_certs(leaf, NULL, NULL), NULL, pem_certs(int_ca, int2, NULL), NULL, now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "the chain is not in order: chain certificate 1 is issued by "
                                "O=Pullbox Test, CN=Test Root CA, but the next one is "
                                "O=Pullbox Test, CN=Second Intermediate"),
       "a later link broken: says which");
    X509_free(int2);

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL),
               pem_certs(other_int, root_ca, NULL), NULL, now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "is not signed by the key of O=Pullbox Test, CN=Test "
                                "Intermediate"),
       "same issuer name, another key: the signature check catches it");

    /* an issuer that is not a CA */
    EVP_PKEY *k = new_key(EVP_PKEY_EC);
    X509 *notca = new_cert("Not A CA", NULL, k, root_ca, root_key, -DAY, DAY * 900, false);
    X509 *under = new_cert("under.example.com", "DNS:under.example.com", leaf_key, notca, k, -DAY,
                           DAY * 90, false);
    cert_check(pem_certs(under, NULL, NULL), NULL, pem_certs(notca, root_ca, NULL), NULL, now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "is not a certificate authority"),
       "an issuer without CA:TRUE is refused");
    X509_free(under);
    X509_free(notca);
    EVP_PKEY_free(k);

    /* an expired intermediate */
    X509 *old_int =
        new_cert("Test Intermediate", NULL, int_key, root_ca, root_key, -900 * DAY, -2 * DAY, true);
    cert_check(pem_certs(leaf, NULL, NULL), NULL, pem_certs(old_int, root_ca, NULL), NULL, now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "the chain certificate O=Pullbox Test, CN=Test Intermediate "
                                "expired on"),
       "an expired intermediate is an error");
    X509_free(old_int);

    cert_check(pem_certs(leaf, NULL, NULL), NULL,
               "-----BEGIN CERTIFICATE-----\nAAAA\n"
               "-----END CERTIFICATE-----\n",
               NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the chain could not be read"), "a damaged chain");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, "just some text\n", NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the chain could not be read"), "a chain that has no certificate");
}

static void test_key(void)
{
    struct cert_report r;
    EVP_PKEY *k = new_key(EVP_PKEY_RSA);

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(k, NULL), pem_certs(int_ca, NULL, NULL), NULL,
               now, &r);
    show(&r);
    ok(!r.ok && strcmp(r.error, "the private key does not match the certificate") == 0,
       "another RSA key does not match");
    ok(strcmp(r.subject, "O=Pullbox Test, CN=push.example.com") == 0,
       "the report still names the certificate");

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, "secret"),
               pem_certs(int_ca, NULL, NULL), NULL, now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "the private key is protected by a passphrase"),
       "an encrypted PKCS#8 key is refused with a clear message");

    /* a traditional encrypted PEM (Proc-Type header) */
    BIO *b = BIO_new(BIO_s_mem());
    char trad[8192];
    PEM_write_bio_PrivateKey_traditional(b, leaf_key, EVP_aes_128_cbc(), (unsigned char *)"secret",
                                         6, NULL, NULL);
    int n = BIO_read(b, trad, sizeof trad - 1);
    trad[n > 0 ? n : 0] = '\0';
    BIO_free(b);
    cert_check(pem_certs(leaf, NULL, NULL), trad, NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "protected by a passphrase"), "...and a traditional one");

    cert_check(pem_certs(leaf, NULL, NULL),
               "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE "
               "KEY-----\n",
               NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the private key could not be read"), "a damaged key");
    cert_check(pem_certs(leaf, NULL, NULL), "", NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the private key could not be read"), "an empty key");

    /* other key types OpenSSL loads: EC and Ed25519 */
    EVP_PKEY *ec = new_key(EVP_PKEY_EC), *ed = new_key(EVP_PKEY_ED25519);
    X509 *cec =
        new_cert("ec.example.com", "DNS:ec.example.com", ec, NULL, NULL, -DAY, 100 * DAY, false);
    X509 *ced =
        new_cert("ed.example.com", "DNS:ed.example.com", ed, NULL, NULL, -DAY, 100 * DAY, false);
    cert_check(pem_certs(cec, NULL, NULL), pem_key(ec, NULL), NULL, "ec.example.com", now, &r);
    show(&r);
    ok(r.ok && r.nwarnings == 0 && r.self_signed, "self-signed EC certificate with its key");
    cert_check(pem_certs(ced, NULL, NULL), pem_key(ed, NULL), NULL, "ed.example.com", now, &r);
    ok(r.ok && r.self_signed, "self-signed Ed25519 certificate with its key");
    cert_check(pem_certs(ced, NULL, NULL), pem_key(ec, NULL), NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "does not match"), "Ed25519 certificate, EC key: no match");
    cert_check(pem_certs(cec, NULL, NULL), NULL, pem_certs(int_ca, NULL, NULL), NULL, now, &r);
    ok(r.ok && has_warning(&r, "self-signed: the chain is not needed"),
       "a chain next to a self-signed certificate is ignored with a warning");
    X509_free(cec);
    X509_free(ced);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(k);
}

static void test_dates_and_names(void)
{
    struct cert_report r;
    X509 *x;

    x = new_cert("old.example.com", "DNS:old.example.com", leaf_key, int_ca, int_key, -400 * DAY,
                 -3 * DAY, false);
    cert_check(pem_certs(x, NULL, NULL), pem_key(leaf_key, NULL), pem_certs(int_ca, NULL, NULL),
               "old.example.com", now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "the certificate expired on "), "expired: error");
    X509_free(x);

    x = new_cert("new.example.com", "DNS:new.example.com", leaf_key, int_ca, int_key, 5 * DAY,
                 400 * DAY, false);
    cert_check(pem_certs(x, NULL, NULL), pem_key(leaf_key, NULL), pem_certs(int_ca, NULL, NULL),
               "new.example.com", now, &r);
    show(&r);
    ok(!r.ok && strstr(r.error, "is not valid yet: it starts on "), "not yet valid: error");
    X509_free(x);

    x = new_cert("soon.example.com", "DNS:soon.example.com", leaf_key, int_ca, int_key, -60 * DAY,
                 12 * DAY + 3600, false);
    cert_check(pem_certs(x, NULL, NULL), pem_key(leaf_key, NULL), pem_certs(int_ca, root_ca, NULL),
               "soon.example.com", now, &r);
    show(&r);
    char date[16];
    time_t t = (time_t)(now + 12 * DAY + 3600);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
    char want[64];
    snprintf(want, sizeof want, "the certificate expires in 12 days (%s)", date);
    ok(r.ok && has_warning(&r, want), "12 days left: a warning with the date");
    cert_check(pem_certs(x, NULL, NULL), NULL, NULL, NULL, now + 13 * DAY, &r);
    ok(!r.ok && strstr(r.error, "expired"), "the same certificate checked 13 days later: expired");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, pem_certs(int_ca, root_ca, NULL), NULL,
               now + 171 * DAY, &r);
    ok(r.ok && has_warning(&r, "expires in 29 days"), "29 days left: warning");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, pem_certs(int_ca, root_ca, NULL), NULL,
               now + 169 * DAY, &r);
    ok(r.ok && r.nwarnings == 0, "31 days left: no warning");
    X509_free(x);

    cert_check(pem_certs(leaf, NULL, NULL), pem_key(leaf_key, NULL),
               pem_certs(int_ca, root_ca, NULL), "pull.example.net", now, &r);
    show(&r);
    ok(r.ok && has_warning(&r, "does not cover pull.example.net (it covers: push.example.com "
                               "*.push.example.org 192.0.2.7)"),
       "a name not covered: warning listing what is");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, NULL, "a.b.push.example.org", now, &r);
    ok(has_warning(&r, "does not cover a.b.push.example.org"), "a wildcard covers only one label");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, NULL, "192.0.2.8", now, &r);
    ok(has_warning(&r, "does not cover 192.0.2.8"), "another address is not covered");

    /* the common name alone does not cover (browsers ignore it) */
    x = new_cert("cn-only.example.com", NULL, leaf_key, NULL, NULL, -DAY, 100 * DAY, false);
    cert_check(pem_certs(x, NULL, NULL), NULL, NULL, "cn-only.example.com", now, &r);
    show(&r);
    ok(has_warning(&r, "does not cover cn-only.example.com (it covers: no names)"),
       "a certificate with only a common name: warning");
    X509_free(x);
}

static void test_garbage(void)
{
    struct cert_report r;
    char *big;

    cert_check("", NULL, NULL, NULL, now, &r);
    ok(!r.ok && strcmp(r.error, "no certificate was given") == 0, "empty certificate");
    cert_check("hello", NULL, NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the certificate could not be read: it should be a PEM file "
                                "starting with -----BEGIN CERTIFICATE-----"),
       "not PEM");
    cert_check(pem_key(leaf_key, NULL), NULL, NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the certificate could not be read"),
       "a key in the certificate field");
    big = malloc(CERT_PEM_MAX + 2);
    memset(big, 'A', CERT_PEM_MAX + 1);
    big[CERT_PEM_MAX + 1] = '\0';
    cert_check(big, NULL, NULL, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "larger than 64 KiB"), "over-size certificate refused");
    cert_check(pem_certs(leaf, NULL, NULL), NULL, big, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "larger than 64 KiB"), "over-size chain refused");
    free(big);

    /* ten certificates in the chain */
    char chain[16384 * 4] = "";
    for (int i = 0; i < 10; i++)
        strcat(chain, pem_certs(int_ca, NULL, NULL));
    cert_check(pem_certs(leaf, NULL, NULL), NULL, chain, NULL, now, &r);
    ok(!r.ok && strstr(r.error, "the chain has more than 8 certificates"), "too long a chain");
}

/* ---- installed ---- */

static char tmpdir[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_installed(void)
{
    struct cert_report r;
    char path[256];

    snprintf(tmpdir, sizeof tmpdir, "/tmp/certcheck-XXXXXX");
    if (!mkdtemp(tmpdir))
        abort();
    setenv("PULLBOX_ROOT", tmpdir, 1);
    snprintf(path, sizeof path, "%s/data", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/data/pullbox", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/data/pullbox/tls", tmpdir);
    mkdir(path, 0755);

    cert_check_installed("push.example.com", now, &r);
    note("%s", r.error);
    ok(!r.ok && strstr(r.error, "the installed certificate cannot be read") &&
           strstr(r.error, "tls-public.pem"),
       "nothing published: says the certificate cannot be read");

    /* what the wizard and the console read is the published copy of
     * cert.pem (the certificate, then its chain); the key is never read:
     * its match was checked when it was installed */
    put(PATH_TLS_KEY, pem_key(other_key, NULL));
    put(PATH_TLS_PUBLIC, pem_certs(leaf, NULL, NULL));
    cert_check_installed("push.example.com", now, &r);
    show(&r);
    ok(r.ok && has_warning(&r, "no chain was given"), "the certificate alone: usable");
    ok(strcmp(r.subject, "O=Pullbox Test, CN=push.example.com") == 0, "subject filled");
    ok(strlen(r.fingerprint) == 95 && r.fingerprint[2] == ':' && r.not_before[0] == '2',
       "the SHA-256 fingerprint and the start of validity are filled");

    put(PATH_TLS_PUBLIC, pem_certs(leaf, int_ca, root_ca));
    cert_check_installed("push.example.com", now, &r);
    ok(r.ok && r.nwarnings == 0, "with its chain after it: usable, no warnings");

    for (const char *const *p =
             (const char *const[]){PATH_TLS_PUBLIC, PATH_TLS_KEY, "data/pullbox/tls",
                                   "data/pullbox", "data", NULL};
         *p; p++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, *p);
        remove(path);
    }
    rmdir(tmpdir);
}

int main(void)
{
    setup();
    subtest("a good chain", test_good_chain);
    subtest("chain errors", test_chain_errors);
    subtest("keys", test_key);
    subtest("dates and names", test_dates_and_names);
    subtest("garbage and limits", test_garbage);
    subtest("the installed certificate", test_installed);
    X509_free(leaf);
    X509_free(int_ca);
    X509_free(other_int);
    X509_free(root_ca);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(int_key);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(other_key);
    return done_testing();
}
