/* Wizard sessions on disk (see session.h). */
#include "session.h"

#include "cgi.h"
#include "fileio.h"
#include "root.h"
#include "token.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_FILE_MAX 1024
#define SESSION_SUFFIX ".session"

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

/* Called first on every request. The cookie's id is only ever looked up by
 * its hash; an id that is not 64 hex digits is not looked up at all. */
bool session_load(const char *cookie_header, long long now, struct session *s)
{
    memset(s, 0, sizeof(*s));
    if (!cgi_cookie_get(cookie_header, SESSION_COOKIE, s->id, sizeof(s->id)) ||
        strlen(s->id) != SESSION_ID_HEX || !all_hex(s->id, SESSION_ID_HEX))
        goto none;
    token_sha256_hex(s->id, s->hash);
    char path[512], err[256], *text = NULL;
    if (session_file(s->hash, SESSION_SUFFIX, path, sizeof(path)) < 0 ||
        file_read_all(path, SESSION_FILE_MAX, &text, err, sizeof(err)) < 0)
        goto none;
    const char *csrf = strstr(text, "csrf=");
    if (!csrf || strlen(csrf + 5) < SESSION_ID_HEX) {
        free(text);
        goto none;
    }
    memcpy(s->csrf, csrf + 5, SESSION_ID_HEX);
    s->csrf[SESSION_ID_HEX] = '\0';
    if (!all_hex(s->csrf, SESSION_ID_HEX)) {
        free(text);
        goto none;
    }
    s->authed = field_ll(text, "auth=") == 1;
    s->seen = field_ll(text, "seen=");
    s->net_confirm_until = field_ll(text, "net-confirm-until=");
    free(text);
    if (now - s->seen > SESSION_IDLE_SECONDS || s->seen > now + 60) {
        session_destroy(s);
        goto none;
    }
    return true;
none:
    memset(s, 0, sizeof(*s));
    return false;
}

int session_save(struct session *s, long long now)
{
    char path[512], text[SESSION_FILE_MAX], err[256];
    s->seen = now;
    int n = snprintf(text, sizeof(text), "csrf=%s\nauth=%d\nseen=%lld\nnet-confirm-until=%lld\n",
                     s->csrf, s->authed ? 1 : 0, s->seen, s->net_confirm_until);
    if (session_file(s->hash, SESSION_SUFFIX, path, sizeof(path)) < 0 ||
        file_write_atomic(path, text, (size_t)n, 0600, err, sizeof(err)) < 0) {
        fprintf(stderr, "pullbox-wizard: session: %s\n", err);
        return -1;
    }
    return 0;
}

int session_create(struct session *s, bool authed, long long now)
{
    memset(s, 0, sizeof(*s));
    if (token_hex(s->id, SESSION_ID_HEX / 2) < 0 || token_hex(s->csrf, SESSION_ID_HEX / 2) < 0)
        return -1;
    token_sha256_hex(s->id, s->hash);
    s->authed = authed;
    s->set_cookie = true;
    return session_save(s, now);
}

static const char *const session_stage_names[] = {"cert", "restore"};

void session_destroy(struct session *s)
{
    char path[512];
    if (!s->hash[0])
        return;
    if (session_file(s->hash, SESSION_SUFFIX, path, sizeof(path)) == 0)
        unlink(path);
    for (size_t i = 0; i < sizeof(session_stage_names) / sizeof(session_stage_names[0]); i++)
        if (session_stage_path(s, session_stage_names[i], path, sizeof(path)) == 0)
            unlink(path);
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

/* Called at login and claim: the folder then holds only live sessions. The
 * file's mtime is its last save, so no file needs to be read. */
void session_purge(long long now)
{
    char dir[512];
    if (root_path(dir, sizeof(dir), PATH_STATE) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *dot = strchr(e->d_name, '.');
        if (!dot || dot - e->d_name != SESSION_ID_HEX)
            continue;
        char path[800];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && now - (long long)st.st_mtime > SESSION_IDLE_SECONDS)
            unlink(path);
    }
    closedir(d);
}
