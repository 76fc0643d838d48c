/* Unit tests for server/src/jsontext.c: a body as the text value of an
 * NGINX frame. Whatever the body, the value has no '#', no raw newline, no
 * invalid UTF-8, and either parses as exactly one JSON value or makes the
 * frame unparsable; a valid JSON body parses back to the same value
 * (jansson stands in for JSON.parse). */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/jsontext.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static char *value_of(const char *body, size_t n, size_t *len)
{
    struct buf b;
    buf_init(&b);
    jsontext_append_value(&b, (const uint8_t *)body, n);
    return (char *)buf_steal(&b, len);
}

/* The checks every output must pass, whatever the input. */
static bool safe(const char *v, size_t n)
{
    if (memchr(v, '#', n) || memchr(v, '\n', n) || memchr(v, '\r', n))
        return false;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len((const uint8_t *)v + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    /* wrapped as the frame does: one member, or no JSON at all */
    char *frame = xmalloc(n + 16);
    memcpy(frame, "{\"text\":", 8);
    memcpy(frame + 8, v, n);
    memcpy(frame + 8 + n, "}", 2);
    json_error_t e;
    json_t *j = json_loads(frame, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    bool one = !j || json_object_size(j) == 1;
    json_decref(j);
    free(frame);
    return one;
}

/* what, with bytes outside printable ASCII as \xNN (TAP is read as text) */
static void describe(char *out, size_t n, const char *prefix, const char *s)
{
    size_t k = (size_t)snprintf(out, n, "%s", prefix);
    for (; *s && k + 5 < n; s++)
        k += (size_t)(*s >= 0x20 && *s < 0x7f ? snprintf(out + k, n - k, "%c", *s)
                                              : snprintf(out + k, n - k, "\\x%02x", (uint8_t)*s));
}

static void validity(void)
{
    static const char *yes[] = {"{}",
                                "[]",
                                " {\"a\":[1,2.5e-3,-0,true,false,null]} ",
                                "\"x\"",
                                "0",
                                "-1.0E+2",
                                "{\"a\":{\"b\":[{}]}}",
                                "\"\\u00e9\\n\\/\"",
                                "{\"k\":\"é😀\"}",
                                "\t\r\n[ ]"};
    static const char *no[] = {"",
                               "{",
                               "{\"a\"}",
                               "{\"a\":1,}",
                               "[1,]",
                               "01",
                               "1.",
                               ".5",
                               "1e",
                               "+1",
                               "tru",
                               "nul",
                               "'a'",
                               "{a:1}",
                               "\"\\x\"",
                               "\"\\u12\"",
                               "\"a\nb\"",
                               "{} {}",
                               "1 2",
                               "[1]]",
                               "{\"a\":1}, \"mid\":\"9\"",
                               "\"\xc3(\"",
                               "\"\xed\xa0\x80\"",
                               "NaN",
                               "[\"a\",\"b\"",
                               "\"\\"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        char what[80];
        describe(what, sizeof what, "valid: ", yes[i]);
        ok(jsontext_valid((const uint8_t *)yes[i], strlen(yes[i])), what);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        char what[80];
        describe(what, sizeof what, "not valid: ", no[i]);
        ok(!jsontext_valid((const uint8_t *)no[i], strlen(no[i])), what);
    }
    char deep[2 * JSONTEXT_MAX_DEPTH + 4];
    size_t d = JSONTEXT_MAX_DEPTH + 1;
    memset(deep, '[', d);
    memset(deep + d, ']', d);
    ok(!jsontext_valid((const uint8_t *)deep, 2 * d), "nesting past the limit is not valid");
    ok(jsontext_valid((const uint8_t *)deep + 1, 2 * d - 2), "nesting at the limit is");
}

static void injection(void)
{
    /* the attack of the finding: a chat message that closes its frame and
     * opens a forged server event */
    const char *body = "{\"module_id\":\"im\",\"command\":\"message\",\"params\":{\"text\":"
                       "\"}#!NGINXNME!##!NGINXNMS!#{\\\"id\\\":1,\\\"mid\\\":\\\"1\\\","
                       "\\\"text\\\":{\\\"module_id\\\":\\\"pull\\\",\\\"command\\\":"
                       "\\\"config_expire\\\"}}\"}}";
    size_t n;
    char *v = value_of(body, strlen(body), &n);
    ok(safe(v, n), "a body quoting frame delimiters: no '#' left, one value");
    json_t *a = json_loads(body, 0, NULL), *b = json_loadb(v, n, 0, NULL);
    ok(a && b && json_equal(a, b), "...and it parses to the same value as the body");
    ok(strstr(v, "\\u0023!NGINXNME!\\u0023") != NULL, "...every '#' written \\u0023");
    json_decref(a);
    json_decref(b);
    free(v);

    /* not JSON: an unclosed string, so the frame does not parse at all */
    const char *bad[] = {"{\"a\":1}, \"mid\":\"99999999999999999999999999\"",
                         "x}#!NGINXNME!##!NGINXNMS!#{\"mid\":\"1\"", "1,\"channel\":\"x\"",
                         "\"a\"\n,\"b\":1", "e54f120cb3b7a638caf21b662989556f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = value_of(bad[i], strlen(bad[i]), &n);
        char *closed = xmalloc(n + 1);
        memcpy(closed, v, n);
        closed[n] = '"';
        json_t *s = json_loadb(v, n, JSON_DECODE_ANY, NULL);
        json_t *c = json_loadb(closed, n + 1, JSON_DECODE_ANY, NULL);
        char what[96];
        describe(what, sizeof what, "not JSON, an unclosed string of its bytes: ", bad[i]);
        ok(safe(v, n) && !s && json_is_string(c) && strcmp(json_string_value(c), bad[i]) == 0,
           what);
        json_decref(c);
        free(closed);
        free(v);
    }
}

static void bytes(void)
{
    size_t n;
    char *v = value_of("{\"a\":\r\n1}", 9, &n);
    ok(n == 9 && memcmp(v, "{\"a\":  1}", 9) == 0, "JSON whitespace CR LF becomes spaces");
    free(v);
    v = value_of("", 0, &n);
    ok(n == 1 && v[0] == '"', "an empty body is an unclosed string (the client throws on \"\")");
    free(v);
    v = value_of("a\xff\xc3(b\x01", 6, &n);
    v = xrealloc(v, n + 1);
    v[n++] = '"'; /* closed, to read what it holds */
    json_t *s = json_loadb(v, n, JSON_DECODE_ANY, NULL);
    ok(safe(v, n - 1) && s && strcmp(json_string_value(s), "a\xef\xbf\xbd\xef\xbf\xbd(b\x01") == 0,
       "invalid UTF-8 becomes U+FFFD, a control character an escape");
    json_decref(s);
    free(v);
    const char nul[] = "{\"a\":\"\\u0000#\"}";
    v = value_of(nul, sizeof nul - 1, &n);
    const char want[] = "{\"a\":\"\\u0000\\u0023\"}";
    ok(safe(v, n) && n == sizeof want - 1 && memcmp(v, want, n) == 0, "an escaped NUL is kept");
    free(v);

    /* every single byte and every pair of bytes, alone and inside a string */
    bool all = true;
    for (unsigned a = 0; a < 256 && all; a++)
        for (unsigned c = 0; c < 256 && all; c++) {
            char in[8] = {'"', (char)a, (char)c, '"'};
            for (size_t len = 2; len <= 4 && all; len += 2) {
                v = value_of(len == 2 ? in + 1 : in, len, &n);
                all = safe(v, n);
                if (!all)
                    note("unsafe for bytes %02x %02x (len %zu): %.*s", a, c, len, (int)n, v);
                free(v);
            }
        }
    ok(all, "all 65536 byte pairs, bare and quoted: safe");
}

int main(void)
{
    subtest("validity", validity);
    subtest("injection", injection);
    subtest("bytes", bytes);
    return done_testing();
}
