/* Backup bundles: the appliance's configuration files in one request
 * (spool.h encoding, op "restore"), encrypted with AES-256-GCM under a key
 * that scrypt derives from the admin's passphrase. The header line is the
 * GCM additional data, so a file whose header was edited does not open. */
#include "backup.h"

#include "fileio.h"
#include "root.h"
#include "spool.h"
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define BACKUP_MAGIC "PULLBOX-BACKUP "
#define BACKUP_HEADER BACKUP_MAGIC "1\n"
#define BACKUP_HEADER_LEN (sizeof(BACKUP_HEADER) - 1)
#define BACKUP_SALT_LEN 16
#define BACKUP_NONCE_LEN 12
#define BACKUP_TAG_LEN 16
#define BACKUP_KEY_LEN 32
#define BACKUP_OVERHEAD (BACKUP_HEADER_LEN + BACKUP_SALT_LEN + BACKUP_NONCE_LEN + BACKUP_TAG_LEN)

/* scrypt N=2^15, r=8, p=1 needs 128*r*N = 32 MiB; maxmem leaves room for
 * libcrypto's own bookkeeping on top of that. */
#define BACKUP_SCRYPT_N (1u << 15)
#define BACKUP_SCRYPT_R 8
#define BACKUP_SCRYPT_P 1
#define BACKUP_SCRYPT_MAXMEM (64u * 1024 * 1024)

const struct backup_file backup_files[BACKUP_NFILES] = {
    {BK_SETTINGS, PATH_SETTINGS, 0640, false},
    {BK_SECRETS, PATH_SECRETS, 0640, true},
    {BK_TLS_CERT, PATH_TLS_CERT, 0644, false},
    {BK_TLS_KEY, PATH_TLS_KEY, 0600, false},
    {BK_TLS_CHAIN, PATH_TLS_CHAIN, 0644, false},
    {BK_AUTHORIZED_KEYS, PATH_AUTHORIZED_KEYS, 0600, false},
    {BK_SSH_ED25519, "data/" BK_SSH_ED25519, 0600, false},
    {BK_SSH_ECDSA, "data/" BK_SSH_ECDSA, 0600, false},
};

int backup_check_passphrase(const char *passphrase, char *err, size_t errlen)
{
    if (strlen(passphrase) < BACKUP_PASSPHRASE_MIN) {
        snprintf(err, errlen,
                 "The passphrase is too short: use at least %d characters. It is the only "
                 "protection of the signing key and the certificate's private key in the file.",
                 BACKUP_PASSPHRASE_MIN);
        return -1;
    }
    return 0;
}

/* ---- crypto ---- */

static int backup_derive(const char *passphrase, const unsigned char *salt,
                         unsigned char key[BACKUP_KEY_LEN])
{
    return EVP_PBE_scrypt(passphrase, strlen(passphrase), salt, BACKUP_SALT_LEN, BACKUP_SCRYPT_N,
                          BACKUP_SCRYPT_R, BACKUP_SCRYPT_P, BACKUP_SCRYPT_MAXMEM, key,
                          BACKUP_KEY_LEN) == 1
               ? 0
               : -1;
}

/* AES-256-GCM over in[0..len) into out (same length), with the header as
 * additional data. enc: tag is written; !enc: tag is checked. Returns 0,
 * or -1 (for decryption: the tag did not match). */
static int backup_gcm(bool enc, const unsigned char key[BACKUP_KEY_LEN], const unsigned char *nonce,
                      const unsigned char *in, size_t len, unsigned char *out,
                      unsigned char tag[BACKUP_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, rc = -1;

    if (!ctx || len > (size_t)BACKUP_MAX_BYTES)
        goto done;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, BACKUP_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)BACKUP_HEADER,
                         (int)BACKUP_HEADER_LEN) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BACKUP_TAG_LEN, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
        goto done;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, BACKUP_TAG_LEN, tag) != 1)
        goto done;
    rc = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* ---- create ---- */

/* Adds every file of backup_files[] found under the root to r. Returns 0,
 * or -1 with err (a required file missing, a file unreadable or too big). */
static int backup_collect(struct request *r, char *err, size_t errlen)
{
    for (size_t i = 0; i < BACKUP_NFILES; i++) {
        const struct backup_file *f = &backup_files[i];
        char path[4096], ferr[256];
        char *data = NULL;
        long n;

        if (root_path(path, sizeof path, f->path) != 0) {
            snprintf(err, errlen, "the settings folder path is too long");
            return -1;
        }
        n = file_read_all(path, BACKUP_MAX_BYTES, &data, ferr, sizeof ferr);
        if (n < 0 && errno == ENOENT && !f->required)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot back up %s: %s", f->name, ferr);
            return -1;
        }
        if (request_add(r, f->name, data, (size_t)n) != 0) {
            explicit_bzero(data, (size_t)n);
            free(data);
            snprintf(err, errlen, "cannot back up %s: the file is too large", f->name);
            return -1;
        }
        explicit_bzero(data, (size_t)n);
        free(data);
    }
    return 0;
}

int backup_create(const char *passphrase, unsigned char **out, size_t *outlen, char *err,
                  size_t errlen)
{
    struct request r;
    unsigned char key[BACKUP_KEY_LEN];
    unsigned char *buf = NULL, *p;
    char *plain = NULL;
    size_t plen = 0, total;
    int rc = -1;

    *out = NULL;
    *outlen = 0;
    if (backup_check_passphrase(passphrase, err, errlen) != 0)
        return -1;
    request_init(&r, "restore");
    if (backup_collect(&r, err, errlen) != 0)
        goto done;
    if (request_encode(&r, &plain, &plen) != 0) {
        snprintf(err, errlen, "cannot encode the backup");
        goto done;
    }
    total = BACKUP_OVERHEAD + plen;
    if (total > BACKUP_MAX_BYTES) {
        snprintf(err, errlen,
                 "the configuration is too large for a backup (%zu KiB, at most %d KiB)",
                 (total + 1023) / 1024, BACKUP_MAX_BYTES / 1024);
        goto done;
    }
    buf = malloc(total);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    p = buf;
    memcpy(p, BACKUP_HEADER, BACKUP_HEADER_LEN);
    p += BACKUP_HEADER_LEN;
    if (token_random(p, BACKUP_SALT_LEN + BACKUP_NONCE_LEN) != 0) {
        snprintf(err, errlen, "cannot read random bytes: %s", strerror(errno));
        goto done;
    }
    if (backup_derive(passphrase, p, key) != 0) {
        snprintf(err, errlen, "cannot derive the key from the passphrase (scrypt failed)");
        goto done;
    }
    p += BACKUP_SALT_LEN;
    if (backup_gcm(true, key, p, (unsigned char *)plain, plen, p + BACKUP_NONCE_LEN,
                   p + BACKUP_NONCE_LEN + plen) != 0) {
        snprintf(err, errlen, "cannot encrypt the backup");
        goto done;
    }
    *out = buf;
    *outlen = total;
    buf = NULL;
    rc = 0;
done:
    explicit_bzero(key, sizeof key);
    if (plain) {
        explicit_bzero(plain, plen);
        free(plain);
    }
    free(buf);
    request_free(&r);
    return rc;
}

/* ---- open ---- */

int backup_open(const char *passphrase, const unsigned char *data, size_t len, struct request *r,
                char *err, size_t errlen)
{
    const unsigned char *salt, *nonce, *ct, *tag;
    unsigned char key[BACKUP_KEY_LEN], tagbuf[BACKUP_TAG_LEN];
    unsigned char *plain = NULL;
    size_t ctlen;
    char derr[256];
    int rc = -1;

    request_init(r, "restore");
    if (len > BACKUP_MAX_BYTES) {
        snprintf(err, errlen, "not a Pullbox backup: the file is larger than %d KiB",
                 BACKUP_MAX_BYTES / 1024);
        return -1;
    }
    if (len < sizeof(BACKUP_MAGIC) - 1 || memcmp(data, BACKUP_MAGIC, sizeof(BACKUP_MAGIC) - 1)) {
        snprintf(err, errlen,
                 "not a Pullbox backup: the file does not start with "
                 "\"PULLBOX-BACKUP\"");
        return -1;
    }
    if (len < BACKUP_HEADER_LEN || memcmp(data, BACKUP_HEADER, BACKUP_HEADER_LEN) != 0) {
        snprintf(err, errlen,
                 "not a Pullbox backup of a format this version reads (made by a "
                 "newer Pullbox?)");
        return -1;
    }
    if (len < BACKUP_OVERHEAD) {
        snprintf(err, errlen, "not a Pullbox backup: the file is truncated");
        return -1;
    }
    salt = data + BACKUP_HEADER_LEN;
    nonce = salt + BACKUP_SALT_LEN;
    ct = nonce + BACKUP_NONCE_LEN;
    ctlen = len - BACKUP_OVERHEAD;
    tag = ct + ctlen;
    memcpy(tagbuf, tag, BACKUP_TAG_LEN);

    plain = malloc(ctlen + 1);
    if (!plain) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (backup_derive(passphrase, salt, key) != 0) {
        snprintf(err, errlen, "cannot derive the key from the passphrase (scrypt failed)");
        goto done;
    }
    if (backup_gcm(false, key, nonce, ct, ctlen, plain, tagbuf) != 0) {
        snprintf(err, errlen, "wrong passphrase or damaged file");
        goto done;
    }
    plain[ctlen] = '\0';
    if (request_decode((const char *)plain, ctlen, r, derr, sizeof derr) != 0 ||
        strcmp(r->op, "restore") != 0) {
        request_free(r);
        request_init(r, "restore");
        snprintf(err, errlen, "the backup opened but its content is not a Pullbox configuration");
        goto done;
    }
    rc = 0;
done:
    explicit_bzero(key, sizeof key);
    explicit_bzero(plain, ctlen + 1);
    free(plain);
    return rc;
}

int backup_request(const char *passphrase, double timeout, unsigned char **out, size_t *outlen,
                   char *err, size_t errlen)
{
    struct request req;
    struct result res;
    char id[64];
    int rc;

    *out = NULL;
    *outlen = 0;
    request_init(&req, "backup");
    rc = request_add(&req, "passphrase", passphrase, strlen(passphrase));
    if (rc == 0)
        rc = spool_submit(&req, id, sizeof(id), err, errlen);
    request_free(&req);
    if (rc != 0 || spool_wait(id, timeout, &res, err, errlen) != 0)
        return -1;
    if (!res.ok) {
        snprintf(err, errlen, "%s", res.message);
        return -1;
    }
    return spool_take(id, "bak", BACKUP_MAX_BYTES, out, outlen, err, errlen);
}
