/*
 * pullbox-update-copy: copies an update bundle that a less privileged user
 * may have placed (the wizard's upload, the admin's scp) into a folder only
 * root writes, so that what root verifies and installs cannot change under it.
 *
 *   pullbox-update-copy SRC DEST
 *
 * SRC is reached one folder at a time, following a link only where root
 * alone could have made it, and is opened with O_NOFOLLOW: a link in its
 * place is refused, as is anything but a regular file (a FIFO would block,
 * a device would copy a disk). DEST's folder must be root's and writable by
 * root alone; DEST must not exist (O_EXCL): it is written and fsync'ed.
 *
 * Exits 0 when copied; 1 with "refused: WHAT: WHY" on stderr (nothing is
 * left at DEST); 100 on usage errors; 111 when a file cannot be read or
 * written for another reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

#define PROG "pullbox-update-copy"
#define CHUNK (64 * 1024)

static const char *dest_path;
static int dest_dirfd = -1;
static const char *dest_name;

static void drop_dest(void)
{
    if (dest_dirfd >= 0 && dest_name)
        unlinkat(dest_dirfd, dest_name, 0);
}

static void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(int code, const char *fmt, ...)
{
    va_list ap;
    drop_dest();
    fprintf(stderr, "%s: ", PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

/* path's folder, opened by file_open_dir; *base points into buf. */
static int open_parent(const char *path, char *buf, size_t len, const char **base)
{
    if (snprintf(buf, len, "%s", path) >= (int)len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(buf, '/');
    *base = slash ? slash + 1 : buf;
    if (**base == '\0' || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0) {
        errno = EINVAL;
        return -1;
    }
    if (!slash)
        return file_open_dir(".");
    if (slash == buf)
        return file_open_dir("/");
    *slash = '\0';
    return file_open_dir(buf);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC DEST\n", PROG);
        return 100;
    }
    char sbuf[PATH_MAX], dbuf[PATH_MAX];
    const char *sbase;
    int sdir = open_parent(argv[1], sbuf, sizeof(sbuf), &sbase);
    if (sdir < 0)
        fail(errno == ELOOP ? 1 : 111, "%s%s: %s", errno == ELOOP ? "refused: path: " : "",
             argv[1], errno == ELOOP ? "a folder on the way is a symbolic link" : strerror(errno));
    int in = openat(sdir, sbase, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0 && errno == ELOOP)
        fail(1, "refused: path: %s is a symbolic link", argv[1]);
    if (in < 0)
        fail(111, "open %s: %s", argv[1], strerror(errno));
    close(sdir);
    struct stat st;
    if (fstat(in, &st) != 0)
        fail(111, "stat %s: %s", argv[1], strerror(errno));
    if (!S_ISREG(st.st_mode))
        fail(1, "refused: path: %s is not a regular file", argv[1]);

    int ddir = open_parent(argv[2], dbuf, sizeof(dbuf), &dest_name);
    if (ddir < 0)
        fail(111, "%s: %s", argv[2], strerror(errno));
    if (!file_dir_private(ddir))
        fail(111, "%s: its folder is not root's alone", argv[2]);
    int out = openat(ddir, dest_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        fail(111, "create %s: %s", argv[2], strerror(errno));
    dest_dirfd = ddir;
    dest_path = argv[2];

    static char buf[CHUNK];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(111, "read %s: %s", argv[1], strerror(errno));
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == ENOSPC || errno == EDQUOT))
                fail(1, "refused: space: no room for a copy of %s (%lld bytes) next to %s",
                     argv[1], (long long)st.st_size, dest_path);
            if (w < 0)
                fail(111, "write %s: %s", dest_path, strerror(errno));
            off += w;
        }
    }
    if (fsync(out) != 0)
        fail(errno == ENOSPC ? 1 : 111, "%s%s: %s", errno == ENOSPC ? "refused: space: " : "fsync ",
             dest_path, strerror(errno));
    if (close(out) != 0)
        fail(111, "close %s: %s", dest_path, strerror(errno));
    close(in);
    return 0;
}
