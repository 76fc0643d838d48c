/* The secrets file: the signing key ring and the admin's password hash. */
#include "secrets.h"

#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SECRETS_FILE_MAX (16 * 1024)
#define KEY_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+/=:"
#define HASH_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./$=,-*!"

/* A signing key goes into pullbox.conf and a PHP string, so only characters
 * that need no quoting anywhere; 16 bytes at least (a Bitrix key may come
 * from another queue server, so not only hex). */
static int check_token(const char *what, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);

    if (n < 16 || n >= SECRET_KEY_MAX || strspn(v, KEY_CHARS) != n) {
        snprintf(err, errlen, "%s is 16 to %d letters, digits or ._-+/=: characters", what,
                 SECRET_KEY_MAX - 1);
        return -1;
    }
    return 0;
}

int secrets_check_key(const char *key, char *err, size_t errlen)
{
    return check_token("a signing key", key, err, errlen);
}

int secrets_check_redis_password(const char *pw, char *err, size_t errlen)
{
    return check_token("a Redis password", pw, err, errlen);
}

int secrets_check_hash(const char *hash, char *err, size_t errlen)
{
    size_t n = strlen(hash);

    if (n >= SECRET_HASH_MAX || strspn(hash, HASH_CHARS) != n || (n > 1 && hash[0] != '$')) {
        snprintf(err, errlen, "a password hash is a crypt(3) string like $y$...");
        return -1;
    }
    return 0;
}

static int secrets_line(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    struct secrets *s = ctx;
    char e[128];

    if (strcmp(key, "signature-key") == 0 || strcmp(key, "signature-key-previous") == 0) {
        if (val[0] != '\0' && secrets_check_key(val, e, sizeof(e)) != 0) {
            snprintf(err, errlen, "%s: %s", key, e);
            return -1;
        }
        snprintf(strcmp(key, "signature-key") == 0 ? s->signature_key : s->signature_key_previous,
                 SECRET_KEY_MAX, "%s", val);
    } else if (strcmp(key, "signature-key-previous-until") == 0) {
        char *endp;
        errno = 0;
        s->previous_until = strtoll(val, &endp, 10);
        if (errno || *endp || endp == val || s->previous_until < 0) {
            snprintf(err, errlen, "%s: not a unix time", key);
            return -1;
        }
    } else if (strcmp(key, "redis-password") == 0 || strcmp(key, "cluster-hub-password") == 0) {
        if (val[0] != '\0' && secrets_check_redis_password(val, e, sizeof(e)) != 0) {
            snprintf(err, errlen, "%s: %s", key, e);
            return -1;
        }
        snprintf(strcmp(key, "redis-password") == 0 ? s->redis_password : s->hub_password,
                 SECRET_KEY_MAX, "%s", val);
    } else if (strcmp(key, "admin-password-hash") == 0) {
        if (secrets_check_hash(val, e, sizeof(e)) != 0) {
            snprintf(err, errlen, "%s: %s", key, e);
            return -1;
        }
        snprintf(s->admin_password_hash, sizeof(s->admin_password_hash), "%s", val);
    } else {
        snprintf(err, errlen, "unknown key %.64s", key);
        return -1;
    }
    return 0;
}

int secrets_parse(struct secrets *s, const char *data, size_t len, char *err, size_t errlen)
{
    struct secrets tmp;

    memset(&tmp, 0, sizeof(tmp));
    if (file_kv_parse(data, len, 512, secrets_line, &tmp, err, errlen) != 0)
        return -1;
    *s = tmp;
    return 0;
}

static int secrets_parse_fn(void *ctx, const char *data, size_t len, char *err, size_t errlen)
{
    return secrets_parse(ctx, data, len, err, errlen);
}

int secrets_load(struct secrets *s, const char *path, char *err, size_t errlen)
{
    int rc = file_load(path, SECRETS_FILE_MAX, secrets_parse_fn, s, err, errlen);

    if (rc == 1)
        memset(s, 0, sizeof(*s));
    return rc < 0 ? -1 : 0;
}

int secrets_save_owned(const struct secrets *s, const char *path, unsigned mode, long gid,
                       char *err, size_t errlen)
{
    char buf[2048];
    int n = snprintf(buf, sizeof(buf),
                     "# Pullbox secrets: written by pullbox-apply.\n"
                     "signature-key = %s\n"
                     "signature-key-previous = %s\n"
                     "signature-key-previous-until = %lld\n"
                     "admin-password-hash = %s\n"
                     "redis-password = %s\n"
                     "cluster-hub-password = %s\n",
                     s->signature_key, s->signature_key_previous,
                     s->signature_key_previous[0] ? s->previous_until : 0LL, s->admin_password_hash,
                     s->redis_password, s->hub_password);

    if (n < 0 || (size_t)n >= sizeof(buf)) {
        snprintf(err, errlen, "secrets too long");
        return -1;
    }
    return file_write_atomic_owned(path, buf, (size_t)n, mode, -1, gid, err, errlen);
}

int secrets_save(const struct secrets *s, const char *path, unsigned mode, char *err, size_t errlen)
{
    return secrets_save_owned(s, path, mode, -1, err, errlen);
}

int secrets_new_key(char out[SECRET_KEY_MAX])
{
    unsigned char raw[32];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int secrets_rotate(struct secrets *s, long long now, long grace_seconds)
{
    char fresh[SECRET_KEY_MAX];

    if (secrets_new_key(fresh) != 0)
        return -1;
    if (grace_seconds > 0 && s->signature_key[0] != '\0') {
        memcpy(s->signature_key_previous, s->signature_key, SECRET_KEY_MAX);
        s->previous_until = now + grace_seconds;
    } else {
        s->signature_key_previous[0] = '\0';
        s->previous_until = 0;
    }
    memcpy(s->signature_key, fresh, SECRET_KEY_MAX);
    return 0;
}

bool secrets_expire_previous(struct secrets *s, long long now)
{
    if (s->signature_key_previous[0] == '\0' || s->previous_until > now)
        return false;
    s->signature_key_previous[0] = '\0';
    s->previous_until = 0;
    return true;
}
