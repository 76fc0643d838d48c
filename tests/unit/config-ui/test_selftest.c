/* Unit tests for config-ui/lib/selftest.c against a real pullboxd on
 * ephemeral 127.0.0.1 ports: every step passes with the right key (sha1 and
 * sha256); the words for a wrong key, a stopped server, a port that never
 * answers, and a TLS port that does not speak TLS. */
#include "selftest.h"

#include "pullboxd_fixture.h"
#include "tap.h"

#define KEY "a3f1c2d4e5b60718293a4b5c6d7e8f90a3f1c2d4e5b60718293a4b5c6d7e8f90"

static struct pbd srv;

static struct selftest_opts opts(const char *key, const char *algo)
{
    struct selftest_opts o = {
        .host = "127.0.0.1",
        .subscribe_port = srv.sub,
        .subscribe_tls_port = srv.tls,
        .publish_port = srv.pub,
        .signature_key = key,
        .signature_algo = algo,
        .timeout = 3,
    };
    return o;
}

static size_t run(const struct selftest_opts *o, struct selftest_step *st)
{
    size_t n = selftest_run(o, st, SELFTEST_MAX_STEPS);

    for (size_t i = 0; i < n; i++)
        note("%s %s: %s", st[i].ok ? "[ok]  " : "[FAIL]", st[i].what, st[i].detail);
    return n;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_all_pass_sha1(void)
{
    struct selftest_step st[SELFTEST_MAX_STEPS];
    struct selftest_opts o = opts(KEY, "sha1");
    char want[96];
    size_t n = run(&o, st);

    ok(n == 4, "four steps");
    snprintf(want, sizeof want, "The publish port %d answers", srv.pub);
    ok(strcmp(st[0].what, want) == 0 && st[0].ok && starts(st[0].detail, "answered in "),
       "step 1: the publish port answers");
    snprintf(want, sizeof want, "Long polling on port %d receives a published message", srv.sub);
    ok(strcmp(st[1].what, want) == 0 && st[1].ok && starts(st[1].detail, "delivered in ") &&
           strstr(st[1].detail, " ms"),
       "step 2: the site checker's long-poll round trip");
    snprintf(want, sizeof want, "WebSocket on port %d receives a published message", srv.sub);
    ok(strcmp(st[2].what, want) == 0 && st[2].ok && starts(st[2].detail, "delivered in "),
       "step 3: WebSocket delivery");
    snprintf(want, sizeof want, "TLS on port %d: handshake and long polling", srv.tls);
    ok(strcmp(st[3].what, want) == 0 && st[3].ok && strstr(st[3].detail, " ms over TLS; ") &&
           strstr(st[3].detail, "certificate O=Pullbox, CN=") &&
           strstr(st[3].detail, ", valid until 20"),
       "step 4: TLS long poll, with the certificate's subject and expiry");

    o.subscribe_tls_port = 0;
    ok(run(&o, st) == 3, "no TLS port: three steps");
    ok(selftest_run(&o, st, 2) == 2, "max respected");
}

static void test_wrong_key(void)
{
    struct selftest_step st[SELFTEST_MAX_STEPS];
    struct selftest_opts o = opts("not-the-key-of-this-server-0123456789", "sha1");
    const char *words = "the signing key of this appliance does not match the running queue "
                        "server (it answered 4010 Wrong Channel Id)";

    run(&o, st);
    ok(st[0].ok, "step 1 still passes (publishing needs no signature)");
    ok(!st[1].ok && starts(st[1].detail, words), "long poll: the key does not match");
    ok(!st[2].ok && starts(st[2].detail, words), "WebSocket (closed with 4010): the same words");
    ok(!st[3].ok && starts(st[3].detail, words), "TLS: the same words");

    o = opts(KEY, "sha256");
    run(&o, st);
    ok(!st[1].ok && strstr(st[1].detail, "does not match"), "the right key with the wrong algo");
}

static void test_sha256(void)
{
    struct selftest_step st[SELFTEST_MAX_STEPS];
    struct selftest_opts o;
    struct pbd saved = srv;

    if (pbd_start(&srv, KEY, "sha256") != 0) {
        ok(0, "pullboxd with sha256 starts");
        srv = saved;
        return;
    }
    o = opts(KEY, "sha256");
    run(&o, st);
    ok(st[0].ok && st[1].ok && st[2].ok && st[3].ok, "sha256 signatures: every step passes");
    o = opts(KEY, "sha1");
    run(&o, st);
    ok(!st[1].ok && !st[2].ok, "sha1 against a sha256 server: refused");
    pbd_cleanup(&srv);
    srv = saved;
}

static void test_http(void)
{
    char *body = NULL, err[256];
    size_t len;
    int status;

    ok(selftest_http("127.0.0.1", srv.pub, "GET", "/metrics", NULL, 3, &body, &len, &status, err,
                     sizeof err) == 0 &&
           status == 200 && strstr(body, "pullbox_uptime_seconds") && len == strlen(body),
       "selftest_http GET /metrics");
    free(body);
    ok(selftest_http("127.0.0.1", srv.pub, "GET", "/nothing-here", NULL, 3, &body, &len, &status,
                     err, sizeof err) == 0 &&
           status == 404,
       "a 404 is an answer, with its status");
    free(body);
}

/* A listening socket on a free 127.0.0.1 port; *port receives it. */
static int listen_any(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        abort();
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port that accepts (the kernel's backlog) but never answers. */
static void test_silent_port(void)
{
    struct selftest_step st[SELFTEST_MAX_STEPS];
    struct selftest_opts o = opts(KEY, "sha1");
    int fd = listen_any(&o.publish_port);
    char want[160];

    o.subscribe_tls_port = srv.sub; /* plain HTTP where TLS is expected */
    o.timeout = 1;
    run(&o, st);
    snprintf(want, sizeof want,
             "no answer on 127.0.0.1:%d within 1 s - is pullboxd running, or is a firewall in "
             "the way? (Status page)",
             o.publish_port);
    ok(!st[0].ok && strcmp(st[0].detail, want) == 0, "a silent publish port: no answer within 1 s");
    ok(!st[1].ok && strstr(st[1].detail, want), "the long poll's publish: the same words");
    snprintf(want, sizeof want,
             "the TLS handshake on 127.0.0.1:%d failed: the port answered in plain text, not TLS "
             "(is it the right port?)",
             srv.sub);
    ok(!st[3].ok && strcmp(st[3].detail, want) == 0, "a plain port where TLS is expected");
    close(fd);
}

/* A publish port that answers "OK" as some queue servers do: the Bitrix
 * site checker cannot decode it, and the self-test says so. */
static void test_publish_answers_ok(void)
{
    struct selftest_step st[SELFTEST_MAX_STEPS];
    struct selftest_opts o = opts(KEY, "sha1");
    int fd = listen_any(&o.publish_port);
    pid_t child;

    child = fork();
    if (child == 0) {
        /* answers every request of the test (at most 16), then exits */
        for (int i = 0; i < 16; i++) {
            char req[4096];
            int c = accept(fd, NULL, NULL);

            if (c < 0)
                _exit(1);
            static const char answer[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK";

            if (read(c, req, sizeof req) > 0)
                (void)!write(c, answer, sizeof answer - 1);
            close(c);
        }
        _exit(0);
    }
    o.subscribe_tls_port = 0;
    run(&o, st);
    ok(st[0].ok, "GET /server-stat/ answered 200");
    ok(!st[1].ok && strcmp(st[1].detail, "publishing answered \"OK\", which the Bitrix site "
                                         "cannot read (it expects nothing or JSON)") == 0,
       "long poll: the publish answer is not JSON");
    ok(!st[2].ok && strstr(st[2].detail, "which the Bitrix site cannot read"),
       "WebSocket: the same words");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(fd);
}

static void test_not_running(void)
{
    struct selftest_step st[SELFTEST_MAX_STEPS];
    struct selftest_opts o = opts(KEY, "sha1");
    char want[160];

    pbd_stop(&srv);
    run(&o, st);
    snprintf(want, sizeof want,
             "no answer on 127.0.0.1:%d: connection refused - is pullboxd running? (Status page)",
             srv.pub);
    ok(!st[0].ok && strcmp(st[0].detail, want) == 0, "publish port: connection refused");
    snprintf(want, sizeof want,
             "no answer on 127.0.0.1:%d: connection refused - is pullboxd running? (Status page)",
             srv.sub);
    ok(!st[1].ok && strcmp(st[1].detail, want) == 0, "long poll: connection refused");
    ok(!st[2].ok && strcmp(st[2].detail, want) == 0, "WebSocket: connection refused");
    snprintf(want, sizeof want,
             "no answer on 127.0.0.1:%d: connection refused - is pullboxd running? (Status page)",
             srv.tls);
    ok(!st[3].ok && strcmp(st[3].detail, want) == 0, "TLS: connection refused");

    o.host = "no-such-host.invalid";
    run(&o, st);
    ok(!st[0].ok && starts(st[0].detail, "no answer on no-such-host.invalid:"),
       "a host that does not resolve");
}

int main(void)
{
    if (pbd_start(&srv, KEY, "sha1") != 0) {
        ok(0, "pullboxd starts");
        pbd_cleanup(&srv);
        return done_testing();
    }
    subtest("every step passes (sha1)", test_all_pass_sha1);
    subtest("a wrong key", test_wrong_key);
    subtest("sha256", test_sha256);
    subtest("selftest_http", test_http);
    subtest("a silent port, a plain port for TLS", test_silent_port);
    subtest("a publish answer the site cannot read", test_publish_answers_ok);
    subtest("pullboxd not running", test_not_running);
    pbd_cleanup(&srv);
    return done_testing();
}
