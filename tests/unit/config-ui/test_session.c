/* Unit tests for config-ui/wizard/session.c, formtoken.c, ratelimit.c,
 * hashslot.c and guard.c: sessions stored by hash with idle expiry, a cap
 * and the password they were opened with, the stateless form token, the
 * login limits (per client, per /64, global backoff, atomic under parallel
 * processes), the bound on parallel hashes, and the same-origin rule for
 * POSTs. Runs against a temporary settings root (PULLBOX_ROOT). */
#include "../../../config-ui/wizard/cgi.c"
#include "../../../config-ui/wizard/formtoken.c"
#include "../../../config-ui/wizard/guard.c"
#include "../../../config-ui/wizard/hashslot.c"
#include "../../../config-ui/wizard/ratelimit.c"
#include "../../../config-ui/wizard/session.c"

#include "fileio.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char root[] = "/tmp/test_session.XXXXXX";

/* ok() with a printf message, the condition evaluated first */
static char okf_msg[300];
#define okf(cond, ...)                                                                             \
    do {                                                                                           \
        int okf_c = !!(cond);                                                                      \
        snprintf(okf_msg, sizeof(okf_msg), __VA_ARGS__);                                           \
        tap_ok(okf_c, __FILE__, __LINE__, okf_msg);                                                \
    } while (0)

/* Files in the state folder whose name ends in suffix ("" = every file). */
static int count_state(const char *suffix)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/%s", root, PATH_STATE);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        n += e->d_name[0] != '.' && len >= sl && strcmp(e->d_name + len - sl, suffix) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static void test_sessions(void)
{
    struct session s, t;
    char cookie[256], header[300], tag[65], tag2[65];
    long long now = (long long)time(NULL);

    session_password_tag("$y$j9T$salt$hash-one", tag);
    session_password_tag("$y$j9T$salt$hash-two", tag2);
    session_password_tag("", t.pwtag);
    okf(strlen(tag) == 64 && strcmp(tag, tag2) != 0 && t.pwtag[0] == '\0',
       "a password hash has a tag; no password has none");
    okf(session_create(&s, t.pwtag, now) < 0, "no session without a password");
    okf(session_create(&s, tag, now) == 0 && strlen(s.id) == 64 && strlen(s.csrf) == 64 && s.authed,
       "a new session has a 256-bit id and CSRF token, and is logged in");
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s.session", root, PATH_STATE, s.hash);
    struct stat st;
    okf(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "stored by its hash, mode 0600");
    char *text = NULL, err[256];
    file_read_all(path, 4096, &text, err, sizeof(err));
    okf(text && !strstr(text, s.id), "the id itself is not on disk");
    free(text);

    session_cookie(&s, cookie, sizeof(cookie));
    okf(strstr(cookie, "Secure; HttpOnly; SameSite=Strict; Path=/") != NULL, "the cookie's attributes");
    snprintf(header, sizeof(header), "other=1; %s=%s", SESSION_COOKIE, s.id);
    okf(session_load(header, tag, now + 60, &t) && strcmp(t.csrf, s.csrf) == 0 && t.authed,
       "the cookie finds the session");
    okf(session_csrf_ok(&t, s.csrf), "its CSRF token is accepted");
    char bad[65];
    memcpy(bad, s.csrf, 65);
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    okf(!session_csrf_ok(&t, bad) && !session_csrf_ok(&t, "") && !session_csrf_ok(&t, NULL),
       "a wrong, empty or missing token is refused");

    okf(session_save(&t, now + 100) == 0, "saved again");
    okf(session_load(header, tag, now + 100 + SESSION_IDLE_SECONDS - 1, &t) && t.authed,
       "alive until 30 min without a request");
    okf(!session_load(header, tag, now + 100 + 2 * SESSION_IDLE_SECONDS, &t) && stat(path, &st) != 0,
       "after that it is gone, file and all");

    snprintf(header, sizeof(header), "%s=../../etc/passwd", SESSION_COOKIE);
    okf(!session_load(header, tag, now, &t), "a cookie that is not 64 hex digits is not looked up");
    snprintf(header, sizeof(header), "%s=%064d", SESSION_COOKIE, 0);
    okf(!session_load(header, tag, now, &t), "an unknown id is no session");

    /* a request that was running while the admin logged out */
    okf(session_create(&s, tag, now) == 0, "another session");
    snprintf(header, sizeof(header), "%s=%s", SESSION_COOKIE, s.id);
    struct session running;
    okf(session_load(header, tag, now, &running), "a slow request loads it");
    session_destroy(&s);
    okf(!session_load(header, tag, now, &t) && s.hash[0] == '\0', "a destroyed session (logout) is gone");
    okf(session_save(&running, now + 5) < 0 && !session_load(header, tag, now + 5, &t),
       "the slow request's save does not bring it back");

    /* a password change ends every session */
    okf(session_create(&s, tag, now) == 0, "a session of the first password");
    snprintf(header, sizeof(header), "%s=%s", SESSION_COOKIE, s.id);
    snprintf(path, sizeof(path), "%s/%s/%s.session", root, PATH_STATE, s.hash);
    okf(!session_load(header, tag2, now, &t) && stat(path, &st) != 0,
       "once the password is another, the session is void and removed");
    okf(session_create(&s, tag, now) == 0, "one more");
    snprintf(header, sizeof(header), "%s=%s", SESSION_COOKIE, s.id);
    okf(!session_load(header, "", now, &t), "unreadable secrets: no session is valid");

    /* idle files go at the next login; at most SESSION_MAX live sessions */
    session_create(&s, tag, now);
    snprintf(path, sizeof(path), "%s/%s/%s.session", root, PATH_STATE, s.hash);
    struct timespec old[2] = {{.tv_sec = now - 2 * SESSION_IDLE_SECONDS}, {.tv_sec = now - 2 * SESSION_IDLE_SECONDS}};
    utimensat(AT_FDCWD, path, old, 0);
    int before = count_state(".session");
    session_purge(now);
    okf(count_state(".session") == before - 1 && stat(path, &st) != 0, "purge removes idle sessions only");

    char first[600] = "";
    for (int i = 0; i < SESSION_MAX + 5; i++) {
        okf(session_create(&s, tag, now) == 0, "session %d of %d", i + 1, SESSION_MAX + 5);
        snprintf(path, sizeof(path), "%s/%s/%s.session", root, PATH_STATE, s.hash);
        struct timespec ts[2] = {{.tv_sec = now - 100 + i}, {.tv_sec = now - 100 + i}};
        utimensat(AT_FDCWD, path, ts, 0); /* distinct ages: the oldest is known */
        if (i == 0)
            snprintf(first, sizeof(first), "%s", path);
    }
    snprintf(header, sizeof(header), "%s=%s", SESSION_COOKIE, s.id);
    okf(count_state(".session") == SESSION_MAX, "%d logins leave %d sessions (%d)", SESSION_MAX + 5,
       SESSION_MAX, count_state(".session"));
    okf(stat(first, &st) != 0 && session_load(header, tag, now, &t), "the oldest went, the newest stays");
}

static void test_formtoken(void)
{
    long long now = (long long)time(NULL);
    char tok[FORMTOKEN_HEX + 1], other[FORMTOKEN_HEX + 1];
    int files = count_state("");
    okf(formtoken_make("login", "192.0.2.5", now, tok) == 0 && strlen(tok) == FORMTOKEN_HEX,
       "a login form token");
    char key[600];
    struct stat st;
    snprintf(key, sizeof(key), "%s/%s/form.key", root, PATH_STATE);
    okf(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32,
       "the appliance's form key: 32 bytes, mode 0600");
    for (int i = 0; i < 100; i++)
        formtoken_make(i % 2 ? "login" : "claim", "198.51.100.1", now + i, other);
    okf(count_state("") == files + 1, "100 more tokens store nothing (only the key was made)");
    okf(formtoken_ok("login", "192.0.2.5", now + 60, tok), "accepted for its form and address");
    okf(formtoken_ok("login", "192.0.2.5", now + FORMTOKEN_SECONDS, tok), "... until it expires");
    okf(!formtoken_ok("login", "192.0.2.5", now + FORMTOKEN_SECONDS + 1, tok), "refused after");
    okf(!formtoken_ok("claim", "192.0.2.5", now, tok), "refused for another form");
    okf(!formtoken_ok("login", "192.0.2.6", now, tok), "refused from another address");
    okf(!formtoken_ok("login", "192.0.2.5", now - FORMTOKEN_SECONDS - 60, tok),
       "refused when it claims to live longer than a token does");
    char bad[FORMTOKEN_HEX + 1];
    memcpy(bad, tok, sizeof(bad));
    bad[FORMTOKEN_HEX - 1] = bad[FORMTOKEN_HEX - 1] == 'a' ? 'b' : 'a';
    okf(!formtoken_ok("login", "192.0.2.5", now, bad), "a changed MAC is refused");
    memcpy(bad, tok, sizeof(bad));
    bad[15] = bad[15] == 'f' ? 'e' : 'f';
    okf(!formtoken_ok("login", "192.0.2.5", now, bad), "a changed expiry is refused");
    okf(!formtoken_ok("login", "192.0.2.5", now, "") && !formtoken_ok("login", "192.0.2.5", now, NULL) &&
       !formtoken_ok("login", "192.0.2.5", now, "ZZ"), "empty, missing, malformed: refused");
    formtoken_make("login", "2001:db8:1:2::10", now, tok);
    okf(formtoken_ok("login", "2001:db8:1:2:aaaa::77", now, tok) &&
       !formtoken_ok("login", "2001:db8:1:3::10", now, tok), "an IPv6 client is its /64");
    unlink(key);
    okf(!formtoken_ok("login", "2001:db8:1:2::10", now, tok),
       "a new key (the old one gone) voids the old tokens");
}

static enum ratelimit_verdict rl(const char *addr, long long now, long *wait)
{
    return ratelimit_begin(addr, now, wait);
}

static void test_ratelimit(void)
{
    long long now = 1800000000;
    long wait = 0;
    bool all = true;
    for (int i = 0; i < RATELIMIT_FAILURES; i++)
        all = all && rl("192.0.2.1", now + i, &wait) == RATELIMIT_GO;
    okf(all, "%d attempts go (each recorded before its check)", RATELIMIT_FAILURES);
    okf(rl("192.0.2.1", now + 10, &wait) == RATELIMIT_CLIENT && wait == RATELIMIT_WINDOW - 10,
       "the sixth waits until the first leaves the window (%ld s)", wait);
    okf(rl("::ffff:192.0.2.1", now + 10, &wait) == RATELIMIT_CLIENT, "the same address mapped to IPv6 too");
    okf(rl("192.0.2.2", now + 10, &wait) == RATELIMIT_GO, "another address is not limited");
    okf(rl("192.0.2.1", now + RATELIMIT_WINDOW, &wait) == RATELIMIT_GO,
       "once the oldest is out of the window, one more try");
    ratelimit_clear("192.0.2.1");
    okf(rl("192.0.2.1", now + RATELIMIT_WINDOW + 1, &wait) == RATELIMIT_GO, "a success clears them");

    char a[64];
    now += 10 * RATELIMIT_WINDOW;
    for (int i = 0; i < RATELIMIT_FAILURES; i++) {
        snprintf(a, sizeof(a), "2001:db8:5:6::%x", 0x100 + i); /* a new address each time */
        rl(a, now, &wait);
    }
    okf(rl("2001:db8:5:6:ffff::1", now, &wait) == RATELIMIT_CLIENT, "IPv6: the /64 is one client");
    okf(rl("2001:db8:5:7::1", now, &wait) == RATELIMIT_GO, "the next /64 is another");

    /* many clients together: a backoff from RATELIMIT_GLOBAL_FREE on */
    now += 10 * RATELIMIT_WINDOW;
    all = true;
    for (int i = 0; i < RATELIMIT_GLOBAL_FREE; i++) {
        snprintf(a, sizeof(a), "198.51.100.%d", i + 1);
        all = all && rl(a, now, &wait) == RATELIMIT_GO;
    }
    okf(all, "%d clients, one attempt each: all go", RATELIMIT_GLOBAL_FREE);
    okf(rl("203.0.113.1", now, &wait) == RATELIMIT_GLOBAL && wait == 1, "the next waits 1 s (%ld)", wait);
    long long t = now + 1;
    long waits[8];
    for (int i = 0; i < 8; i++) {
        snprintf(a, sizeof(a), "203.0.113.%d", i + 2);
        enum ratelimit_verdict v = rl(a, t, &wait);
        if (v == RATELIMIT_GO) { /* allowed: then the next one has to wait */
            v = rl("203.0.113.200", t, &waits[i]);
            t += waits[i];
        } else
            waits[i] = -1;
    }
    okf(waits[0] == 2 && waits[1] == 4 && waits[2] == 8 && waits[3] == 16 && waits[4] == 32 &&
       waits[5] == RATELIMIT_GLOBAL_MAX_WAIT && waits[6] == RATELIMIT_GLOBAL_MAX_WAIT,
       "then 2, 4, 8 ... up to %d s (%ld %ld %ld %ld %ld %ld %ld)", RATELIMIT_GLOBAL_MAX_WAIT,
       waits[0], waits[1], waits[2], waits[3], waits[4], waits[5], waits[6]);
    okf(rl("203.0.113.99", t + RATELIMIT_WINDOW, &wait) == RATELIMIT_GO, "after a quiet window, free again");

    /* the table never grows */
    char path[600];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s/ratelimit", root, PATH_STATE);
    off_t size0 = stat(path, &st) == 0 ? st.st_size : -1;
    now += 10 * RATELIMIT_WINDOW;
    for (int i = 0; i < 3 * RATELIMIT_CLIENTS; i++) {
        snprintf(a, sizeof(a), "2001:db8:%x::1", i);
        rl(a, now + i, &wait);
    }
    okf(stat(path, &st) == 0 && st.st_size == size0 && size0 == (off_t)sizeof(struct rl_table),
       "%d clients later the file is still %lld bytes", 3 * RATELIMIT_CLIENTS, (long long)size0);
}

/* 40 processes try at once from one address: only the limit is let through. */
static void test_ratelimit_parallel(void)
{
    enum { N = 40 };
    long long now = (long long)time(NULL) + 100 * RATELIMIT_WINDOW;
    int go = 0, pipefd[2];
    if (pipe(pipefd) < 0)
        return;
    for (int i = 0; i < N; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            long wait;
            /* each read the clock at a slightly different moment before the lock */
            long long mine = now + (i * 7) % 3;
            char c = ratelimit_begin("192.0.2.77", mine, &wait) == RATELIMIT_GO ? 'g' : 'r';
            _exit(write(pipefd[1], &c, 1) == 1 ? 0 : 1);
        }
    }
    close(pipefd[1]);
    char c;
    int got = 0;
    while (read(pipefd[0], &c, 1) == 1) {
        got++;
        go += c == 'g';
    }
    close(pipefd[0]);
    while (wait(NULL) > 0)
        ;
    okf(got == N && go == RATELIMIT_FAILURES, "%d parallel attempts: %d go, the rest refused (%d answers)",
       N, go, got);
}

static void test_hashslot(void)
{
    int a = hashslot_acquire(0), b = hashslot_acquire(0);
    okf(a >= 0 && b >= 0, "%d hash slots", HASHSLOT_COUNT);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int c = hashslot_acquire(200);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    okf(c < 0 && ms >= 200, "a third waits, then is refused (%ld ms)", ms);
    hashslot_release(a);
    c = hashslot_acquire(200);
    okf(c >= 0, "a released slot is taken");
    hashslot_release(b);
    hashslot_release(c);
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
    snprintf(state, sizeof(state), "%s/%s", root, PATH_STATE);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", state);
    if (system(cmd) != 0)
        return 1;
    setenv("PULLBOX_ROOT", root, 1);
    subtest("sessions", test_sessions);
    subtest("form tokens", test_formtoken);
    subtest("login limits", test_ratelimit);
    subtest("login limits under parallel requests", test_ratelimit_parallel);
    subtest("hash slots", test_hashslot);
    subtest("same origin", test_origin);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        note("could not remove %s", root);
    return done_testing();
}
