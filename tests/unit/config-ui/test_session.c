/* Unit tests for config-ui/wizard/session.c, ratelimit.c and guard.c:
 * sessions stored by hash with idle expiry, the CSRF token, the login rate
 * limit, and the same-origin rule for POSTs. Runs against a temporary
 * settings root (PULLBOX_ROOT). */
#include "../../../config-ui/wizard/cgi.c"
#include "../../../config-ui/wizard/guard.c"
#include "../../../config-ui/wizard/ratelimit.c"
#include "../../../config-ui/wizard/session.c"

#include "tap.h"

#include <stdlib.h>
#include <sys/stat.h>

static char root[] = "/tmp/test_session.XXXXXX";

static int count_files(void)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/%s", root, PATH_STATE);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_sessions(void)
{
    struct session s, t;
    char cookie[256], header[300];
    long long now = 1800000000;

    ok(session_create(&s, false, now) == 0 && strlen(s.id) == 64 && strlen(s.csrf) == 64,
       "a new session has a 256-bit id and CSRF token");
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s.session", root, PATH_STATE, s.hash);
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "stored by its hash, mode 0600");
    char *text = NULL, err[256];
    file_read_all(path, 4096, &text, err, sizeof(err));
    ok(text && !strstr(text, s.id), "the id itself is not on disk");
    free(text);

    session_cookie(&s, cookie, sizeof(cookie));
    ok(strstr(cookie, "Secure; HttpOnly; SameSite=Strict; Path=/") != NULL, "the cookie's attributes");
    snprintf(header, sizeof(header), "other=1; %s=%s", SESSION_COOKIE, s.id);
    ok(session_load(header, now + 60, &t) && strcmp(t.csrf, s.csrf) == 0 && !t.authed,
       "the cookie finds the session");
    ok(session_csrf_ok(&t, s.csrf), "its CSRF token is accepted");
    char bad[65];
    memcpy(bad, s.csrf, 65);
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    ok(!session_csrf_ok(&t, bad) && !session_csrf_ok(&t, "") && !session_csrf_ok(&t, NULL),
       "a wrong, empty or missing token is refused");

    t.authed = true;
    ok(session_save(&t, now + 100) == 0, "saved again");
    ok(session_load(header, now + 100 + SESSION_IDLE_SECONDS - 1, &t) && t.authed,
       "alive until 30 min without a request");
    ok(!session_load(header, now + 100 + 2 * SESSION_IDLE_SECONDS, &t) && stat(path, &st) != 0,
       "after that it is gone, file and all");

    snprintf(header, sizeof(header), "%s=../../etc/passwd", SESSION_COOKIE);
    ok(!session_load(header, now, &t), "a cookie that is not 64 hex digits is not looked up");
    snprintf(header, sizeof(header), "%s=%064d", SESSION_COOKIE, 0);
    ok(!session_load(header, now, &t), "an unknown id is no session");

    ok(session_create(&s, true, now) == 0, "another session");
    snprintf(header, sizeof(header), "%s=%s", SESSION_COOKIE, s.id);
    session_destroy(&s);
    ok(!session_load(header, now, &t) && s.hash[0] == '\0', "a destroyed session (logout) is gone");

    int before = count_files();
    session_create(&s, false, now - 2 * SESSION_IDLE_SECONDS);
    snprintf(path, sizeof(path), "%s/%s/%s.session", root, PATH_STATE, s.hash);
    struct timespec old[2] = {{.tv_sec = now - 2 * SESSION_IDLE_SECONDS}, {.tv_sec = now - 2 * SESSION_IDLE_SECONDS}};
    utimensat(AT_FDCWD, path, old, 0);
    session_purge(now);
    ok(count_files() == before && stat(path, &st) != 0, "purge removes idle sessions only");
}

static void test_ratelimit(void)
{
    long long now = 1800000000;
    long wait = 0;
    for (int i = 0; i < RATELIMIT_FAILURES; i++) {
        ok(ratelimit_allowed("192.0.2.1", now + i, &wait), "allowed while under the limit");
        ratelimit_failed("192.0.2.1", now + i);
    }
    ok(!ratelimit_allowed("192.0.2.1", now + 10, &wait) && wait == RATELIMIT_WINDOW - 10,
       "the sixth attempt waits until the first failure leaves the window");
    ok(ratelimit_allowed("192.0.2.2", now + 10, &wait), "another address is not limited");
    ok(ratelimit_allowed("192.0.2.1", now + RATELIMIT_WINDOW, &wait),
       "once the oldest failure is out of the window, one more try");
    ratelimit_clear("192.0.2.1");
    ok(ratelimit_allowed("192.0.2.1", now + 11, &wait), "a success clears the failures");
}

static void test_origin(void)
{
    struct cgi_req r = {.https = true, .host = "pullbox.lan"};
    char err[300];
    r.origin = "https://pullbox.lan";
    ok(guard_same_origin(&r, err, sizeof(err)), "the same origin passes");
    r.origin = "https://evil.example";
    ok(!guard_same_origin(&r, err, sizeof(err)) && strstr(err, "another site"), "another origin fails");
    r.origin = "http://pullbox.lan";
    ok(!guard_same_origin(&r, err, sizeof(err)), "the same host over http fails");
    r.origin = "null";
    r.fetch_site = "same-origin";
    ok(guard_same_origin(&r, err, sizeof(err)),
       "Origin null (no-referrer policy) with Sec-Fetch-Site same-origin passes");
    r.fetch_site = "cross-site";
    ok(!guard_same_origin(&r, err, sizeof(err)), "Origin null from another site fails");
    r.origin = NULL;
    r.fetch_site = NULL;
    r.referer = "https://pullbox.lan/site";
    ok(guard_same_origin(&r, err, sizeof(err)), "a Referer of this site passes");
    r.referer = "https://pullbox.lan.evil.example/";
    ok(!guard_same_origin(&r, err, sizeof(err)), "a Referer that only starts alike fails");
    r.referer = NULL;
    ok(!guard_same_origin(&r, err, sizeof(err)) && strstr(err, "Origin"),
       "a request that says nothing of its origin fails");
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    char state[600];
    snprintf(state, sizeof(state), "%s/data/config-ui/state", root);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", state);
    if (system(cmd) != 0)
        return 1;
    setenv("PULLBOX_ROOT", root, 1);
    subtest("sessions", test_sessions);
    subtest("login rate limit", test_ratelimit);
    subtest("same origin", test_origin);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        note("could not remove %s", root);
    return done_testing();
}
