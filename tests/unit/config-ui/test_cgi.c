/* Unit tests for config-ui/wizard/cgi.c: urlencoded and multipart decoding
 * (inputs end at a PROT_NONE page so a read past the end faults), the
 * body-size cap decided before reading, cookies, and the environment. */
#include "../../../config-ui/wizard/cgi.c"

#include "guard.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>


static int decode(const char *s, struct cgi_form *f)
{
    memset(f, 0, sizeof(*f));
    return cgi_form_decode(guard_copy(s, strlen(s)), strlen(s), f);
}

/* ---- urlencoded ---- */

static void test_urlencoded(void)
{
    struct cgi_form f;
    ok(decode("a=1&b=x+y&c=%3Cb%3E%26", &f) == 0 && f.n == 3, "three fields decode");
    ok(strcmp(cgi_form_get(&f, "a"), "1") == 0, "plain value");
    ok(strcmp(cgi_form_get(&f, "b"), "x y") == 0, "'+' is a space");
    ok(strcmp(cgi_form_get(&f, "c"), "<b>&") == 0, "%-escapes decode");
    ok(cgi_form_get(&f, "d") == NULL, "a missing field is NULL");
    cgi_form_free(&f);

    ok(decode("host=%3B%24(reboot)%0Aevil%3D1", &f) == 0 &&
           strcmp(cgi_form_get(&f, "host"), ";$(reboot)\nevil=1") == 0,
       "shell metacharacters and a newline arrive as data, for the validator to refuse");
    cgi_form_free(&f);

    ok(decode("a=&&b&c=", &f) == 0 && f.n == 3 && strcmp(cgi_form_get(&f, "b"), "") == 0,
       "empty values and empty pairs");
    cgi_form_free(&f);

    ok(decode("", &f) == 0 && f.n == 0, "an empty body is no field");
    cgi_form_free(&f);

    ok(decode("a=%00", &f) == -1 && strstr(f.err, "NUL"), "a NUL byte is refused");
    cgi_form_free(&f);
    ok(decode("a=%4", &f) == -1, "a cut %-escape at the end is refused");
    cgi_form_free(&f);
    ok(decode("a=%zz", &f) == -1, "a bad %-escape is refused");
    cgi_form_free(&f);
    ok(decode("a=%", &f) == -1, "a lone % is refused");
    cgi_form_free(&f);

    char name[CGI_NAME_MAX + 8];
    memset(name, 'n', sizeof(name) - 3);
    strcpy(name + sizeof(name) - 3, "=1");
    ok(decode(name, &f) == -1 && strstr(f.err, "name"), "an over-long field name is refused");
    cgi_form_free(&f);

    char many[CGI_MAX_FIELDS * 4 + 16] = "";
    for (int i = 0; i <= CGI_MAX_FIELDS; i++)
        strcat(many, "a=1&");
    ok(decode(many, &f) == -1 && strstr(f.err, "fields"), "too many fields are refused");
    cgi_form_free(&f);

    static char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    memcpy(big, "v=", 2);
    ok(decode(big, &f) == 0 && cgi_form_field(&f, "v")->len == sizeof(big) - 3,
       "a 2000+ byte value arrives whole (the validator judges its length)");
    cgi_form_free(&f);
}

/* ---- multipart ---- */

#define CT "multipart/form-data; boundary=----XyZ"

static int mp(const char *body, size_t len, struct cgi_form *f)
{
    memset(f, 0, sizeof(*f));
    return cgi_multipart_decode(guard_copy(body, len), len, CT, f);
}

static void test_multipart(void)
{
    struct cgi_form f;
    static const char body[] = "------XyZ\r\n"
                               "Content-Disposition: form-data; name=\"csrf\"\r\n\r\n"
                               "abc\r\n"
                               "------XyZ\r\n"
                               "Content-Disposition: form-data; name=\"certificate\"; "
                               "filename=\"cert.pem\"\r\n"
                               "Content-Type: application/x-x509-ca-cert\r\n\r\n"
                               "-----BEGIN CERTIFICATE-----\r\nAAA\r\n-----END CERTIFICATE-----\r\n"
                               "\r\n------XyZ\r\n"
                               "Content-Disposition: form-data; name=\"bin\"; filename=\"b\"\r\n\r\n"
                               "a\0b\r\n"
                               "------XyZ--\r\n";
    ok(mp(body, sizeof(body) - 1, &f) == 0 && f.n == 3, "a text field and two files decode");
    ok(strcmp(cgi_form_get(&f, "csrf"), "abc") == 0 && !cgi_form_field(&f, "csrf")->is_file,
       "the text field's value");
    const struct cgi_field *c = cgi_form_field(&f, "certificate");
    ok(c && c->is_file && strcmp(c->filename, "cert.pem") == 0, "the file and its name");
    ok(c && strcmp(c->value, "-----BEGIN CERTIFICATE-----\r\nAAA\r\n-----END CERTIFICATE-----\r\n") ==
               0,
       "the file's bytes, CRLF inside kept, the delimiter's CRLF dropped");
    const struct cgi_field *b = cgi_form_field(&f, "bin");
    ok(b && b->len == 3 && b->value[1] == '\0', "a file may hold a NUL byte (len says)");
    cgi_form_free(&f);

    /* every prefix cut before the closing "--" is refused without a read past its end */
    size_t closing = sizeof(body) - 1 - 2; /* the body up to and with "--" */
    int refused = 0;
    for (size_t n = 0; n < closing; n++) {
        refused += mp(body, n, &f) < 0;
        cgi_form_free(&f);
    }
    ok(refused == (int)closing, "every body cut before its closing delimiter is refused");
    ok(mp(body, closing, &f) == 0 && f.n == 3, "the body without its last CRLF is whole");
    cgi_form_free(&f);

    static const char *const hostile[] = {"../../etc/passwd", "..\\..\\boot.ini", "/etc/passwd",
                                          "a/b.pem", "x\x01y"};
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        char t[512];
        int n = snprintf(t, sizeof(t),
                         "------XyZ\r\nContent-Disposition: form-data; name=\"certificate\"; "
                         "filename=\"%s\"\r\n\r\nx\r\n------XyZ--\r\n",
                         hostile[i]);
        ok(mp(t, (size_t)n, &f) == -1 && strstr(f.err, "file name"),
           "a file name with a folder or a control character is refused");
        cgi_form_free(&f);
    }

    static const char textnul[] = "------XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                                  "x\0y\r\n------XyZ--\r\n";
    ok(mp(textnul, sizeof(textnul) - 1, &f) == -1 && strstr(f.err, "NUL"),
       "a NUL in a text field is refused");
    cgi_form_free(&f);

    /* a NUL inside a quoted name would cut it short: "csrf\0x" read as "csrf",
     * "\0x" as a field with no name (found by tests/fuzz/fuzz_cgi.c) */
    static const char namenul[] = "------XyZ\r\nContent-Disposition: form-data; "
                                  "name=\"csrf\0x\"\r\n\r\nv\r\n------XyZ--\r\n";
    ok(mp(namenul, sizeof(namenul) - 1, &f) == -1 && strstr(f.err, "NUL"),
       "a NUL in a field name is refused");
    cgi_form_free(&f);
    static const char fnamenul[] = "------XyZ\r\nContent-Disposition: form-data; name=\"c\"; "
                                   "filename=\"a.pem\0/../x\"\r\n\r\nv\r\n------XyZ--\r\n";
    ok(mp(fnamenul, sizeof(fnamenul) - 1, &f) == -1 && strstr(f.err, "file name"),
       "a NUL in a file name is refused like the other control characters");
    cgi_form_free(&f);

    /* a part just above the per-file cap */
    size_t big = CGI_FILE_MAX + 1;
    char *t = malloc(big + 200);
    int h = sprintf(t, "------XyZ\r\nContent-Disposition: form-data; name=\"backup\"; "
                       "filename=\"b.pbk\"\r\n\r\n");
    memset(t + h, 'A', big);
    size_t tl = (size_t)h + big;
    tl += (size_t)sprintf(t + tl, "\r\n------XyZ--\r\n");
    ok(mp(t, tl, &f) == -1 && strstr(f.err, "larger"), "a file above CGI_FILE_MAX is refused");
    cgi_form_free(&f);
    free(t);

    memset(&f, 0, sizeof(f));
    ok(cgi_multipart_decode("x", 1, "multipart/form-data", &f) == -1 && strstr(f.err, "boundary"),
       "no boundary is refused");
    memset(&f, 0, sizeof(f));
    static const char nocd[] = "------XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n------XyZ--";
    ok(cgi_multipart_decode(nocd, sizeof(nocd) - 1, CT, &f) == -1 &&
           strstr(f.err, "Content-Disposition"),
       "a part without Content-Disposition is refused");
    cgi_form_free(&f);
    memset(&f, 0, sizeof(f));
    ok(cgi_multipart_decode("x", 1, "multipart/form-data; boundary=\"----XyZ\"", &f) == -1 &&
           strstr(f.err, "no parts"),
       "a quoted boundary is read; a body without it has no parts");
}

/* ---- body ---- */

static void test_body(void)
{
    struct cgi_req r = {0};
    char *body;
    size_t len;
    static char data[] = "a=1&b=2";
    FILE *in = fmemopen(data, sizeof(data) - 1, "r");

    r.content_length = 100LL * 1024 * 1024;
    ok(cgi_body_read(&r, in, CGI_BODY_MAX, &body, &len) == 413 && body == NULL,
       "a 100 MB CONTENT_LENGTH is refused with 413");
    ok(ftell(in) == 0, "... before a byte of the body is read");

    r.content_length = -1;
    ok(cgi_body_read(&r, in, CGI_BODY_MAX, &body, &len) == 411, "no CONTENT_LENGTH: 411");

    r.content_length = 20;
    ok(cgi_body_read(&r, in, CGI_BODY_MAX, &body, &len) == 400, "a short body: 400");
    rewind(in);

    r.content_length = 7;
    ok(cgi_body_read(&r, in, CGI_BODY_MAX, &body, &len) == 0 && len == 7 &&
           strcmp(body, "a=1&b=2") == 0,
       "a body of CONTENT_LENGTH bytes is read");
    free(body);
    fclose(in);
}

/* ---- cookies and environment ---- */

static void test_cookie_env(void)
{
    char v[80];
    ok(cgi_cookie_get("a=1; __Host-pullbox=abc; b=2", "__Host-pullbox", v, sizeof(v)) &&
           strcmp(v, "abc") == 0,
       "a cookie among others");
    ok(!cgi_cookie_get("x__Host-pullbox=abc", "__Host-pullbox", v, sizeof(v)),
       "a cookie whose name only ends the same is not it");
    ok(!cgi_cookie_get(NULL, "a", v, sizeof(v)), "no Cookie header");
    ok(!cgi_cookie_get("a=0123456789", "a", v, 5), "a value too long for the buffer");

    struct cgi_req r;
    setenv("REQUEST_METHOD", "POST", 1);
    setenv("CONTENT_LENGTH", "12x", 1);
    setenv("REQUEST_URI", "/keys?x=1", 1);
    unsetenv("PATH_INFO");
    setenv("HTTPS", "on", 1);
    cgi_req_from_env(&r);
    ok(r.content_length == -1, "a CONTENT_LENGTH that is not a number counts as missing");
    ok(strcmp(r.path, "/keys") == 0, "the path from REQUEST_URI without its query");
    ok(r.https && strcmp(r.method, "POST") == 0, "method and HTTPS");
    setenv("CONTENT_LENGTH", "42", 1);
    setenv("PATH_INFO", "/network", 1);
    cgi_req_from_env(&r);
    ok(r.content_length == 42 && strcmp(r.path, "/network") == 0, "CONTENT_LENGTH and PATH_INFO");
}

int main(void)
{
    subtest("urlencoded forms", test_urlencoded);
    subtest("multipart uploads", test_multipart);
    subtest("body size cap", test_body);
    subtest("cookies and environment", test_cookie_env);
    return done_testing();
}
