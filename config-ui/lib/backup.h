/* Backup and restore: the whole configuration of an appliance (settings,
 * secrets, TLS certificate and key, authorized SSH keys, SSH host keys) in
 * one file, encrypted with a passphrase the admin chooses: scrypt
 * (N=2^15, r=8, p=1) derives an AES-256-GCM key; the file is
 *   "PULLBOX-BACKUP 1\n" salt(16) nonce(12) ciphertext tag(16)
 * and the plaintext is a request (spool.h encoding) whose keys are the names
 * below, so a restore is an ordinary "restore" request that the apply
 * service validates like any other. */
#ifndef PULLBOX_CFG_BACKUP_H
#define PULLBOX_CFG_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

struct request;

#define BACKUP_MAX_BYTES (256 * 1024)
#define BACKUP_PASSPHRASE_MIN 10

/* Names of the files in a bundle (request keys). */
#define BK_SETTINGS "settings.conf"
#define BK_SECRETS "secrets.conf"
#define BK_TLS_CERT "tls/cert.pem"
#define BK_TLS_KEY "tls/key.pem"
#define BK_TLS_CHAIN "tls/chain.pem"
#define BK_AUTHORIZED_KEYS "authorized_keys"
#define BK_SSH_ED25519 "ssh/dropbear_ed25519_host_key"
#define BK_SSH_ECDSA "ssh/dropbear_ecdsa_host_key"

/* Where each bundle file lives under the root, and the mode the apply
 * service gives it on restore. Only "secrets.conf" is required in a backup;
 * the others are skipped when missing. */
struct backup_file {
    const char *name; /* BK_* */
    const char *path; /* under the root: PATH_SECRETS, "data/ssh/..." */
    unsigned mode;
    bool required;
};
#define BACKUP_NFILES 8
extern const struct backup_file backup_files[BACKUP_NFILES];

/* Refuses passphrases shorter than BACKUP_PASSPHRASE_MIN; err says why.
 * 0 or -1. */
int backup_check_passphrase(const char *passphrase, char *err, size_t errlen);

/* Reads the files under the root into a new bundle and encrypts it.
 * *out is malloc'ed. 0 or -1 with err. */
int backup_create(const char *passphrase, unsigned char **out, size_t *outlen, char *err,
                  size_t errlen);
/* The tools' way to a backup: asks the apply service (op "backup"), which
 * may read every file, and takes the encrypted result. 0 or -1 with err. */
int backup_request(const char *passphrase, double timeout, unsigned char **out, size_t *outlen,
                   char *err, size_t errlen);
/* Decrypts and decodes a backup into r (op "restore"). A wrong passphrase
 * or a damaged file: -1 with err saying which ("wrong passphrase or damaged
 * file", "not a Pullbox backup: ..."). r is initialized on every path:
 * request_free() it. */
int backup_open(const char *passphrase, const unsigned char *data, size_t len,
                struct request *r, char *err, size_t errlen);

#endif
