/* The login rate limit (see ratelimit.h): one small file per address
 * holding the times of its recent failures, updated under flock because
 * lighttpd runs one CGI process per request, in parallel. */
#include "ratelimit.h"

#include "root.h"
#include "token.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* <state>/rl-<sha256 of the address>: no address text in a file name */
static int rl_path(const char *addr, char *path, size_t pathlen)
{
    char hash[65], rel[160];
    token_sha256_hex(addr, hash);
    snprintf(rel, sizeof(rel), "%s/rl-%s", PATH_STATE, hash);
    return root_path(path, pathlen, rel);
}

static int rl_open(const char *addr, int flags)
{
    char path[512];
    if (rl_path(addr, path, sizeof(path)) < 0)
        return -1;
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads the failure times still inside the window into t (oldest first). */
static size_t rl_read(int fd, long long now, long long t[RATELIMIT_FAILURES])
{
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    size_t count = 0;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = buf, *end;
    for (;;) {
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        p = end;
        if (now - v < RATELIMIT_WINDOW && v <= now) {
            if (count == RATELIMIT_FAILURES) {
                memmove(t, t + 1, (RATELIMIT_FAILURES - 1) * sizeof(t[0]));
                count--;
            }
            t[count++] = v;
        }
    }
    return count;
}

bool ratelimit_allowed(const char *addr, long long now, long *wait)
{
    long long t[RATELIMIT_FAILURES];
    int fd = rl_open(addr, O_RDONLY);
    *wait = 0;
    if (fd < 0)
        return true;
    size_t n = rl_read(fd, now, t);
    close(fd);
    if (n < RATELIMIT_FAILURES)
        return true;
    *wait = (long)(t[0] + RATELIMIT_WINDOW - now);
    if (*wait < 1)
        *wait = 1;
    return false;
}

void ratelimit_failed(const char *addr, long long now)
{
    long long t[RATELIMIT_FAILURES];
    int fd = rl_open(addr, O_RDWR | O_CREAT);
    if (fd < 0)
        return;
    size_t n = rl_read(fd, now, t);
    if (n == RATELIMIT_FAILURES) {
        memmove(t, t + 1, (RATELIMIT_FAILURES - 1) * sizeof(t[0]));
        n--;
    }
    t[n++] = now;
    char buf[512];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%lld\n", t[i]);
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, len, 0) != (ssize_t)len)
        fprintf(stderr, "pullbox-wizard: could not record a failed login\n");
    close(fd);
}

void ratelimit_clear(const char *addr)
{
    char path[512];
    if (rl_path(addr, path, sizeof(path)) == 0)
        unlink(path);
}
