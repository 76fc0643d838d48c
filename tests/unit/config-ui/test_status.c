/* Unit tests for config-ui/lib/status.c: services under a real runsvdir on
 * a temporary root (a sleep service, one with a down file), pullboxd's
 * figures from a real pullboxd, version, disk, and the log tail. */
#include "status.h"
#include "selftest.h"

#include "pullboxd_fixture.h"
#include "tap.h"

#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <openssl/hmac.h>

#define KEY "5c0d2f1e4b3a69788796a5b4c3d2e1f05c0d2f1e4b3a69788796a5b4c3d2e1f0"

static char root[64];
static pid_t runsvdir_pid;

static void path_of(char *out, size_t outlen, const char *rel)
{
    snprintf(out, outlen, "%s/%s", root, rel);
}

static void mkdir_rel(const char *rel)
{
    char p[256];

    path_of(p, sizeof p, rel);
    mkdir(p, 0755);
}

static void write_rel(const char *rel, const char *text, mode_t mode)
{
    char p[256];
    FILE *f;

    path_of(p, sizeof p, rel);
    f = fopen(p, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

static const struct service_status *find(const struct appliance_status *st, const char *name)
{
    for (size_t i = 0; i < st->nservices; i++)
        if (strcmp(st->services[i].name, name) == 0)
            return &st->services[i];
    return NULL;
}

/* Waits (at most 10 s) until the service's state byte is state. */
static bool wait_state(const char *svc, int state)
{
    char p[256];

    snprintf(p, sizeof p, "%s/var/service/%s/supervise/status", root, svc);
    for (int i = 0; i < 1000; i++) {
        unsigned char b[20];
        FILE *f = fopen(p, "r");
        size_t n = f ? fread(b, 1, sizeof b, f) : 0;

        if (f)
            fclose(f);
        if (n == 20 && b[19] == state)
            return true;
        pbd_sleep_ms(10);
    }
    return false;
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/status-XXXXXX");
    if (!mkdtemp(root))
        abort();
    setenv("PULLBOX_ROOT", root, 1);
    unsetenv("PULLBOX_VERSION");
    mkdir_rel("data");
    mkdir_rel("etc");
    mkdir_rel("var");
    mkdir_rel("var/service");
    mkdir_rel("var/service/sleeper");
    write_rel("var/service/sleeper/run", "#!/bin/sh\nexec sleep 600\n", 0755);
    mkdir_rel("var/service/stopped");
    write_rel("var/service/stopped/run", "#!/bin/sh\nexec sleep 600\n", 0755);
    write_rel("var/service/stopped/down", "", 0644);
    mkdir_rel("var/service/Not_A_Name"); /* skipped: not a service name here */
    mkdir_rel("var/log");
    mkdir_rel("var/log/sleeper");
}

static void test_services(void)
{
    struct appliance_status st;
    const struct service_status *s;

    status_read(&st, 1, 1); /* port 1: nothing listens */
    ok(st.nservices == 2, "two services (a bad name is skipped)");
    ok(st.nservices == 2 && strcmp(st.services[0].name, "sleeper") == 0 &&
           strcmp(st.services[1].name, "stopped") == 0,
       "sorted by name");
    s = find(&st, "sleeper");
    ok(s && !s->up && strcmp(s->text, "not supervised (runsv is not running)") == 0,
       "before runsvdir: not supervised");
    ok(!st.metrics_ok, "nothing on the publish port: no metrics");

    runsvdir_pid = fork();
    if (runsvdir_pid == 0) {
        char dir[256];
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        dup2(null, 2);
        path_of(dir, sizeof dir, "var/service");
        execlp("runsvdir", "runsvdir", dir, (char *)NULL);
        _exit(127);
    }
    ok(wait_state("sleeper", 1), "runsvdir started the sleep service");
    ok(wait_state("stopped", 0), "...and supervises the one with a down file");

    status_read(&st, 1, 1);
    s = find(&st, "sleeper");
    ok(s && s->up && s->pid > 0, "sleeper: up, with a pid");
    if (s) {
        char cmd[64] = "", p[64], want[96];

        /* runsv reports the pid at fork; the run script execs sleep a
         * moment later */
        snprintf(p, sizeof p, "/proc/%d/cmdline", s->pid);
        for (int i = 0; i < 500 && strcmp(cmd, "sleep") != 0; i++) {
            FILE *f = fopen(p, "r");
            size_t got = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;

            cmd[got] = '\0';
            if (f)
                fclose(f);
            if (strcmp(cmd, "sleep") != 0)
                pbd_sleep_ms(10);
        }
        ok(strcmp(cmd, "sleep") == 0, "the pid is the sleep process");
        ok(s->seconds >= 0 && s->seconds < 600, "seconds in this state");
        snprintf(want, sizeof want, "run (pid %d) %lld s", s->pid, s->seconds);
        ok(strcmp(s->text, want) == 0, "text as sv says it");
        note("sleeper: %s", s->text);
    }
    s = find(&st, "stopped");
    ok(s && !s->up && s->pid == 0, "stopped: down, no pid");
    ok(s && strncmp(s->text, "down ", 5) == 0 && !strstr(s->text, "normally up"),
       "a down file: no \"normally up\"");
    note("stopped: %s", s ? s->text : "?");

    /* sv down: the state changes, and "normally up" says it should run */
    char dir[256];
    path_of(dir, sizeof dir, "var/service/sleeper");
    ok(pbd_run((char *const[]){"/usr/bin/sv", "-w", "5", "down", dir, NULL}) == 0, "sv down");
    ok(wait_state("sleeper", 0), "the sleep service is down");
    status_read(&st, 1, 1);
    s = find(&st, "sleeper");
    ok(s && !s->up && s->pid == 0 && strstr(s->text, "down ") == s->text &&
           strstr(s->text, ", normally up"),
       "down by sv: \"down N s, normally up\"");
    ok(s && s->off, "down because runsv was told so: off, not a fault");
    note("sleeper: %s", s ? s->text : "?");
    pbd_run((char *const[]){"/usr/bin/sv", "-w", "5", "up", dir, NULL});
    ok(wait_state("sleeper", 1), "up again");
    status_read(&st, 1, 1);
    s = find(&st, "sleeper");
    ok(s && s->up && !s->off, "running: up, not off");
}

static void test_machine(void)
{
    struct appliance_status st;
    char p[256];

    status_read(&st, 1, 1);
    ok(strcmp(st.version, "unknown") == 0, "no version file, no variable: unknown");
    setenv("PULLBOX_VERSION", "9.8.7", 1);
    status_read(&st, 1, 1);
    ok(strcmp(st.version, "9.8.7") == 0, "version from PULLBOX_VERSION");
    write_rel("etc/pullbox-version", "1.2.3\n", 0644);
    status_read(&st, 1, 1);
    ok(strcmp(st.version, "1.2.3") == 0, "version from <root>/etc/pullbox-version wins");
    path_of(p, sizeof p, "etc/pullbox-version");
    unlink(p);
    unsetenv("PULLBOX_VERSION");

    ok(st.uptime > 0, "uptime");
    ok(st.disk_total > 0 && st.disk_free <= st.disk_total, "disk of <root>/data");
    note("address \"%s\", uptime %.0f s, disk %llu of %llu bytes free", st.address, st.uptime,
         st.disk_free, st.disk_total);
    struct in_addr a;
    ok(st.address[0] == '\0' ||
           (inet_pton(AF_INET, st.address, &a) == 1 && strncmp(st.address, "127.", 4) != 0),
       "address: empty or a non-loopback IPv4 address");
}

/* A long poll on a signed channel held open, so pullboxd counts one
 * connection. Returns the socket. */
static int hold_long_poll(int port)
{
    unsigned char mac[20];
    unsigned int len;
    char req[256], hex[41];
    const char *id = "0123456789abcdef0123456789abcdef";
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    HMAC(EVP_sha1(), KEY, (int)strlen(KEY), (const unsigned char *)id, 32, mac, &len);
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    snprintf(req, sizeof req, "GET /bitrix/sub/?CHANNEL_ID=%s.%s HTTP/1.0\r\n\r\n", id, hex);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        return -1;
    return fd;
}

static int publish(int port, int n)
{
    int done = 0;

    for (int i = 0; i < n; i++) {
        char *body, err[256];
        size_t len;
        int status;

        if (selftest_http("127.0.0.1", port, "POST",
                          "/bitrix/pub/?CHANNEL_ID=fedcba9876543210fedcba9876543210", "hello", 3,
                          &body, &len, &status, err, sizeof err) == 0 &&
            status == 200)
            done++;
        free(body);
    }
    return done;
}

static void test_metrics(void)
{
    struct appliance_status st;
    struct pbd srv;
    int lp;

    if (pbd_start(&srv, KEY, "sha1") != 0) {
        ok(0, "pullboxd starts");
        pbd_cleanup(&srv);
        return;
    }
    status_read(&st, srv.pub, 3);
    ok(st.metrics_ok, "pullboxd answers /metrics");
    ok(st.messages_total == 0 && st.connections == 0, "fresh: no messages, no connections");

    ok(publish(srv.pub, 7) == 7, "7 messages published");
    lp = hold_long_poll(srv.sub);
    pbd_sleep_ms(200); /* let pullboxd read the subscription; the count is checked, not speed */
    status_read(&st, srv.pub, 3);
    ok(st.messages_total == 7, "messages_total 7");
    ok(st.connections == 1, "one open long poll: one connection");
    ok(st.channels >= 2, "the published and the subscribed channel");
    ok(st.messages_per_second > 0, "the average since start is above 0");
    note("connections %lld, channels %lld, messages %lld, %.2f/s since start", st.connections,
         st.channels, st.messages_total, st.messages_per_second);

    status_measure_rate(&st, srv.pub, 3);
    ok(st.metrics_ok && st.messages_per_second == 0, "nothing published during the second: 0/s");

    /* a publisher that keeps going while the rate is measured */
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 300; i++) {
            publish(srv.pub, 1);
            pbd_sleep_ms(10);
        }
        _exit(0);
    }
    pbd_sleep_ms(100);
    status_measure_rate(&st, srv.pub, 3);
    note("measured %.1f messages/s", st.messages_per_second);
    ok(st.messages_per_second > 0 && st.messages_total > 7, "publishing during the second: > 0/s");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    close(lp);
    pbd_stop(&srv);
    status_read(&st, srv.pub, 1);
    ok(!st.metrics_ok && st.messages_total == 0, "pullboxd stopped: metrics_ok false");
    st.messages_per_second = 12.5;
    status_measure_rate(&st, srv.pub, 1);
    ok(st.messages_per_second == 12.5, "measure_rate leaves st as it was when nobody answers");
    pbd_cleanup(&srv);
}

static void test_log_tail(void)
{
    char buf[4096], err[256], big[64];
    char p[256];
    FILE *f;
    long n;

    path_of(p, sizeof p, "var/log/sleeper/current");
    f = fopen(p, "w");
    for (int i = 1; i <= 20000; i++)
        fprintf(f, "2026-11-29_03:00:00.%05d line %d\n", i, i);
    fclose(f);

    n = status_log_tail("sleeper", 3, buf, sizeof buf, err, sizeof err);
    ok(n > 0 &&
           strcmp(buf, "2026-11-29_03:00:00.19998 line 19998\n"
                       "2026-11-29_03:00:00.19999 line 19999\n"
                       "2026-11-29_03:00:00.20000 line 20000\n") == 0 &&
           n == (long)strlen(buf),
       "the last 3 lines of a 20000-line log");
    n = status_log_tail("sleeper", 1, buf, sizeof buf, err, sizeof err);
    ok(strcmp(buf, "2026-11-29_03:00:00.20000 line 20000\n") == 0, "the last line");
    n = status_log_tail("sleeper", 0, buf, sizeof buf, err, sizeof err);
    ok(n == 0 && buf[0] == '\0', "0 lines: empty");

    n = status_log_tail("sleeper", 1000, buf, sizeof buf, err, sizeof err);
    ok(n > 0 && n < (long)sizeof buf && buf[n - 1] == '\n', "more lines than fit: what fits");
    ok(strncmp(buf, "2026-", 5) == 0, "...starting at a line start");
    ok(strstr(buf, "line 20000\n") && strlen(strstr(buf, "line 20000\n")) == 11,
       "...ending with the last line");

    snprintf(big, sizeof big, "x");
    n = status_log_tail("sleeper", 5, big, 2, err, sizeof err);
    ok(n >= 0 && n <= 1, "a tiny buffer is never overrun");

    f = fopen(p, "w");
    fputs("first\nsecond\nno newline at the end", f);
    fclose(f);
    n = status_log_tail("sleeper", 2, buf, sizeof buf, err, sizeof err);
    ok(strcmp(buf, "second\nno newline at the end") == 0, "a last line without a newline");
    n = status_log_tail("sleeper", 10, buf, sizeof buf, err, sizeof err);
    ok(strcmp(buf, "first\nsecond\nno newline at the end") == 0, "fewer lines than asked: all");
    f = fopen(p, "w");
    fclose(f);
    n = status_log_tail("sleeper", 10, buf, sizeof buf, err, sizeof err);
    ok(n == 0 && buf[0] == '\0', "an empty log");

    const char *bad[] = {"../../etc",          "Sleeper", "",
                         "sleeper/../stopped", "a b",     "a-very-long-service-name-over-31-chars"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = status_log_tail(bad[i], 3, buf, sizeof buf, err, sizeof err);
        ok(n == -1 && strstr(err, "is not a service name"), bad[i][0] ? bad[i] : "(empty name)");
    }
    note("%s", err);
    n = status_log_tail("nosuch", 3, buf, sizeof buf, err, sizeof err);
    ok(n == -1 && strcmp(err, "there is no service named nosuch") == 0, "an unknown service");
    n = status_log_tail("stopped", 3, buf, sizeof buf, err, sizeof err);
    note("%s", err);
    ok(n == -1 && strstr(err, "stopped has no log yet"), "a service without a log");

    /* a log replaced by a symlink to another file is not followed */
    unlink(p);
    symlink("/etc/passwd", p);
    n = status_log_tail("sleeper", 3, buf, sizeof buf, err, sizeof err);
    ok(n == -1, "a symlinked log is refused");
    unlink(p);
}

static void cleanup(void)
{
    char dir[256];
    int st;

    if (runsvdir_pid > 0) {
        /* runsvdir on SIGHUP sends TERM to its runsv's, which stop their
         * services and exit */
        kill(runsvdir_pid, SIGHUP);
        for (int i = 0; i < 500 && waitpid(runsvdir_pid, &st, WNOHANG) != runsvdir_pid; i++)
            pbd_sleep_ms(10);
        if (kill(runsvdir_pid, 0) == 0) {
            kill(runsvdir_pid, SIGKILL);
            waitpid(runsvdir_pid, &st, 0);
        }
        /* the runsv's were re-parented to this process (a subreaper, see
         * main): reap them as they finish stopping their services */
        for (int i = 0; i < 500; i++) {
            pid_t r = waitpid(-1, &st, WNOHANG);

            if (r < 0)
                break;
            if (r == 0)
                pbd_sleep_ms(10);
        }
    }
    path_of(dir, sizeof dir, "");
    pbd_run((char *const[]){"/bin/rm", "-rf", dir, NULL});
}

int main(void)
{
    /* orphans of runsvdir (its runsv's) come to this process, not to an
     * init that may not reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    setup();
    subtest("services", test_services);
    subtest("version, uptime, disk, address", test_machine);
    subtest("pullboxd's metrics", test_metrics);
    subtest("log tail", test_log_tail);
    cleanup();
    return done_testing();
}
