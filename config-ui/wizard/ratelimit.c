/* The login limits (see ratelimit.h): one table in one file, read, changed
 * and written back under flock, so recording an attempt and judging it are
 * one step for every process. */
#include "ratelimit.h"

#include "root.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RATELIMIT_FILE PATH_STATE "/ratelimit"
#define RATELIMIT_GLOBAL_KEEP 64    /* more than FREE plus the doublings up to MAX_WAIT */
#define RATELIMIT_MAGIC 0x70626c31u /* "pbl1": a file of another layout reads as empty */

struct rl_client {
    char key[RATELIMIT_KEY_MAX];
    long long t[RATELIMIT_FAILURES]; /* attempt times, oldest first; 0 = unused */
};

struct rl_table {
    unsigned magic;
    struct rl_client clients[RATELIMIT_CLIENTS];
    long long global[RATELIMIT_GLOBAL_KEEP]; /* every client's attempts, oldest first */
};

void ratelimit_client_key(const char *addr, char *out, size_t outlen)
{
    unsigned char a[16];
    const char *v4 = strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.') ? addr + 7 : addr;
    if (!strchr(v4, ':') || inet_pton(AF_INET6, v4, a) != 1) {
        snprintf(out, outlen, "%.*s", RATELIMIT_KEY_MAX - 1, v4);
        return;
    }
    char text[INET6_ADDRSTRLEN];
    memset(a + 8, 0, 8);
    inet_ntop(AF_INET6, a, text, sizeof(text));
    snprintf(out, outlen, "%s/64", text);
}

/* Opened and locked; the table read (zeroed if absent or of another
 * layout). The fd, or -1. */
static int rl_load(struct rl_table *tb)
{
    char path[512];
    memset(tb, 0, sizeof(*tb));
    if (root_path(path, sizeof(path), RATELIMIT_FILE) < 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    if (pread(fd, tb, sizeof(*tb), 0) != (ssize_t)sizeof(*tb) || tb->magic != RATELIMIT_MAGIC) {
        memset(tb, 0, sizeof(*tb));
        tb->magic = RATELIMIT_MAGIC;
    }
    return fd;
}

/* Written back and unlocked. 0 or -1. */
static int rl_store(int fd, const struct rl_table *tb)
{
    int rc = pwrite(fd, tb, sizeof(*tb), 0) == (ssize_t)sizeof(*tb) ? 0 : -1;
    close(fd);
    if (rc < 0)
        fprintf(stderr, "pullbox-wizard: could not record a login attempt\n");
    return rc;
}

/* Drops the times out of the window; returns how many are left (they are
 * moved to the front, oldest first). A time a little after now counts: a
 * process that read the clock before waiting for the lock sees the
 * attempts recorded meanwhile as from its future. */
static size_t rl_live(long long *t, size_t n, long long now)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] && now - t[i] < RATELIMIT_WINDOW && t[i] - now < RATELIMIT_WINDOW)
            t[k++] = t[i];
    for (size_t i = k; i < n; i++)
        t[i] = 0;
    return k;
}

static void rl_push(long long *t, size_t n, size_t *count, long long now)
{
    if (*count == n) {
        memmove(t, t + 1, (n - 1) * sizeof(t[0]));
        (*count)--;
    }
    t[(*count)++] = now;
}

/* The client's row, or the row it takes over: an empty one, else the one
 * whose newest attempt is oldest. */
static struct rl_client *rl_find(struct rl_table *tb, const char *key, long long now)
{
    struct rl_client *spare = NULL;
    long long spare_newest = 0;
    for (size_t i = 0; i < RATELIMIT_CLIENTS; i++) {
        struct rl_client *c = &tb->clients[i];
        size_t n = rl_live(c->t, RATELIMIT_FAILURES, now);
        if (n && strcmp(c->key, key) == 0)
            return c;
        long long newest = n ? c->t[n - 1] : 0;
        if (!spare || newest < spare_newest) {
            spare = c;
            spare_newest = newest;
        }
    }
    memset(spare, 0, sizeof(*spare));
    snprintf(spare->key, sizeof(spare->key), "%s", key);
    return spare;
}

/* Seconds until the next attempt from anywhere is allowed, 0 if now. */
static long rl_global_wait(const long long *g, size_t n, long long now)
{
    if (n < RATELIMIT_GLOBAL_FREE)
        return 0;
    size_t over = n - RATELIMIT_GLOBAL_FREE;
    long backoff = over >= 6 ? RATELIMIT_GLOBAL_MAX_WAIT : 1L << over;
    if (backoff > RATELIMIT_GLOBAL_MAX_WAIT)
        backoff = RATELIMIT_GLOBAL_MAX_WAIT;
    long long wait = g[n - 1] + backoff - now;
    return wait > 0 ? (long)wait : 0;
}

enum ratelimit_verdict ratelimit_begin(const char *addr, long long now, long *wait)
{
    static struct rl_table tb; /* 8 KiB: not on the stack */
    char key[RATELIMIT_KEY_MAX];
    *wait = 0;
    ratelimit_client_key(addr, key, sizeof(key));
    int fd = rl_load(&tb);
    if (fd < 0) {
        *wait = RATELIMIT_WINDOW;
        return RATELIMIT_ERROR;
    }
    struct rl_client *c = rl_find(&tb, key, now);
    size_t n = rl_live(c->t, RATELIMIT_FAILURES, now);
    size_t g = rl_live(tb.global, RATELIMIT_GLOBAL_KEEP, now);
    if (n >= RATELIMIT_FAILURES) {
        *wait = (long)(c->t[0] + RATELIMIT_WINDOW - now);
        if (*wait < 1)
            *wait = 1;
        close(fd);
        return RATELIMIT_CLIENT;
    }
    *wait = rl_global_wait(tb.global, g, now);
    if (*wait > 0) {
        close(fd);
        return RATELIMIT_GLOBAL;
    }
    rl_push(c->t, RATELIMIT_FAILURES, &n, now);
    rl_push(tb.global, RATELIMIT_GLOBAL_KEEP, &g, now);
    if (rl_store(fd, &tb) < 0) {
        *wait = RATELIMIT_WINDOW;
        return RATELIMIT_ERROR;
    }
    return RATELIMIT_GO;
}

void ratelimit_clear(const char *addr)
{
    static struct rl_table tb;
    char key[RATELIMIT_KEY_MAX];
    ratelimit_client_key(addr, key, sizeof(key));
    int fd = rl_load(&tb);
    if (fd < 0)
        return;
    for (size_t i = 0; i < RATELIMIT_CLIENTS; i++)
        if (strcmp(tb.clients[i].key, key) == 0)
            memset(&tb.clients[i], 0, sizeof(tb.clients[i]));
    size_t g = 0;
    while (g < RATELIMIT_GLOBAL_KEEP && tb.global[g])
        g++;
    if (g)
        tb.global[g - 1] = 0;
    rl_store(fd, &tb);
}
