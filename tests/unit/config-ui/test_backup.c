/* Unit tests for config-ui/lib/backup.c: a bundle made from a temporary
 * settings root opens to the same files; a wrong passphrase, a flipped
 * byte, a truncated file, garbage and over-size input are refused with
 * the words the admin sees. */
#include "backup.h"
#include "root.h"
#include "spool.h"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PASS "correct horse battery staple"
#define HEADER "PULLBOX-BACKUP 1\n"
#define HLEN (sizeof(HEADER) - 1)
#define SETTINGS_TEXT "hostname = pullbox\nsite.public-name = push.example.com\n"

static char tmpdir[64];

static void mkdirs(const char *rel)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    for (char *p = path + strlen(tmpdir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
}

static void put(const char *rel, const char *data, size_t len)
{
    char path[512];
    FILE *f;

    mkdirs(rel);
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    f = fopen(path, "w");
    if (!f || fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

static void put_s(const char *rel, const char *text)
{
    put(rel, text, strlen(text));
}

static void rm(const char *rel)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    unlink(path);
}

static bool value_is(const struct request *r, const char *key, const char *want, size_t wlen)
{
    size_t len;
    const char *v = request_get(r, key, &len);

    return v && len == wlen && memcmp(v, want, len) == 0;
}

/* A value with every byte but NUL, as a PEM or key file could hold. */
static char binary[255];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/backup-XXXXXX");
    if (!mkdtemp(tmpdir))
        abort();
    setenv("PULLBOX_ROOT", tmpdir, 1);
    for (int i = 0; i < 255; i++)
        binary[i] = (char)(i + 1);
    put_s(PATH_SETTINGS, SETTINGS_TEXT);
    put_s(PATH_SECRETS, "signature-key = 0123456789abcdef0123456789abcdef\n");
    put_s(PATH_TLS_CERT, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    put_s(PATH_TLS_KEY, "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
    put_s(PATH_AUTHORIZED_KEYS, "ssh-ed25519 AAAAC3Nza admin@laptop\n");
    put("data/ssh/dropbear_ed25519_host_key", binary, sizeof binary);
    /* no chain and no ECDSA host key: optional files are skipped */
}

static unsigned char *bundle;
static size_t bundle_len;

static void test_round_trip(void)
{
    struct request r;
    char err[256] = "";
    unsigned char *again;
    size_t again_len;

    ok(backup_create(PASS, &bundle, &bundle_len, err, sizeof err) == 0, "create");
    if (!bundle) {
        note("%s", err);
        return;
    }
    ok(bundle_len > HLEN + 44 && memcmp(bundle, HEADER, HLEN) == 0, "starts with the header line");
    ok(memmem(bundle, bundle_len, "signature-key", 13) == NULL &&
           memmem(bundle, bundle_len, "push.example.com", 16) == NULL,
       "no plaintext in the file");

    ok(backup_create(PASS, &again, &again_len, err, sizeof err) == 0 &&
           memcmp(again + HLEN, bundle + HLEN, 28) != 0,
       "a new salt and nonce each time");
    free(again);

    ok(backup_open(PASS, bundle, bundle_len, &r, err, sizeof err) == 0, "open");
    ok(strcmp(r.op, "restore") == 0, "op restore");
    ok(value_is(&r, BK_SETTINGS, SETTINGS_TEXT, strlen(SETTINGS_TEXT)), "settings.conf");
    ok(value_is(&r, BK_SECRETS, "signature-key = 0123456789abcdef0123456789abcdef\n", 49),
       "secrets.conf");
    ok(request_get(&r, BK_TLS_CERT, NULL) && strstr(request_get(&r, BK_TLS_CERT, NULL), "MIIB"),
       "tls/cert.pem");
    ok(request_get(&r, BK_TLS_KEY, NULL) && strstr(request_get(&r, BK_TLS_KEY, NULL), "MIIE"),
       "tls/key.pem");
    ok(value_is(&r, BK_AUTHORIZED_KEYS, "ssh-ed25519 AAAAC3Nza admin@laptop\n", 35),
       "authorized_keys");
    ok(value_is(&r, BK_SSH_ED25519, binary, sizeof binary), "a binary host key, byte for byte");
    ok(request_get(&r, BK_TLS_CHAIN, NULL) == NULL && request_get(&r, BK_SSH_ECDSA, NULL) == NULL,
       "missing optional files are absent");
    ok(r.nargs == 6, "six files");
    request_free(&r);
}

static void expect_refused(const char *what, const char *pass, const unsigned char *data,
                           size_t len, const char *want)
{
    struct request r;
    char err[256] = "";
    int rc = backup_open(pass, data, len, &r, err, sizeof err);

    note("%s: %s", what, err);
    ok(rc == -1 && strstr(err, want) != NULL && r.nargs == 0, what);
    request_free(&r);
}

static void test_refused(void)
{
    unsigned char *copy;

    if (!bundle)
        return;
    copy = malloc(bundle_len);
    expect_refused("wrong passphrase", "correct horse battery stapler", bundle, bundle_len,
                   "wrong passphrase or damaged file");

    struct {
        const char *what;
        size_t at;
        const char *want;
    } flips[] = {
        {"a flipped byte in the ciphertext", HLEN + 28 + 5, "wrong passphrase or damaged file"},
        {"a flipped byte in the salt", HLEN + 1, "wrong passphrase or damaged file"},
        {"a flipped byte in the nonce", HLEN + 20, "wrong passphrase or damaged file"},
        {"a flipped byte in the tag", bundle_len - 1, "wrong passphrase or damaged file"},
        {"a flipped byte in the magic", 3, "not a Pullbox backup"},
        {"another format version", HLEN - 2, "made by a newer Pullbox"},
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(copy, bundle, bundle_len);
        copy[flips[i].at] ^= 0x04;
        expect_refused(flips[i].what, PASS, copy, bundle_len, flips[i].want);
    }

    expect_refused("truncated by one byte", PASS, bundle, bundle_len - 1,
                   "wrong passphrase or damaged file");
    expect_refused("truncated to the header and salt", PASS, bundle, HLEN + 16,
                   "not a Pullbox backup: the file is truncated");
    expect_refused("truncated inside the header", PASS, bundle, 10, "not a Pullbox backup");
    expect_refused("an empty file", PASS, bundle, 0, "not a Pullbox backup");
    expect_refused("garbage", PASS, (const unsigned char *)"<html>hello</html>", 18,
                   "not a Pullbox backup");

    unsigned char *big = calloc(1, BACKUP_MAX_BYTES + 1);
    memcpy(big, bundle, bundle_len);
    expect_refused("over-size", PASS, big, BACKUP_MAX_BYTES + 1, "larger than 256 KiB");
    free(big);
    free(copy);
}

/* A bundle made here by hand, from the format backup.h documents (scrypt
 * N=2^15 r=8 p=1, AES-256-GCM, the header line as additional data), so the
 * documented format and the code agree, and a bundle that decrypts to
 * something other than a request is refused. */
static size_t seal(const char *plain, size_t plen, unsigned char *out)
{
    unsigned char key[32], *salt = out + HLEN, *nonce = salt + 16, *ct = nonce + 12;
    int n;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

    memcpy(out, HEADER, HLEN);
    memset(salt, 7, 16);
    memset(nonce, 9, 12);
    if (EVP_PBE_scrypt(PASS, strlen(PASS), salt, 16, 1 << 15, 8, 1, 64 << 20, key, 32) != 1 ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)HEADER, (int)HLEN) != 1 ||
        EVP_EncryptUpdate(ctx, ct, &n, (const unsigned char *)plain, (int)plen) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, ct + plen) != 1)
        abort();
    EVP_CIPHER_CTX_free(ctx);
    return HLEN + 16 + 12 + plen + 16;
}

static void test_format(void)
{
    unsigned char buf[4096];
    struct request r, in;
    char err[256] = "", *enc;
    size_t enclen, n;

    request_init(&in, "restore");
    request_add(&in, BK_SECRETS, "signature-key = abc\n", 21);
    if (request_encode(&in, &enc, &enclen) != 0 || enclen > 1000)
        abort();
    n = seal(enc, enclen, buf);
    ok(backup_open(PASS, buf, n, &r, err, sizeof err) == 0 &&
           value_is(&r, BK_SECRETS, "signature-key = abc\n", 21),
       "a bundle sealed by hand as backup.h says opens");
    request_free(&r);
    free(enc);
    request_free(&in);

    n = seal("this is not a request at all", 28, buf);
    expect_refused("decrypts to something else", PASS, buf, n,
                   "the backup opened but its content is not a Pullbox configuration");
}

static void test_create_refusals(void)
{
    char err[256] = "";
    unsigned char *out = (unsigned char *)"x";
    size_t len = 1;

    ok(backup_create("short", &out, &len, err, sizeof err) == -1 && out == NULL && len == 0,
       "a short passphrase is refused");
    note("%s", err);
    ok(strstr(err, "at least 10 characters") != NULL, "...saying how long it must be");
    ok(backup_check_passphrase("0123456789", err, sizeof err) == 0, "10 characters are enough");

    char *huge = malloc(100 * 1024);
    memset(huge, 'k', 100 * 1024);
    put(PATH_TLS_CHAIN, huge, 100 * 1024);
    put("data/ssh/dropbear_ecdsa_host_key", huge, 100 * 1024);
    put(PATH_TLS_KEY, huge, 100 * 1024);
    ok(backup_create(PASS, &out, &len, err, sizeof err) == -1 && out == NULL, "300 KiB of files");
    note("%s", err);
    ok(strstr(err, "too large for a backup") && strstr(err, "at most 256 KiB"),
       "...refused as too large");
    free(huge);
    rm(PATH_TLS_CHAIN);
    rm("data/ssh/dropbear_ecdsa_host_key");

    rm(PATH_SECRETS);
    ok(backup_create(PASS, &out, &len, err, sizeof err) == -1, "no secrets.conf: refused");
    note("%s", err);
    ok(strstr(err, "cannot back up secrets.conf") != NULL, "...naming the file");
}

static void cleanup(void)
{
    const char *files[] = {PATH_SETTINGS, PATH_TLS_CERT, PATH_TLS_KEY, PATH_AUTHORIZED_KEYS,
                           "data/ssh/dropbear_ed25519_host_key"};
    const char *dirs[] = {
        "data/ssh",         "data/home/admin/.ssh", "data/home/admin", "data/home",
        "data/pullbox/tls", "data/pullbox",         "data/etc",        "data"};
    char path[512];

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        rm(files[i]);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, dirs[i]);
        rmdir(path);
    }
    rmdir(tmpdir);
}

int main(void)
{
    setup();
    subtest("round trip", test_round_trip);
    subtest("refused files", test_refused);
    subtest("the documented format", test_format);
    subtest("create refusals", test_create_refusals);
    free(bundle);
    cleanup();
    return done_testing();
}
