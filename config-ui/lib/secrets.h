/* Secrets of this appliance (PATH_SECRETS, "key = value" lines, mode 0640
 * root:config): the signing key ring, the admin's password hash and the
 * cluster's Redis passwords. Only the apply service writes this file; the
 * wizard and the console read it (they show the signing key and the hub's
 * Redis password, and check the admin's password). */
#ifndef PULLBOX_CFG_SECRETS_H
#define PULLBOX_CFG_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#define SECRET_KEY_MAX 129 /* signing keys: 64 hex digits today, up to 128 accepted */
#define SECRET_HASH_MAX 256

struct secrets {
    char signature_key[SECRET_KEY_MAX];          /* "signature-key" */
    char signature_key_previous[SECRET_KEY_MAX]; /* "signature-key-previous" ("" = none) */
    long long previous_until;                    /* "signature-key-previous-until": unix time */
    char admin_password_hash[SECRET_HASH_MAX]; /* "admin-password-hash": crypt(3), "" = unclaimed */
    /* "redis-password": this appliance's Redis password as a hub, made by
     * the apply service the first time the role becomes hub and kept when
     * the role changes, so the nodes need it again only after a new one */
    char redis_password[SECRET_KEY_MAX];
    /* "cluster-hub-password": as a node, the hub's Redis password the admin
     * copied from the hub ("" = not given yet) */
    char hub_password[SECRET_KEY_MAX];
};

/* Missing file: all empty, 0. Bad content: -1 with err. */
int secrets_load(struct secrets *s, const char *path, char *err, size_t errlen);
/* Atomic write (as settings_save). */
int secrets_save(const struct secrets *s, const char *path, unsigned mode, char *err,
                 size_t errlen);
/* The same from memory (restore). */
int secrets_parse(struct secrets *s, const char *data, size_t len, char *err, size_t errlen);
/* secrets_save with group gid (-1: keep the old file's). */
int secrets_save_owned(const struct secrets *s, const char *path, unsigned mode, long gid,
                       char *err, size_t errlen);
/* 0 if key is usable as a signing key (16-128 of [A-Za-z0-9._-+/=:]), else -1 with err. */
int secrets_check_key(const char *key, char *err, size_t errlen);
/* 0 if pw is usable as a Redis password (the same characters and lengths
 * as a signing key: it goes into pullbox.conf and redis.conf unquoted),
 * else -1 with err saying what is accepted. */
int secrets_check_redis_password(const char *pw, char *err, size_t errlen);
/* 0 if hash looks like a crypt(3) string ("", "*", "!" too), else -1 with err. */
int secrets_check_hash(const char *hash, char *err, size_t errlen);
/* Drops the previous key once its grace period is over; true if it did. */
bool secrets_expire_previous(struct secrets *s, long long now);
/* A new random signing key: 64 lowercase hex digits (256 bits). 0 or -1. */
int secrets_new_key(char out[SECRET_KEY_MAX]);
/* Rotation: previous = current until now + grace; current = a new key. */
int secrets_rotate(struct secrets *s, long long now, long grace_seconds);

#endif
