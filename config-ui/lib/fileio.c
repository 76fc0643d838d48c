/* Whole-file reads and atomic writes (tmp in the same folder, fsync, rename,
 * fsync of the folder), along paths walked one folder at a time so that a
 * link is followed only where root alone could have made it. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int file_write_all(int fd, const void *data, size_t len)
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

/* The text for errno, with the case this file makes plain. */
static const char *why(int e)
{
    return e == ELOOP ? "a symbolic link (or not a folder) where only a real one is accepted"
                      : strerror(e);
}

bool file_dir_private(int dirfd)
{
    struct stat st;

    return fstat(dirfd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
           !(st.st_mode & S_IWOTH) && (!(st.st_mode & S_IWGRP) || st.st_gid == 0);
}

int file_open_dir(const char *path)
{
    char copy[PATH_MAX], *save = NULL;
    int fd;

    if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (char *part = strtok_r(copy, "/", &save); fd >= 0 && part;
         part = strtok_r(NULL, "/", &save)) {
        struct stat st;
        int next, saved;

        if (strcmp(part, ".") == 0)
            continue;
        /* O_PATH | O_NOFOLLOW opens a link itself: the S_ISDIR check below
         * refuses it */
        next = openat(fd, part,
                      O_PATH | O_DIRECTORY | O_CLOEXEC | (file_dir_private(fd) ? 0 : O_NOFOLLOW));
        saved = errno == ENOTDIR ? ELOOP : errno; /* a link or a file: not a real folder */
        close(fd);
        if (next >= 0 && (fstat(next, &st) != 0 || !S_ISDIR(st.st_mode))) {
            close(next);
            next = -1;
            saved = ELOOP;
        }
        errno = saved;
        fd = next;
    }
    return fd;
}

/* path's folder (opened by file_open_dir) and last part (*base, inside buf). */
static int open_parent(const char *path, char *buf, size_t buflen, const char **base)
{
    size_t n;
    char *slash;
    int fd;

    if (snprintf(buf, buflen, "%s", path) >= (int)buflen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    slash = strrchr(buf, '/');
    *base = slash ? slash + 1 : buf;
    if (**base == '\0' || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0) {
        errno = EINVAL;
        return -1;
    }
    if (slash == NULL)
        return file_open_dir(".");
    if (slash == buf)
        return file_open_dir("/");
    *slash = '\0';
    fd = file_open_dir(buf);
    return fd;
}

/* name in dirfd, with O_NOFOLLOW unless root alone writes the folder. */
static int open_in(int dirfd, const char *name, int flags, mode_t mode)
{
    if (!file_dir_private(dirfd))
        flags |= O_NOFOLLOW;
    return openat(dirfd, name, flags | O_CLOEXEC, mode);
}

static int random_suffix(char *out, size_t len)
{
    unsigned char r[6];
    static unsigned long counter;

    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        /* no entropy yet (early boot): unique enough, O_EXCL refuses a clash */
        struct timespec ts;
        unsigned long v;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^ ++counter;
        memcpy(r, &v, sizeof(r) < sizeof(v) ? sizeof(r) : sizeof(v));
    }
    return snprintf(out, len, "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

int file_write_atomic_at(int dirfd, const char *name, const char *shown, const void *data,
                         size_t len, unsigned mode, long uid, long gid, char *err, size_t errlen)
{
    char tmp[NAME_MAX + 1], sfx[16];
    struct stat old;
    int fd = -1, saved, dfd;

    if (strlen(name) > NAME_MAX - 20) {
        snprintf(err, errlen, "%s: name too long", shown);
        errno = ENAMETOOLONG;
        return -1;
    }
    /* a fresh name, made here and nowhere else (O_EXCL, not through a link) */
    for (int tries = 0; fd < 0 && tries < 8; tries++) {
        random_suffix(sfx, sizeof(sfx));
        snprintf(tmp, sizeof(tmp), "%s.tmp-%s", name, sfx);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        saved = errno;
        snprintf(err, errlen, "cannot write %s: %s", shown, strerror(saved));
        errno = saved;
        return -1;
    }
    /* the group of a file root owned is kept; an owner is never inherited,
     * so a file someone else managed to own becomes root's again */
    if (gid < 0 && fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(old.st_mode) &&
        old.st_uid == 0)
        gid = (long)old.st_gid;
    if ((uid >= 0 || gid >= 0) && geteuid() == 0 &&
        fchown(fd, (uid_t)(uid >= 0 ? uid : -1), (gid_t)(gid >= 0 ? gid : -1)) != 0)
        goto fail;
    if (fchmod(fd, (mode_t)mode) != 0 || file_write_all(fd, data, len) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) != 0)
        goto fail;
    dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        saved = errno;
        if (dfd >= 0)
            close(dfd);
        snprintf(err, errlen, "cannot sync the folder of %s: %s", shown, strerror(saved));
        errno = saved;
        return -1;
    }
    close(dfd);
    return 0;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    snprintf(err, errlen, "cannot write %s: %s", shown, strerror(saved));
    errno = saved;
    return -1;
}

int file_write_atomic_owned(const char *path, const void *data, size_t len, unsigned mode, long uid,
                            long gid, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    const char *base;
    int dfd = open_parent(path, buf, sizeof(buf), &base), rc, saved;

    if (dfd < 0) {
        saved = errno;
        snprintf(err, errlen, "cannot write %s: %s", path, why(saved));
        errno = saved;
        return -1;
    }
    rc = file_write_atomic_at(dfd, base, path, data, len, mode, uid, gid, err, errlen);
    saved = errno;
    close(dfd);
    errno = saved;
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen)
{
    return file_write_atomic_owned(path, data, len, mode, -1, -1, err, errlen);
}

/* The kind of entry that belongs: a folder, or a plain file. A file with a
 * second hard link belongs only in a folder root alone writes (and is then
 * left as it is): elsewhere it may be another user's link to a file of
 * root's, which a chown or chmod here would give away. */
static bool belongs(const struct stat *st, bool dir, bool private)
{
    return dir ? S_ISDIR(st->st_mode) : S_ISREG(st->st_mode) && (st->st_nlink == 1 || private);
}

int file_secure_at(int dirfd, const char *name, bool dir, long uid, long gid, unsigned mode,
                   char *err, size_t errlen)
{
    struct stat st;
    int fd = -1;
    bool private = file_dir_private(dirfd);

    for (int round = 0; fd < 0; round++) {
        if (round == 3) {
            snprintf(err, errlen, "%s: keeps changing under us", name);
            errno = EAGAIN;
            return -1;
        }
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) {
                snprintf(err, errlen, "%s: %s", name, strerror(errno));
                return -1;
            }
            if (!dir)
                return 0;
            if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot make %s: %s", name, strerror(errno));
                return -1;
            }
            continue;
        }
        if (!belongs(&st, dir, private)) {
            /* removed, never followed: a link or a stray file goes, the
             * file it may point at stays as it is */
            if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
                snprintf(err, errlen, "cannot remove %s (not a %s): %s", name,
                         dir ? "folder" : "plain file", strerror(errno));
                return -1;
            }
            continue;
        }
        fd = openat(dirfd, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
        if (fd >= 0 && (fstat(fd, &st) != 0 || !belongs(&st, dir, private))) {
            close(fd); /* swapped between the two looks: look again */
            fd = -1;
        } else if (fd < 0 && errno != ELOOP && errno != ENOTDIR && errno != ENOENT) {
            snprintf(err, errlen, "cannot open %s: %s", name, strerror(errno));
            return -1;
        }
    }
    if (!dir && st.st_nlink > 1) {
        close(fd); /* linked from elsewhere in root's own folders: not ours to change */
        return 0;
    }
    if (((uid >= 0 && st.st_uid != (uid_t)uid) || (gid >= 0 && st.st_gid != (gid_t)gid)) &&
        fchown(fd, (uid_t)(uid >= 0 ? uid : -1), (gid_t)(gid >= 0 ? gid : -1)) != 0) {
        snprintf(err, errlen, "cannot give %s to %ld:%ld: %s", name, uid, gid, strerror(errno));
        close(fd);
        return -1;
    }
    if ((st.st_mode & 07777) != (mode_t)mode && fchmod(fd, (mode_t)mode) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (dir)
        return fd;
    close(fd);
    return 0;
}

long file_read_all(const char *path, size_t max, char **out, char *err, size_t errlen)
{
    char pbuf[PATH_MAX];
    const char *base;
    int dfd = open_parent(path, pbuf, sizeof(pbuf), &base), fd = -1;
    struct stat st;
    char *buf;
    size_t len = 0;

    *out = NULL;
    /* O_NONBLOCK: a FIFO planted in a writable folder must not hang us */
    if (dfd >= 0) {
        fd = open_in(dfd, base, O_RDONLY | O_NONBLOCK, 0);
        int saved = errno;
        close(dfd);
        errno = saved;
    }
    if (fd < 0) {
        int saved = errno;
        snprintf(err, errlen, "cannot read %s: %s", path, why(saved));
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
