/* Whole-file reads and atomic writes (tmp in the same folder, fsync, rename,
 * fsync of the folder). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int fsync_parent(const char *path)
{
    char copy[PATH_MAX];
    int fd, rc;

    snprintf(copy, sizeof(copy), "%s", path);
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int file_write_atomic_owned(const char *path, const void *data, size_t len, unsigned mode, long uid,
                            long gid, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    struct stat old;
    int fd, saved;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    /* the old file's owner is kept unless the caller names one; only root
     * can give a file away, and then only a service-owned file is replaced */
    if (stat(path, &old) == 0) {
        if (uid < 0)
            uid = (long)old.st_uid;
        if (gid < 0)
            gid = (long)old.st_gid;
    }
    if ((uid >= 0 || gid >= 0) && geteuid() == 0 &&
        fchown(fd, (uid_t)(uid >= 0 ? uid : -1), (gid_t)(gid >= 0 ? gid : -1)) != 0)
        goto fail;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    if (fsync_parent(path) != 0) {
        snprintf(err, errlen, "cannot sync the folder of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
    errno = saved;
    return -1;
}

int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen)
{
    return file_write_atomic_owned(path, data, len, mode, -1, -1, err, errlen);
}

long file_read_all(const char *path, size_t max, char **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    size_t len = 0;

    *out = NULL;
    if (fd < 0) {
        int saved = errno;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
        errno = saved;
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read %s: not a regular file", path);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if ((unsigned long long)st.st_size > max) {
        snprintf(err, errlen, "%s is too large (%lld bytes, at most %zu)", path,
                 (long long)st.st_size, max);
        close(fd);
        errno = EFBIG;
        return -1;
    }
    buf = malloc(max + 1);
    if (buf == NULL)
        abort();
    for (;;) {
        ssize_t r = read(fd, buf + len, max + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
            free(buf);
            close(fd);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > max) {
            snprintf(err, errlen, "%s is too large (more than %zu bytes)", path, max);
            free(buf);
            close(fd);
            errno = EFBIG;
            return -1;
        }
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    return (long)len;
}

int file_differs(const char *path, const void *data, size_t len)
{
    char *cur, err[64];
    long n = file_read_all(path, len, &cur, err, sizeof(err));
    int rc;

    if (n < 0)
        return errno == ENOENT || errno == EFBIG ? 1 : -1;
    rc = (size_t)n != len || memcmp(cur, data, len) != 0;
    free(cur);
    return rc;
}

int file_kv_parse(const char *data, size_t len, size_t line_max, file_kv_fn *fn, void *ctx,
                  char *err, size_t errlen)
{
    const char *p = data, *end = data + len;
    char *line = malloc(line_max + 1), e[512];
    int lineno = 0, rc = 0;

    if (line == NULL)
        abort();
    if (memchr(data, '\0', len)) {
        snprintf(err, errlen, "a NUL byte in the text");
        rc = -1;
    }
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *key, *val, *eq;

        lineno++;
        p += n + (nl ? 1 : 0);
        if (n > line_max) {
            snprintf(err, errlen, "line %d: too long (at most %zu bytes)", lineno, line_max);
            rc = -1;
            break;
        }
        memcpy(line, p - n - (nl ? 1 : 0), n);
        line[n] = '\0';
        key = line + strspn(line, " \t");
        if (*key == '\0' || *key == '#')
            continue;
        eq = strchr(key, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "line %d: expected key = value", lineno);
            rc = -1;
            break;
        }
        val = eq + 1 + strspn(eq + 1, " \t");
        while (eq > key && (eq[-1] == ' ' || eq[-1] == '\t'))
            eq--;
        *eq = '\0';
        for (size_t l = strlen(val); l > 0 && (val[l - 1] == ' ' || val[l - 1] == '\t');)
            val[--l] = '\0';
        if (fn(ctx, key, val, e, sizeof(e)) != 0) {
            snprintf(err, errlen, "line %d: %s", lineno, e);
            rc = -1;
        }
    }
    free(line);
    return rc;
}

int file_load(const char *path, size_t max, file_parse_fn *fn, void *ctx, char *err, size_t errlen)
{
    char *data, e[512];
    long n = file_read_all(path, max, &data, e, sizeof(e));
    int rc;

    if (n < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    rc = fn(ctx, data, (size_t)n, e, sizeof(e));
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, e);
    free(data);
    return rc == 0 ? 0 : -1;
}
