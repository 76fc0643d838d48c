/* Wizard sessions on disk (see session.h). A session file is made only by
 * session_create; a save replaces it (temporary file, rename: a reader never
 * sees half a file, and a CGI ended mid-way leaves the old one) only while
 * it still exists, and saves and removals hold the folder's lock, so a
 * removal cannot fall between a save's check and its rename. */
#include "session.h"

#include "cgi.h"
#include "fileio.h"
#include "root.h"
#include "token.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_FILE_MAX 1024
#define SESSION_SUFFIX ".session"
#define SESSION_LOCK PATH_STATE "/sessions.lock"

static int session_file(const char *hash, const char *suffix, char *out, size_t outlen)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "%s/%s%s", PATH_STATE, hash, suffix);
    return root_path(out, outlen, rel);
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static long long field_ll(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

/* A 64-hex-digit field "key<hex>" of text into out; false if absent. */
static bool field_hex(const char *text, const char *key, char out[SESSION_ID_HEX + 1])
{
    const char *p = strstr(text, key);
    if (!p || strlen(p + strlen(key)) < SESSION_ID_HEX)
        return false;
    memcpy(out, p + strlen(key), SESSION_ID_HEX);
    out[SESSION_ID_HEX] = '\0';
    return all_hex(out, SESSION_ID_HEX);
}

void session_password_tag(const char *admin_hash, char out[SESSION_ID_HEX + 1])
{
    if (!admin_hash || !admin_hash[0])
        out[0] = '\0';
    else
        token_sha256_hex(admin_hash, out);
}

static int session_lock(void)
{
    char path[512];
    if (root_path(path, sizeof(path), SESSION_LOCK) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void session_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* The file's text into buf. 0 or -1. */
static int session_read(const char *path, char *buf, size_t buflen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, buf, buflen - 1, 0);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Called first on every request. The cookie's id is only ever looked up by
 * its hash; an id that is not 64 hex digits is not looked up at all. */
bool session_load(const char *cookie_header, const char *pwtag, long long now, struct session *s)
{
    char path[512], text[SESSION_FILE_MAX];
    memset(s, 0, sizeof(*s));
    if (!cgi_cookie_get(cookie_header, SESSION_COOKIE, s->id, sizeof(s->id)) ||
        strlen(s->id) != SESSION_ID_HEX || !all_hex(s->id, SESSION_ID_HEX))
        goto none;
    token_sha256_hex(s->id, s->hash);
    if (session_file(s->hash, SESSION_SUFFIX, path, sizeof(path)) < 0 ||
        session_read(path, text, sizeof(text)) < 0)
        goto none;
    if (!field_hex(text, "csrf=", s->csrf) || !field_hex(text, "pw=", s->pwtag))
        goto none;
    s->authed = true;
    s->seen = field_ll(text, "seen=");
    s->net_confirm_until = field_ll(text, "net-confirm-until=");
    /* expired, from the future, or opened with another password: gone */
    if (now - s->seen > SESSION_IDLE_SECONDS || s->seen > now + 60 || !pwtag || !pwtag[0] ||
        !token_equal(pwtag, s->pwtag)) {
        session_destroy(s);
        goto none;
    }
    return true;
none:
    memset(s, 0, sizeof(*s));
    return false;
}

static int session_format(const struct session *s, char text[SESSION_FILE_MAX])
{
    return snprintf(text, SESSION_FILE_MAX, "csrf=%s\npw=%s\nseen=%lld\nnet-confirm-until=%lld\n",
                    s->csrf, s->pwtag, s->seen, s->net_confirm_until);
}

int session_save(struct session *s, long long now)
{
    char path[512], text[SESSION_FILE_MAX], err[256];
    struct stat st;
    if (!s->hash[0] || session_file(s->hash, SESSION_SUFFIX, path, sizeof(path)) < 0)
        return -1;
    s->seen = now;
    int n = session_format(s, text);
    int lock = session_lock();
    if (lock < 0)
        return -1;
    /* never made again: a session removed meanwhile (logout) stays removed */
    int rc = lstat(path, &st) == 0
                 ? file_write_atomic(path, text, (size_t)n, 0600, err, sizeof(err))
                 : -1;
    session_unlock(lock);
    if (rc < 0 && errno != ENOENT)
        fprintf(stderr, "pullbox-wizard: session: %s\n", err);
    return rc;
}

/* ---- the folder: expiry and the cap on live sessions ---- */

static const char *const session_stage_names[] = {"cert", "restore"};

static void session_unlink_all(const char *hash)
{
    char path[512];
    if (session_file(hash, SESSION_SUFFIX, path, sizeof(path)) == 0)
        unlink(path);
    for (size_t i = 0; i < sizeof(session_stage_names) / sizeof(session_stage_names[0]); i++) {
        char suffix[64];
        snprintf(suffix, sizeof(suffix), ".%s", session_stage_names[i]);
        if (session_file(hash, suffix, path, sizeof(path)) == 0)
            unlink(path);
    }
}

/* Removes expired files; then, while `keep` or more sessions remain, the
 * one saved longest ago. Called with the folder's lock held. */
static void session_prune(long long now, int keep)
{
    char dir[512];
    if (root_path(dir, sizeof(dir), PATH_STATE) < 0)
        return;
    for (int round = 0; round <= SESSION_MAX; round++) {
        DIR *d = opendir(dir);
        if (!d)
            return;
        int live = 0;
        char oldest[SESSION_ID_HEX + 1] = "";
        long long oldest_mtime = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *dot = strchr(e->d_name, '.');
            if (!dot || dot - e->d_name != SESSION_ID_HEX)
                continue;
            char path[800];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (lstat(path, &st) != 0)
                continue;
            if (now - (long long)st.st_mtime > SESSION_IDLE_SECONDS) {
                unlink(path);
                continue;
            }
            if (strcmp(dot, SESSION_SUFFIX) != 0)
                continue;
            live++;
            if (!oldest[0] || (long long)st.st_mtime < oldest_mtime) {
                snprintf(oldest, sizeof(oldest), "%.*s", SESSION_ID_HEX, e->d_name);
                oldest_mtime = (long long)st.st_mtime;
            }
        }
        closedir(d);
        if (keep < 0 || live < keep || !oldest[0])
            return;
        session_unlink_all(oldest);
    }
}

int session_create(struct session *s, const char *pwtag, long long now)
{
    char path[512], text[SESSION_FILE_MAX];
    memset(s, 0, sizeof(*s));
    if (!pwtag || strlen(pwtag) != SESSION_ID_HEX || token_hex(s->id, SESSION_ID_HEX / 2) < 0 ||
        token_hex(s->csrf, SESSION_ID_HEX / 2) < 0)
        return -1;
    token_sha256_hex(s->id, s->hash);
    snprintf(s->pwtag, sizeof(s->pwtag), "%s", pwtag);
    s->authed = true;
    s->set_cookie = true;
    s->seen = now;
    int n = session_format(s, text);
    if (session_file(s->hash, SESSION_SUFFIX, path, sizeof(path)) < 0)
        return -1;
    int lock = session_lock();
    if (lock < 0)
        return -1;
    session_prune(now, SESSION_MAX);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = fd >= 0 && write(fd, text, (size_t)n) == (ssize_t)n ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "pullbox-wizard: session: create: %s\n", strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(path);
    session_unlock(lock);
    if (rc < 0)
        s->hash[0] = '\0';
    return rc;
}

void session_destroy(struct session *s)
{
    if (!s->hash[0])
        return;
    int lock = session_lock();
    session_unlink_all(s->hash);
    session_unlock(lock);
    s->hash[0] = '\0'; /* gone: nothing saves it again */
}

int session_stage_path(const struct session *s, const char *what, char *out, size_t outlen)
{
    char suffix[64];
    snprintf(suffix, sizeof(suffix), ".%s", what);
    return session_file(s->hash, suffix, out, outlen);
}

void session_cookie(const struct session *s, char *out, size_t outlen)
{
    if (s)
        snprintf(out, outlen, "%s=%s; Secure; HttpOnly; SameSite=Strict; Path=/", SESSION_COOKIE,
                 s->id);
    else
        snprintf(out, outlen, "%s=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
                 SESSION_COOKIE);
}

bool session_csrf_ok(const struct session *s, const char *token)
{
    return token && s->csrf[0] && token_equal(token, s->csrf);
}

void session_purge(long long now)
{
    int lock = session_lock();
    session_prune(now, -1);
    session_unlock(lock);
}
