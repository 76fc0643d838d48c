/* Unit tests for config-ui/wizard/html.c (escaping by construction) and
 * reply.c (the headers every answer carries, header injection). */
#include "../../../config-ui/wizard/html.c"
#include "../../../config-ui/wizard/reply.c"

#include "tap.h"

#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char *buf;
static size_t buf_len;
static FILE *mem;

static void capture(void)
{
    mem = open_memstream(&buf, &buf_len);
    html_set_output(mem);
}

static const char *captured(void)
{
    fflush(mem);
    return buf;
}

static void release(void)
{
    fclose(mem);
    free(buf);
    buf = NULL;
    html_set_output(NULL);
}

static void test_escaping(void)
{
    capture();
    html_printf("<p title=\"%s\">%s</p>", "\"><script>alert(1)</script>", "a & b < c > 'd'");
    ok(strcmp(captured(), "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">"
                          "a &amp; b &lt; c &gt; &#39;d&#39;</p>") == 0,
       "every %s argument is escaped, the format's markup is not");
    release();

    capture();
    html_printf("%d %u %ld %lu %lld %llu %zu %c %%", -1, 2u, -3L, 4UL, -5LL, 6ULL, (size_t)7, '<');
    ok(strcmp(captured(), "-1 2 -3 4 -5 6 7 &lt; %") == 0, "numbers, a char (escaped) and %%");
    release();

    capture();
    html_escape_n("a\0<", 3);
    const char *got = captured();
    ok(buf_len == 6 && memcmp(got, "a\0&lt;", 6) == 0, "html_escape_n takes a length");
    release();

    /* a conversion that could bypass escaping aborts instead of printing */
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        capture();
        const char *fmt = "%x";
        html_printf(fmt, 1);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "an unsupported conversion aborts");
}

/* Runs fn with stdout going to a temporary file and returns what it wrote. */
static char *stdout_of(void (*fn)(void))
{
    char path[] = "/tmp/test_html.XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    fn();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    static char out[8192];
    ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static void page_fn(void)
{
    reply_begin();
    reply_header("Set-Cookie", "a=1; Secure");
    reply_header("X-Evil", "ok\r\nSet-Cookie: injected=1");
    html_printf("<p>%s</p>", "hi");
    reply_send(403);
}

static void redirect_fn(void)
{
    reply_begin();
    html_printf("<p>discarded</p>");
    reply_redirect("/claim");
}

static void test_reply(void)
{
    const char *out = stdout_of(page_fn);
    ok(strncmp(out, "Status: 403 Forbidden\r\n", 23) == 0, "the status line comes first");
    ok(strstr(out, "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src "
                   "'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                   "base-uri 'none'\r\n") != NULL,
       "the Content-Security-Policy");
    ok(strstr(out, "X-Frame-Options: DENY\r\n") && strstr(out, "X-Content-Type-Options: nosniff\r\n") &&
           strstr(out, "Referrer-Policy: no-referrer\r\n") && strstr(out, "Cache-Control: no-store\r\n"),
       "frame, sniffing, referrer and cache headers");
    ok(strstr(out, "Set-Cookie: a=1; Secure\r\n") != NULL, "an added header");
    ok(strstr(out, "injected") == NULL && strstr(out, "X-Evil") == NULL,
       "a header value with CR/LF is dropped whole");
    ok(strstr(out, "Content-Length: 9\r\n\r\n<p>hi</p>") != NULL, "length and body");

    out = stdout_of(redirect_fn);
    ok(strncmp(out, "Status: 303 See Other\r\n", 23) == 0 && strstr(out, "Location: /claim\r\n"),
       "a redirect is 303 with its Location");
    ok(strstr(out, "X-Frame-Options: DENY") != NULL, "... and the security headers too");
}

int main(void)
{
    subtest("escaping writer", test_escaping);
    subtest("answers and their headers", test_reply);
    return done_testing();
}
