/* Requests and results through the spool folder.
 *
 * File format (requests and results alike): lines "key=value\n"; the first
 * line of a request is "op=<op>". Keys are [A-Za-z0-9._/-]. In values every
 * byte below 0x20, 0x7f and '%' is written as %XX (two uppercase hex
 * digits), so any byte round-trips and a value never spans lines. */
#include "spool.h"

#include "fileio.h"
#include "root.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-"

void request_init(struct request *r, const char *op)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->op, sizeof(r->op), "%s", op ? op : "");
}

int request_add(struct request *r, const char *key, const char *value, size_t len)
{
    struct request_arg *a;

    if (r->nargs >= REQUEST_MAX_ARGS || strlen(key) >= REQUEST_KEY_MAX || key[0] == '\0' ||
        strspn(key, KEY_CHARS) != strlen(key) || len > REQUEST_MAX_BYTES)
        return -1;
    a = &r->args[r->nargs];
    snprintf(a->key, sizeof(a->key), "%s", key);
    a->value = malloc(len + 1);
    if (a->value == NULL)
        abort();
    memcpy(a->value, value, len);
    a->value[len] = '\0';
    a->len = len;
    r->nargs++;
    return 0;
}

const char *request_get(const struct request *r, const char *key, size_t *len)
{
    for (size_t i = 0; i < r->nargs; i++)
        if (strcmp(r->args[i].key, key) == 0) {
            if (len)
                *len = r->args[i].len;
            return r->args[i].value;
        }
    return NULL;
}

void request_free(struct request *r)
{
    for (size_t i = 0; i < r->nargs; i++)
        free(r->args[i].value);
    r->nargs = 0;
}

/* ---- encoding ---- */

struct sbuf {
    char *d;
    size_t len, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *nd = realloc(b->d, cap);
        if (nd == NULL)
            abort();
        b->d = nd;
        b->cap = cap;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
}

static void sb_line(struct sbuf *b, const char *key, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    sb_put(b, key, strlen(key));
    sb_put(b, "=", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f || c == '%') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_put(b, e, 3);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\n", 1);
}

static void sb_str(struct sbuf *b, const char *key, const char *v)
{
    sb_line(b, key, v, strlen(v));
}

int request_encode(const struct request *r, char **out, size_t *outlen)
{
    struct sbuf b = {0};

    sb_str(&b, "op", r->op);
    for (size_t i = 0; i < r->nargs; i++)
        sb_line(&b, r->args[i].key, r->args[i].value, r->args[i].len);
    *out = b.d;
    *outlen = b.len;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Calls fn for each line's key and decoded value (decoded in place into a
 * scratch copy). Returns 0 or -1 with err. */
typedef int line_fn(void *ctx, const char *key, const char *val, size_t len, char *err,
                    size_t errlen);

static int decode_lines(const char *data, size_t len, line_fn *fn, void *ctx, char *err,
                        size_t errlen)
{
    const char *p = data, *end = data + len;
    char *val = malloc(len + 1);
    int lineno = 0, rc = 0;

    if (val == NULL)
        abort();
    if (len > REQUEST_MAX_BYTES) {
        snprintf(err, errlen, "request too large (%zu bytes, at most %d)", len, REQUEST_MAX_BYTES);
        rc = -1;
    }
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eq;
        char key[REQUEST_KEY_MAX];
        size_t n = 0, klen;

        lineno++;
        if (nl == NULL) {
            snprintf(err, errlen, "line %d: not ended by a line break (truncated?)", lineno);
            rc = -1;
            break;
        }
        eq = memchr(p, '=', (size_t)(nl - p));
        klen = eq ? (size_t)(eq - p) : 0;
        if (eq == NULL || klen == 0 || klen >= sizeof(key)) {
            snprintf(err, errlen, "line %d: expected key=value", lineno);
            rc = -1;
            break;
        }
        memcpy(key, p, klen);
        key[klen] = '\0';
        if (strspn(key, KEY_CHARS) != klen) {
            snprintf(err, errlen, "line %d: bad key", lineno);
            rc = -1;
            break;
        }
        for (const char *q = eq + 1; q < nl; q++) {
            if (*q == '%') {
                int hi = q + 2 < nl ? hexval(q[1]) : -1, lo = hi >= 0 ? hexval(q[2]) : -1;
                if (lo < 0) {
                    snprintf(err, errlen, "line %d (%s): bad %% escape", lineno, key);
                    rc = -1;
                    break;
                }
                val[n++] = (char)(hi << 4 | lo);
                q += 2;
            } else if ((unsigned char)*q < 0x20 || *q == 0x7f) {
                snprintf(err, errlen, "line %d (%s): unescaped control character", lineno, key);
                rc = -1;
                break;
            } else {
                val[n++] = *q;
            }
        }
        if (rc != 0)
            break;
        val[n] = '\0';
        rc = fn(ctx, key, val, n, err, errlen);
        p = nl + 1;
    }
    free(val);
    return rc;
}

static int request_line(void *ctx, const char *key, const char *val, size_t len, char *err,
                        size_t errlen)
{
    struct request *r = ctx;

    if (r->op[0] == '\0') {
        if (strcmp(key, "op") != 0 || len == 0 || len >= REQUEST_OP_MAX || strlen(val) != len) {
            snprintf(err, errlen, "a request starts with op=<operation>");
            return -1;
        }
        memcpy(r->op, val, len + 1);
        return 0;
    }
    if (request_add(r, key, val, len) != 0) {
        snprintf(err, errlen, "too many arguments or a bad key (%.64s)", key);
        return -1;
    }
    return 0;
}

int request_decode(const char *data, size_t len, struct request *r, char *err, size_t errlen)
{
    request_init(r, "");
    if (decode_lines(data, len, request_line, r, err, errlen) != 0) {
        request_free(r);
        return -1;
    }
    if (r->op[0] == '\0') {
        snprintf(err, errlen, "empty request");
        return -1;
    }
    return 0;
}

/* Results: ok=0|1, field=<n>, message=..., then per step step.what=,
 * step.ok=, step.detail= (step.what starts a step). */
int result_encode(const struct result *res, char **out, size_t *outlen)
{
    struct sbuf b = {0};
    char num[24];

    sb_str(&b, "ok", res->ok ? "1" : "0");
    snprintf(num, sizeof(num), "%d", res->field);
    sb_str(&b, "field", num);
    sb_str(&b, "message", res->message);
    for (size_t i = 0; i < res->nsteps && i < RESULT_MAX_STEPS; i++) {
        sb_str(&b, "step.what", res->steps[i].what);
        sb_str(&b, "step.ok", res->steps[i].ok ? "1" : "0");
        sb_str(&b, "step.detail", res->steps[i].detail);
    }
    *out = b.d;
    *outlen = b.len;
    return 0;
}

static int result_line(void *ctx, const char *key, const char *val, size_t len, char *err,
                       size_t errlen)
{
    struct result *res = ctx;
    struct result_step *st = res->nsteps ? &res->steps[res->nsteps - 1] : NULL;

    (void)len;
    if (strcmp(key, "ok") == 0)
        res->ok = strcmp(val, "1") == 0;
    else if (strcmp(key, "field") == 0)
        res->field = atoi(val);
    else if (strcmp(key, "message") == 0)
        snprintf(res->message, sizeof(res->message), "%s", val);
    else if (strcmp(key, "step.what") == 0) {
        if (res->nsteps >= RESULT_MAX_STEPS) {
            snprintf(err, errlen, "too many steps");
            return -1;
        }
        st = &res->steps[res->nsteps++];
        memset(st, 0, sizeof(*st));
        snprintf(st->what, sizeof(st->what), "%s", val);
    } else if (st && strcmp(key, "step.ok") == 0)
        st->ok = strcmp(val, "1") == 0;
    else if (st && strcmp(key, "step.detail") == 0)
        snprintf(st->detail, sizeof(st->detail), "%s", val);
    /* unknown keys are ignored: a newer service may say more */
    return 0;
}

int result_decode(const char *data, size_t len, struct result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    res->field = -1;
    return decode_lines(data, len, result_line, res, err, errlen);
}

/* ---- the folder ---- */

/* <19-digit nanoseconds since 1970>-<16 hex>: sorts by time as text. */
#define SPOOL_ID_LEN 36

bool spool_id_valid(const char *id)
{
    if (strlen(id) != SPOOL_ID_LEN || id[19] != '-')
        return false;
    for (int i = 0; i < SPOOL_ID_LEN; i++)
        if (i != 19 && !(id[i] >= '0' && id[i] <= '9') && !(i > 19 && id[i] >= 'a' && id[i] <= 'f'))
            return false;
    return true;
}

static int spool_file(char *out, size_t outlen, const char *id, const char *ext)
{
    char rel[128];

    snprintf(rel, sizeof(rel), "%s/%s.%s", PATH_SPOOL, id, ext);
    return root_path(out, outlen, rel);
}

int spool_new_id(char *id, size_t idlen)
{
    struct timespec ts;
    unsigned char rnd[8];

    clock_gettime(CLOCK_REALTIME, &ts);
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) || idlen < SPOOL_ID_LEN + 1)
        return -1;
    snprintf(id, idlen, "%010lld%09ld-%02x%02x%02x%02x%02x%02x%02x%02x", (long long)ts.tv_sec,
             ts.tv_nsec, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    return 0;
}

int spool_submit(const struct request *r, char *id, size_t idlen, char *err, size_t errlen)
{
    char path[PATH_MAX], *data;
    size_t len;
    int rc;

    if (spool_new_id(id, idlen) != 0 || spool_file(path, sizeof(path), id, "req") != 0) {
        snprintf(err, errlen, "cannot name a request under %s", root_dir());
        return -1;
    }
    request_encode(r, &data, &len);
    if (len > REQUEST_MAX_BYTES) {
        free(data);
        snprintf(err, errlen, "the request is too large (%zu bytes, at most %d)", len,
                 REQUEST_MAX_BYTES);
        return -1;
    }
    rc = file_write_atomic(path, data, len, 0640, err, errlen);
    free(data);
    return rc;
}

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int spool_wait(const char *id, double timeout, struct result *res, char *err, size_t errlen)
{
    char req[PATH_MAX], resp[PATH_MAX], *data, e[256];
    double deadline = now_mono() + timeout;
    long n;
    int rc;

    spool_file(req, sizeof(req), id, "req");
    spool_file(resp, sizeof(resp), id, "res");
    for (;;) {
        n = file_read_all(resp, REQUEST_MAX_BYTES, &data, e, sizeof(e));
        if (n >= 0)
            break;
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot read the result: %s", e);
            return -1;
        }
        if (now_mono() >= deadline) {
            /* withdraw it, unless the service has just taken it */
            unlink(req);
            snprintf(err, errlen,
                     "the apply service did not answer in %.0f s: is it running? "
                     "(sv status pullbox-apply)",
                     timeout);
            return -1;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rc = result_decode(data, (size_t)n, res, e, sizeof(e));
    free(data);
    unlink(resp);
    if (rc != 0)
        snprintf(err, errlen, "the apply service's answer is damaged: %s", e);
    return rc;
}

int spool_call(const struct request *r, double timeout, struct result *res, char *err,
               size_t errlen)
{
    char id[64];

    if (spool_submit(r, id, sizeof(id), err, errlen) != 0)
        return -1;
    return spool_wait(id, timeout, res, err, errlen);
}

int spool_next(char *id, size_t idlen)
{
    char dirpath[PATH_MAX], best[64] = "";
    DIR *d;
    struct dirent *e;

    if (root_path(dirpath, sizeof(dirpath), PATH_SPOOL) != 0 || (d = opendir(dirpath)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char cand[64];

        if (n != SPOOL_ID_LEN + 4 || strcmp(e->d_name + SPOOL_ID_LEN, ".req") != 0)
            continue;
        memcpy(cand, e->d_name, SPOOL_ID_LEN);
        cand[SPOOL_ID_LEN] = '\0';
        if (!spool_id_valid(cand))
            continue;
        if (best[0] == '\0' || strcmp(cand, best) < 0)
            memcpy(best, cand, SPOOL_ID_LEN + 1);
    }
    closedir(d);
    if (best[0] == '\0' || idlen <= SPOOL_ID_LEN)
        return 0;
    memcpy(id, best, SPOOL_ID_LEN + 1);
    return 1;
}

int spool_read(const char *id, struct request *r, char *err, size_t errlen)
{
    char path[PATH_MAX], *data, e[256];
    long n;
    int rc;

    request_init(r, "");
    if (!spool_id_valid(id) || spool_file(path, sizeof(path), id, "req") != 0) {
        snprintf(err, errlen, "bad request id");
        return -1;
    }
    n = file_read_all(path, REQUEST_MAX_BYTES, &data, e, sizeof(e));
    if (n < 0) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    rc = request_decode(data, (size_t)n, r, e, sizeof(e));
    free(data);
    if (rc != 0)
        snprintf(err, errlen, "the request is malformed: %s", e);
    return rc;
}

int spool_answer(const char *id, const struct result *res, char *err, size_t errlen)
{
    char req[PATH_MAX], resp[PATH_MAX], dir[PATH_MAX], *data;
    size_t len;
    struct stat rst, dst;
    long uid = -1, gid = -1;
    int rc;

    if (!spool_id_valid(id) || spool_file(req, sizeof(req), id, "req") != 0 ||
        spool_file(resp, sizeof(resp), id, "res") != 0 ||
        root_path(dir, sizeof(dir), PATH_SPOOL) != 0) {
        snprintf(err, errlen, "bad request id");
        return -1;
    }
    /* the result belongs to the request's writer (who removes it; the
     * folder is sticky) and is readable by the folder's group */
    if (stat(req, &rst) == 0)
        uid = (long)rst.st_uid;
    if (stat(dir, &dst) == 0)
        gid = (long)dst.st_gid;
    result_encode(res, &data, &len);
    rc = file_write_atomic_owned(resp, data, len, 0640, uid, gid, err, errlen);
    free(data);
    unlink(req);
    return rc;
}

int spool_attach(const char *id, const char *ext, const void *data, size_t len, char *err,
                 size_t errlen)
{
    char req[PATH_MAX], out[PATH_MAX];
    struct stat rst;

    if (!spool_id_valid(id) || spool_file(req, sizeof(req), id, "req") != 0 ||
        spool_file(out, sizeof(out), id, ext) != 0 || stat(req, &rst) != 0) {
        snprintf(err, errlen, "no such request");
        return -1;
    }
    return file_write_atomic_owned(out, data, len, 0600, (long)rst.st_uid, -1, err, errlen);
}

int spool_take(const char *id, const char *ext, size_t max, unsigned char **data, size_t *len,
               char *err, size_t errlen)
{
    char path[PATH_MAX], *buf;
    long n;

    *data = NULL;
    *len = 0;
    if (!spool_id_valid(id) || spool_file(path, sizeof(path), id, ext) != 0) {
        snprintf(err, errlen, "bad request id");
        return -1;
    }
    n = file_read_all(path, max, &buf, err, errlen);
    unlink(path);
    if (n < 0)
        return -1;
    *data = (unsigned char *)buf;
    *len = (size_t)n;
    return 0;
}

int spool_discard(const char *id)
{
    char req[PATH_MAX];

    if (!spool_id_valid(id) || spool_file(req, sizeof(req), id, "req") != 0)
        return -1;
    return unlink(req);
}

void spool_clean(double max_age)
{
    char dirpath[PATH_MAX], path[PATH_MAX * 2];
    DIR *d;
    struct dirent *e;
    struct stat st;
    time_t now = time(NULL);

    if (root_path(dirpath, sizeof(dirpath), PATH_SPOOL) != 0 || (d = opendir(dirpath)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        bool result = n > 4 && (strcmp(e->d_name + n - 4, ".res") == 0 ||
                                strcmp(e->d_name + n - 4, ".bak") == 0);
        bool tmp = strstr(e->d_name, ".tmp-") != NULL;

        if (!result && !tmp)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && difftime(now, st.st_mtime) > max_age)
            unlink(path);
    }
    closedir(d);
}
