/* ssh-key-add, ssh-key-remove, ssh-key-list: the admin's authorized_keys
 * for dropbear.
 * A key line is "type base64 [comment]" with no options; the base64 must
 * decode to a key blob that names the same type. */
#include "apply.h"

#include "fileio.h"
#include "root.h"
#include "sshkeys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SSH_KEYS_MAX 32
#define SSH_LINE_MAX 8192
#define SSH_COMMENT_MAX 200
#define AUTH_KEYS_MAX (SSH_KEYS_MAX * (SSH_LINE_MAX + 1))

static const char *const key_types[] = {
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
    NULL};

/* Base64 of a key blob (padding required) through OpenSSL's decoder, which
 * refuses characters outside the alphabet; returns the decoded length
 * (padding bytes not counted) or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t outmax)
{
    size_t pad = 0;
    int len;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 > outmax || n > INT_MAX)
        return -1;
    for (size_t i = n - 2; i < n; i++)
        if (s[i] == '=')
            pad++;
    if ((pad == 1 && s[n - 2] == '=') || memchr(s, '=', n - pad) != NULL)
        return -1; /* '=' only as the last one or two characters */
    len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    return len < 0 ? -1 : (long)len - (long)pad;
}

/* One key line; err names what is wrong. */
static int ssh_key_check(const char *line, size_t len, char *err, size_t errlen)
{
    const char *sp1, *sp2, *b64, *comment;
    size_t tlen, blen;
    unsigned char blob[SSH_LINE_MAX];
    long n;
    bool known = false;

    if (len > SSH_LINE_MAX) {
        snprintf(err, errlen, "the key is too long (at most %d characters)", SSH_LINE_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f) {
            snprintf(err, errlen, "the key holds a line break, control or non-ASCII character");
            return -1;
        }
    sp1 = memchr(line, ' ', len);
    tlen = sp1 ? (size_t)(sp1 - line) : len;
    for (const char *const *t = key_types; *t; t++)
        if (strlen(*t) == tlen && memcmp(*t, line, tlen) == 0)
            known = true;
    if (!known || sp1 == NULL) {
        snprintf(err, errlen,
                 "a key starts with its type (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or "
                 "ssh-rsa), then the key in base64, then an optional comment");
        return -1;
    }
    b64 = sp1 + 1;
    sp2 = memchr(b64, ' ', (size_t)(line + len - b64));
    blen = sp2 ? (size_t)(sp2 - b64) : (size_t)(line + len - b64);
    comment = sp2 ? sp2 + 1 : NULL;
    n = b64_decode(b64, blen, blob, sizeof(blob));
    if (n < 4 ||
        ((size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3]) != tlen ||
        (size_t)n < 4 + tlen || memcmp(blob + 4, line, tlen) != 0) {
        snprintf(err, errlen, "the key's base64 part is not a %.*s key", (int)tlen, line);
        return -1;
    }
    if (sp2 && (size_t)(line + len - comment) > SSH_COMMENT_MAX) {
        snprintf(err, errlen, "the comment is too long (at most %d characters)", SSH_COMMENT_MAX);
        return -1;
    }
    return 0;
}

int ssh_keys_check(const char *data, size_t len, char *err, size_t errlen)
{
    const char *p = data, *end = data + len;
    int lineno = 0, keys = 0;
    char e[200];

    if (memchr(data, '\0', len)) {
        snprintf(err, errlen, "a NUL byte is not allowed");
        return -1;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (l > 0 && p[0] != '#') {
            if (ssh_key_check(p, l, e, sizeof(e)) != 0) {
                snprintf(err, errlen, "line %d: %s", lineno, e);
                return -1;
            }
            if (++keys > SSH_KEYS_MAX) {
                snprintf(err, errlen, "more than %d keys", SSH_KEYS_MAX);
                return -1;
            }
        }
        p += l + (nl ? 1 : 0);
    }
    return 0;
}

static long read_keys(char **data, struct result *res)
{
    char path[PATH_MAX], err[256];
    long n;
    int dfd = ssh_dir_open(err, sizeof(err)); /* a planted link is gone after this */

    if (dfd < 0) {
        *data = NULL;
        refuse(res, -1, "%s", err);
        return -1;
    }
    close(dfd);
    root_path(path, sizeof(path), PATH_AUTHORIZED_KEYS);
    n = file_read_all(path, AUTH_KEYS_MAX, data, err, sizeof(err));
    if (n < 0 && errno == ENOENT) {
        *data = calloc(1, 1);
        if (*data == NULL)
            abort();
        return 0;
    }
    if (n < 0)
        refuse(res, -1, "%s", err);
    return n;
}

/* The admin's home is the admin's to write in: ".ssh" there is taken as a
 * real folder (a link or a file in its place is removed, never followed),
 * root:admin 0750 so the admin cannot swap authorized_keys, and every
 * step goes through descriptors, never by a name the admin could change
 * between two calls. Returns the folder's descriptor or -1. */
int ssh_dir_open(char *err, size_t errlen)
{
    char home[PATH_MAX];
    struct passwd *pw = root_is_system() ? getpwnam("admin") : NULL;
    int hfd, fd;

    root_path(home, sizeof(home), PATH_ADMIN_HOME);
    hfd = file_open_dir(home);
    if (hfd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", home, strerror(errno));
        return -1;
    }
    fd = file_secure_at(hfd, ".ssh", true, 0, pw ? (long)pw->pw_gid : -1, 0750, err, errlen);
    close(hfd);
    return fd;
}

int ssh_keys_write(const char *data, size_t len, struct result *res)
{
    char path[PATH_MAX], err[256];
    struct passwd *pw = root_is_system() ? getpwnam("admin") : NULL;
    int dfd = ssh_dir_open(err, sizeof(err)), rc;

    if (dfd < 0) {
        step(res, false, "authorized keys", "%s", err);
        return -1;
    }
    /* root's file, readable by the admin (dropbear reads it as the admin) */
    root_path(path, sizeof(path), PATH_AUTHORIZED_KEYS);
    rc = file_write_atomic_at(dfd, "authorized_keys", path, data, len, 0640, 0,
                              pw ? (long)pw->pw_gid : -1, err, sizeof(err));
    close(dfd);
    if (rc != 0) {
        step(res, false, "authorized keys", "%s", err);
        return -1;
    }
    return 0;
}

void op_ssh_key_add(struct apply *a, const struct request *r, struct result *res)
{
    size_t klen;
    const char *key = request_get(r, "key", &klen);
    char err[256], *cur, *out;
    long n;

    (void)a;
    /* a pasted key may carry the line break of its file */
    while (key && klen > 0 &&
           (key[klen - 1] == '\n' || key[klen - 1] == '\r' || key[klen - 1] == ' '))
        klen--;
    if (key == NULL || klen == 0) {
        refuse(res, -1, "SSH key: paste one line of a public key file (id_ed25519.pub)");
        return;
    }
    if (memchr(key, '\n', klen) || ssh_key_check(key, klen, err, sizeof(err)) != 0) {
        refuse(res, -1, "SSH key: %s",
               memchr(key, '\n', klen) ? "one key at a time, on one line" : err);
        return;
    }
    if ((n = read_keys(&cur, res)) < 0)
        return;
    /* the same key (type and base64) twice is refused */
    const char *sp = memchr(key, ' ', klen),
               *sp2 = memchr(sp + 1, ' ', (size_t)(key + klen - sp - 1));
    size_t idlen = sp2 ? (size_t)(sp2 - key) : klen;
    for (const char *p = cur; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l >= idlen && memcmp(p, key, idlen) == 0 && (l == idlen || p[idlen] == ' ')) {
            refuse(res, -1, "SSH key: this key is already authorized");
            free(cur);
            return;
        }
        p += l + (nl ? 1 : 0);
    }
    out = malloc((size_t)n + klen + 2);
    if (out == NULL)
        abort();
    memcpy(out, cur, (size_t)n);
    if (n > 0 && out[n - 1] != '\n')
        out[n++] = '\n';
    memcpy(out + n, key, klen);
    out[(size_t)n + klen] = '\n';
    if (ssh_keys_check(out, (size_t)n + klen + 1, err, sizeof(err)) != 0)
        refuse(res, -1, "SSH key: %s", err);
    else if (ssh_keys_write(out, (size_t)n + klen + 1, res) == 0) {
        step(res, true, "authorized keys", "added a %.*s key", (int)(sp - key), key);
        snprintf(res->message, sizeof(res->message), "The key is authorized for the admin user.");
    }
    free(out);
    free(cur);
}

void op_ssh_key_remove(struct apply *a, const struct request *r, struct result *res)
{
    const char *idx = request_get(r, "index", NULL);
    char *cur, *out, *end;
    long n, want, k = 0;
    size_t len = 0;
    bool removed = false;

    (void)a;
    want = idx ? strtol(idx, &end, 10) : 0;
    if (idx == NULL || *end != '\0' || want < 1 || want > SSH_KEYS_MAX) {
        refuse(res, -1, "SSH key: the number of the key to remove, as listed (1-%d)", SSH_KEYS_MAX);
        return;
    }
    if ((n = read_keys(&cur, res)) < 0)
        return;
    out = malloc((size_t)n + 1);
    if (out == NULL)
        abort();
    for (const char *p = cur; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        bool is_key = l > 0 && p[0] != '#';
        if (is_key && ++k == want) {
            removed = true;
        } else {
            memcpy(out + len, p, l);
            len += l;
            out[len++] = '\n';
        }
        p += l + (nl ? 1 : 0);
    }
    /* the last key goes only while SSH takes the password too */
    struct settings st;
    struct secrets sec;
    const char *why = NULL;
    bool loaded = removed && state_load(&st, &sec, res) == 0;
    explicit_bzero(&sec, sizeof(sec));
    if (loaded)
        why = sshkeys_remove_refusal(&st, (int)k);
    if (!removed)
        refuse(res, -1, "SSH key: there is no key number %ld (%ld listed)", want, k);
    else if (!loaded)
        ; /* state_load said why */
    else if (why != NULL)
        refuse(res, S_SSH_KEY_ONLY, "SSH key: %s", why);
    else if (ssh_keys_write(out, len, res) == 0) {
        step(res, true, "authorized keys", "removed key %ld", want);
        snprintf(res->message, sizeof(res->message), "The key is removed.");
    }
    free(out);
    free(cur);
}

/* The keys for a tool that cannot read authorized_keys itself (the
 * wizard's user): public keys, handed to the requester alone. */
void op_ssh_key_list(struct apply *a, const struct request *r, struct result *res)
{
    char *cur, err[256];
    long n;

    (void)r;
    if ((n = read_keys(&cur, res)) < 0)
        return;
    if (spool_attach(a->id, "keys", cur, (size_t)n, err, sizeof(err)) != 0)
        step(res, false, "hand over the keys", "%s", err);
    else
        step(res, true, "authorized keys", "%d listed", sshkeys_list(cur, (size_t)n, NULL, 0));
    free(cur);
}
