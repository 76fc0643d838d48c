/* Unit tests for config-ui/lib/spool.c: the file format round-trips every
 * byte, malformed files are refused, ids sort by time, and the folder
 * protocol (submit, next, read, answer, wait) with a bounded wait. */
#include "root.h"
#include "spool.h"

#include "tap.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[] = "/tmp/test_spool-XXXXXX";
static char err[512];

static void test_roundtrip(void)
{
    struct request r, d;
    char all[256], *enc;
    size_t len;

    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    request_init(&r, "restore");
    ok(request_add(&r, "settings.conf", all, sizeof(all)) == 0, "add every byte");
    ok(request_add(&r, "tls/cert.pem", "-----BEGIN\nline 2\r\n%41\n", 24) == 0,
       "add a PEM-like value");
    ok(request_add(&r, "empty", "", 0) == 0, "add an empty value");
    ok(request_add(&r, "bad key", "x", 1) != 0 && request_add(&r, "a=b", "x", 1) != 0,
       "keys with a space or '=' refused");
    request_encode(&r, &enc, &len);
    ok(memchr(enc, '\0', len) == NULL, "the encoding holds no NUL");
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += enc[i] == '\n';
    ok(lines == 4, "one line per argument plus op");
    ok(request_decode(enc, len, &d, err, sizeof(err)) == 0, "decodes");
    size_t vl;
    const char *v = request_get(&d, "settings.conf", &vl);
    ok(strcmp(d.op, "restore") == 0 && v && vl == 256 && memcmp(v, all, 256) == 0,
       "every byte round-trips");
    v = request_get(&d, "tls/cert.pem", &vl);
    ok(v && vl == 24 && memcmp(v, "-----BEGIN\nline 2\r\n%41\n", 24) == 0,
       "line breaks and % round-trip");
    ok(request_get(&d, "empty", &vl) && vl == 0, "empty value");
    ok(request_get(&d, "missing", NULL) == NULL, "missing key");
    free(enc);
    request_free(&r);
    request_free(&d);
}

static int decodes(const char *s)
{
    struct request r;
    int rc = request_decode(s, strlen(s), &r, err, sizeof(err));
    if (rc == 0)
        request_free(&r);
    return rc == 0;
}

static void test_malformed(void)
{
    ok(decodes("op=settings\nhostname=a\n"), "well formed");
    ok(!decodes("hostname=a\n"), "no op first");
    ok(!decodes("op=settings\nhostname=a"), "last line not ended (truncated)");
    ok(!decodes("op=settings\nhostname\n"), "no =");
    ok(!decodes("op=settings\nhost name=a\n"), "space in key");
    ok(!decodes("op=settings\nh=%4\n") && !decodes("op=settings\nh=%zz\n"), "bad escapes");
    ok(!decodes("op=settings\nh=a\rb\n"), "unescaped control character");
    ok(!decodes(""), "empty");
    char *big = malloc(60 * 1024);
    struct request r;
    request_init(&r, "x");
    for (int i = 0; i < REQUEST_MAX_ARGS; i++)
        request_add(&r, "k", "v", 1);
    ok(request_add(&r, "k", "v", 1) != 0, "argument count bounded");
    request_free(&r);
    free(big);
}

static void test_result(void)
{
    struct result res, d;
    char *enc;
    size_t len;

    memset(&res, 0, sizeof(res));
    res.ok = false;
    res.field = 3;
    snprintf(res.message, sizeof(res.message), "Gateway: 10.0.0.300 is not\nan address %%");
    res.nsteps = 2;
    snprintf(res.steps[0].what, sizeof(res.steps[0].what), "render");
    res.steps[0].ok = true;
    snprintf(res.steps[0].detail, sizeof(res.steps[0].detail), "pullbox.conf, firewall.conf");
    snprintf(res.steps[1].what, sizeof(res.steps[1].what), "hup pullboxd");
    snprintf(res.steps[1].detail, sizeof(res.steps[1].detail), "fail: down");
    result_encode(&res, &enc, &len);
    ok(result_decode(enc, len, &d, err, sizeof(err)) == 0, "decodes");
    ok(!d.ok && d.field == 3 && strcmp(d.message, res.message) == 0, "ok, field, message");
    ok(d.nsteps == 2 && d.steps[0].ok && !d.steps[1].ok &&
           strcmp(d.steps[1].detail, "fail: down") == 0 && strcmp(d.steps[0].what, "render") == 0,
       "steps");
    free(enc);
}

static void test_ids(void)
{
    char ids[50][64];
    int sorted = 1, valid = 1;

    for (int i = 0; i < 50; i++) {
        spool_new_id(ids[i], sizeof(ids[i]));
        valid &= spool_id_valid(ids[i]);
        if (i > 0)
            sorted &= strcmp(ids[i - 1], ids[i]) < 0;
    }
    ok(valid, "new ids are valid");
    ok(sorted, "ids sort by time as text");
    note("%s", ids[0]);
    ok(!spool_id_valid("../../etc/passwd") && !spool_id_valid("") &&
           !spool_id_valid("17643858001234567890-0123456789abcdef"),
       "anything else is not an id");
}

static int count(const char *ext)
{
    char dir[256];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/%s", root, PATH_SPOOL);
    d = opendir(dir);
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ext) != NULL;
    if (d)
        closedir(d);
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_folder(void)
{
    struct request r, got;
    struct result res;
    char first[64], second[64], next[64];

    request_init(&r, "rotate-key");
    ok(spool_submit(&r, first, sizeof(first), err, sizeof(err)) == 0, "submit");
    request_init(&r, "settings");
    request_add(&r, "hostname", "b", 1);
    ok(spool_submit(&r, second, sizeof(second), err, sizeof(err)) == 0, "submit another");
    ok(spool_next(next, sizeof(next)) == 1 && strcmp(next, first) == 0, "next is the oldest");
    ok(spool_read(next, &got, err, sizeof(err)) == 0 && strcmp(got.op, "rotate-key") == 0, "read");
    request_free(&got);
    memset(&res, 0, sizeof(res));
    res.ok = true;
    res.field = -1;
    snprintf(res.message, sizeof(res.message), "done");
    ok(spool_answer(next, &res, err, sizeof(err)) == 0, "answer");
    ok(count(".res") == 1 && count(".req") == 1, "the answer replaces the request");
    ok(spool_next(next, sizeof(next)) == 1 && strcmp(next, second) == 0, "then the next one");
    memset(&res, 0, sizeof(res));
    ok(spool_wait(first, 5, &res, err, sizeof(err)) == 0 && res.ok &&
           strcmp(res.message, "done") == 0,
       "wait reads the result");
    ok(count(".res") == 0, "and removes it");
    spool_discard(second);
    request_free(&r);

    /* no service: the wait is bounded and the request withdrawn */
    request_init(&r, "reboot");
    double t0 = now();
    ok(spool_call(&r, 0.3, &res, err, sizeof(err)) != 0 && strstr(err, "did not answer"),
       "no answer: an error that says so");
    ok(now() - t0 < 5, "within a bounded time");
    ok(count(".req") == 0, "the request is withdrawn");

    /* a service in another process */
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 200; i++) {
            char id[64];
            struct request q;
            struct result a;
            if (spool_next(id, sizeof(id)) == 1 && spool_read(id, &q, err, sizeof(err)) == 0) {
                memset(&a, 0, sizeof(a));
                a.ok = true;
                a.field = -1;
                snprintf(a.message, sizeof(a.message), "op %s", q.op);
                spool_answer(id, &a, err, sizeof(err));
                request_free(&q);
                _exit(0);
            }
            usleep(20000);
        }
        _exit(1);
    }
    ok(spool_call(&r, 10, &res, err, sizeof(err)) == 0 && strcmp(res.message, "op reboot") == 0,
       "spool_call gets the service's answer");
    int status;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the service side saw it");
    request_free(&r);
}

int main(void)
{
    char dir[300];

    if (mkdtemp(root) == NULL)
        return 1;
    setenv("PULLBOX_ROOT", root, 1);
    snprintf(dir, sizeof(dir), "%s/data", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/data/config-ui", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/%s", root, PATH_SPOOL);
    mkdir(dir, 01770);
    subtest("round trip", test_roundtrip);
    subtest("malformed", test_malformed);
    subtest("results", test_result);
    subtest("ids", test_ids);
    subtest("the folder", test_folder);
    const char *rm[] = {"/bin/rm", "-rf", root, NULL};
    root_run(rm, NULL, NULL, 30, NULL, NULL, err, sizeof(err));
    return done_testing();
}
