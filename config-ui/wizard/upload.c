/* Streamed multipart upload to a file (see upload.h). */
#include "upload.h"

#include "fileio.h"
#include "session.h"

#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)
#define HEADERS_MAX 2048 /* one part's header lines */
#define TOKEN_MAX 256
#define BOUNDARY_MAX 70 /* RFC 2046 */
#define STALE_SECONDS 3600
#define UPLOAD_PARTIAL ".upload.part"

struct reader {
    FILE *in;
    unsigned long long left; /* body bytes not read yet */
    unsigned long long total;
    unsigned char buf[BUF_SIZE];
    size_t len;
};

/* Reads more of the body into the buffer. Returns the bytes added; 0 at
 * the body's end or when the client's stream ended early (r->left > 0). */
static size_t fill(struct reader *r)
{
    size_t room = sizeof(r->buf) - r->len;
    if (room > r->left)
        room = (size_t)r->left;
    if (room == 0)
        return 0;
    size_t got = fread(r->buf + r->len, 1, room, r->in);
    r->len += got;
    r->left -= got;
    return got;
}

static void consume(struct reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

/* Fills until needle is in the first `within` bytes; its offset or -1. */
static long find(struct reader *r, const char *needle, size_t nlen, size_t within)
{
    for (;;) {
        size_t span = r->len < within ? r->len : within;
        const unsigned char *p = memmem(r->buf, span, needle, nlen);
        if (p)
            return (long)(p - r->buf);
        if (r->len >= within || fill(r) == 0)
            return -1;
    }
}

static int boundary_of(const char *ctype, char *out, size_t outlen)
{
    if (strncasecmp(ctype, "multipart/form-data", 19) != 0)
        return -1;
    const char *b = strstr(ctype, "boundary=");
    if (!b)
        return -1;
    b += 9;
    size_t n;
    if (*b == '"') {
        b++;
        n = strcspn(b, "\"");
    } else {
        n = strcspn(b, "; \t");
    }
    if (n == 0 || n > BOUNDARY_MAX || n >= outlen)
        return -1;
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}

/* True when the part's headers (h, n bytes) name the field `name`. */
static bool part_named(const char *h, size_t n, const char *name, bool file)
{
    char want[80];
    snprintf(want, sizeof(want), "name=\"%s\"", name);
    const char *p = memmem(h, n, want, strlen(want));
    /* "name=" and not the tail of "filename=" */
    bool named = p && (p == h || p[-1] == ' ' || p[-1] == ';');
    return named && (!file || memmem(h, n, "filename=\"", 10) != NULL);
}

static int refuse(char *msg, size_t msglen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(char *msg, size_t msglen, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return status;
}

/* The one temporary file: one upload at a time, so at most one bundle and
 * one partial one are ever on the disk. A partial file older than
 * STALE_SECONDS is from an upload that was killed: it is replaced. */
static int open_partial(int dfd, char *msg, size_t msglen)
{
    struct stat st;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd =
            openat(dfd, UPLOAD_PARTIAL, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            break;
        if (fstatat(dfd, UPLOAD_PARTIAL, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            time(NULL) - st.st_mtime < STALE_SECONDS)
            return -refuse(msg, msglen, 409,
                           "Another upload is in progress. Wait for it to finish and try again.");
        unlinkat(dfd, UPLOAD_PARTIAL, 0);
    }
    return -refuse(msg, msglen, 500, "The upload folder cannot be written: %s.", strerror(errno));
}

static struct reader rd; /* 256 KiB: not on the stack */

/* Reads the token part and the file part's headers. 0 or a status. */
static int read_heads(const struct wiz *w, const char *delim, size_t dlen, char *msg, size_t msglen)
{
    /* the body opens with the delimiter (no CRLF before the first one) */
    if (find(&rd, delim + 2, dlen - 2, dlen) != 0)
        return refuse(msg, msglen, 400, "The upload is not a form the wizard sent.");
    consume(&rd, dlen - 2);
    for (int part = 0; part < 2; part++) {
        if (find(&rd, "\r\n", 2, 2) != 0)
            return refuse(msg, msglen, 400, "The upload ended early or is malformed.");
        consume(&rd, 2);
        long end = find(&rd, "\r\n\r\n", 4, HEADERS_MAX);
        if (end < 0)
            return refuse(msg, msglen, 400, "A part's header lines are missing or too long.");
        bool good =
            part_named((const char *)rd.buf, (size_t)end, part == 0 ? "csrf" : "bundle", part == 1);
        consume(&rd, (size_t)end + 4);
        if (!good)
            return refuse(msg, msglen, part == 0 ? 403 : 400, "%s",
                          part == 0 ? "Refused: the form's security token must come first: "
                                      "reload the page and send it again. Nothing was stored."
                                    : "The form has no file field called bundle.");
        if (part == 1)
            return 0;
        long t = find(&rd, delim, dlen, TOKEN_MAX + dlen);
        if (t < 0)
            return refuse(msg, msglen, 400, "The security token is missing or too long.");
        char token[TOKEN_MAX + 1];
        memcpy(token, rd.buf, (size_t)t);
        token[t] = '\0';
        consume(&rd, (size_t)t + dlen);
        if (!w->sess.hash[0] || !session_csrf_ok(&w->sess, token))
            return refuse(msg, msglen, 403,
                          "Refused: the form's security token is wrong or your session has "
                          "expired: reload the page and send it again. Nothing was stored.");
    }
    return 0;
}

/* Copies the file part to fd up to the closing delimiter. 0 or a status. */
static int copy_file(int fd, const char *delim, size_t dlen, unsigned long long *size, char *msg,
                     size_t msglen)
{
    *size = 0;
    for (;;) {
        const unsigned char *p = memmem(rd.buf, rd.len, delim, dlen);
        size_t keep = p ? 0 : dlen - 1, out = p ? (size_t)(p - rd.buf) : 0;
        if (!p && rd.len > keep)
            out = rd.len - keep;
        if (out > 0 && file_write_all(fd, rd.buf, out) != 0)
            return refuse(msg, msglen, errno == ENOSPC ? 507 : 500,
                          "The upload could not be stored: %s. Nothing was kept.", strerror(errno));
        *size += out;
        consume(&rd, out);
        if (p) {
            consume(&rd, dlen);
            break;
        }
        if (fill(&rd) == 0)
            return rd.left == 0
                       ? refuse(msg, msglen, 400,
                                "The form ended without its end marker. Nothing was kept.")
                       : refuse(msg, msglen, 400,
                                "The upload was cut short: %llu of its %llu bytes arrived. "
                                "Nothing was kept; send it again.",
                                rd.total - rd.left, rd.total);
    }
    /* the closing delimiter is "--" and the end of the body: one file only */
    if (find(&rd, "--", 2, 2) != 0)
        return refuse(msg, msglen, 400, "The form may carry one file only.");
    do
        rd.len = 0;
    while (fill(&rd) > 0);
    if (rd.left > 0)
        return refuse(msg, msglen, 400,
                      "The upload was cut short: %llu of its %llu bytes arrived. Nothing was "
                      "kept; send it again.",
                      rd.total - rd.left, rd.total);
    return 0;
}

int upload_stream(const struct wiz *w, FILE *in, const char *dir, const char *name,
                  unsigned long long max, unsigned long long reserve, unsigned long long *size,
                  char *msg, size_t msglen)
{
    char boundary[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 8];
    struct statvfs vfs;
    const struct cgi_req *r = &w->req;
    if (r->content_length < 0)
        return refuse(msg, msglen, 411, "The upload has no Content-Length.");
    if ((unsigned long long)r->content_length > max)
        return refuse(msg, msglen, 413,
                      "The upload is %llu MiB; a bundle may be at most %llu MiB. It was refused "
                      "before anything was stored.",
                      (unsigned long long)r->content_length >> 20, max >> 20);
    if (boundary_of(r->content_type, boundary, sizeof(boundary)) != 0)
        return refuse(msg, msglen, 400, "The upload is not a multipart form.");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return refuse(msg, msglen, 500, "The upload folder %s is missing: %s.", dir,
                      strerror(errno));
    if (fstatvfs(dfd, &vfs) == 0 && (unsigned long long)vfs.f_bavail * vfs.f_frsize <
                                        (unsigned long long)r->content_length + reserve) {
        close(dfd);
        return refuse(msg, msglen, 507,
                      "Not enough space: the upload is %llu bytes, the data disk has %llu bytes "
                      "free and keeps %llu MiB for the queue server. Nothing was stored.",
                      (unsigned long long)r->content_length,
                      (unsigned long long)vfs.f_bavail * vfs.f_frsize, reserve >> 20);
    }
    size_t dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    rd.in = in;
    rd.left = rd.total = (unsigned long long)r->content_length;
    rd.len = 0;
    int status = read_heads(w, delim, dlen, msg, msglen);
    if (status != 0) {
        close(dfd);
        return status;
    }
    int fd = open_partial(dfd, msg, msglen);
    if (fd < 0) {
        close(dfd);
        return -fd;
    }
    status = copy_file(fd, delim, dlen, size, msg, msglen);
    if (status == 0 && fsync(fd) != 0)
        status = refuse(msg, msglen, 507, "The upload could not be stored: %s.", strerror(errno));
    close(fd);
    if (status == 0 && renameat(dfd, UPLOAD_PARTIAL, dfd, name) != 0)
        status = refuse(msg, msglen, 500, "The upload could not be stored: %s.", strerror(errno));
    if (status != 0)
        unlinkat(dfd, UPLOAD_PARTIAL, 0);
    else
        fsync(dfd);
    close(dfd);
    return status;
}
