/* Unit tests for server/src/http1.c. Parser inputs are copied so that they end
 * exactly at a PROT_NONE page (picohttpparser test.c): any read past the
 * given length faults under the test instead of passing silently. */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/http1.c"
#include "../../../server/src/util.c"

#include "guard.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- request parser harness ---- */

static struct http1_request req;
static char what[512];

/* Parses s[0..len) whole and byte by byte, every time ending at the guard.
 * A valid head must give -2 for every prefix shorter than the head and the
 * head length from there on; an error must give -2 until it is detectable
 * and the same error for every longer prefix. Leaves the full parse in req
 * (pointing into the guard area) and returns its result. */
static int parse_checked(const char *s, size_t len, int expected, const char *name)
{
    bool prefixes_ok = true;
    int seen = -2;
    for (size_t n = 0; n < len; n++) {
        int r = http1_parse_request(guard_copy(s, n), n, &req);
        if (r == -2 && seen == -2)
            continue;
        if (r != expected || (seen != -2 && r != seen)) {
            note("%s: prefix %zu returned %d (expected -2 or %d)", name, n, r, expected);
            prefixes_ok = false;
            break;
        }
        seen = r;
    }
    if (expected > 0 && seen != -2)
        prefixes_ok = prefixes_ok && (size_t)expected < len;
    int r = http1_parse_request(guard_copy(s, len), len, &req);
    snprintf(what, sizeof what, "%s: every prefix is -2 or the final result", name);
    ok(prefixes_ok, what);
    snprintf(what, sizeof what, "%s: returns %d", name, expected);
    if (!ok(r == expected, what))
        note("got %d", r);
    return r;
}

#define PARSE(lit, expected, name) parse_checked(lit, sizeof(lit) - 1, (expected), name)
/* Expected head length of a literal that is only a head. */
#define HEADLEN(lit) ((int)(sizeof(lit) - 1))

static bool span_is(const char *p, size_t len, const char *lit)
{
    return p && len == strlen(lit) && memcmp(p, lit, len) == 0;
}

static bool header_is(size_t i, const char *name, const char *value)
{
    return i < req.num_headers && span_is(req.headers[i].name, req.headers[i].name_len, name) &&
           span_is(req.headers[i].value, req.headers[i].value_len, value);
}

/* ---- tests: accepted requests ---- */

static void test_get_query(void)
{
    static const char s[] = "GET /bitrix/sub/?CHANNEL_ID=abc%2Fdef&tag=1&time=x HTTP/1.1\r\n"
                            "Host: example.com\r\n"
                            "User-Agent: curl/8\r\n"
                            "\r\n";
    PARSE(s, HEADLEN(s), "GET with query");
    ok(span_is(req.method, req.method_len, "GET"), "method");
    ok(span_is(req.target, req.target_len, "/bitrix/sub/?CHANNEL_ID=abc%2Fdef&tag=1&time=x"),
       "target is sent as is");
    ok(span_is(req.path, req.path_len, "/bitrix/sub/"), "path stops at '?'");
    ok(span_is(req.query, req.query_len, "CHANNEL_ID=abc%2Fdef&tag=1&time=x"), "query");
    ok(req.minor_version == 1, "HTTP/1.1");
    ok(req.num_headers == 2, "two headers");
    ok(header_is(0, "Host", "example.com"), "Host");
    ok(header_is(1, "User-Agent", "curl/8"), "User-Agent");

    PARSE("GET /a?b=1#frag HTTP/1.1\r\n\r\n", 28, "fragment");
    ok(span_is(req.path, req.path_len, "/a"), "path before '?'");
    ok(span_is(req.query, req.query_len, "b=1"), "query stops at '#'");

    PARSE("GET /a#x?y HTTP/1.1\r\n\r\n", 23, "'?' inside fragment");
    ok(span_is(req.path, req.path_len, "/a"), "path stops at '#'");
    ok(req.query == NULL && req.query_len == 0, "no query");

    PARSE("GET /a? HTTP/1.1\r\n\r\n", 20, "bare '?'");
    ok(req.query != NULL && req.query_len == 0, "empty but present query");

    PARSE("GET /plain HTTP/1.1\r\n\r\n", 23, "no query");
    ok(req.query == NULL && req.query_len == 0, "query NULL/0");
    ok(span_is(req.path, req.path_len, "/plain"), "path is target");

    PARSE("OPTIONS * HTTP/1.1\r\n\r\n", 22, "asterisk-form");
    ok(span_is(req.path, req.path_len, "*"), "path '*'");

    PARSE("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 23, "raw UTF-8 in target");
}

static void test_post_headers(void)
{
    static const char head[] = "POST /bitrix/pub/?CHANNEL_ID=x HTTP/1.1\r\n"
                               "Host: 127.0.0.1:8895\r\n"
                               "Content-Type: text/plain \t \r\n"
                               "content-length:5\r\n"
                               "Message-Expiry: \t 86400\r\n"
                               "X-Empty:\r\n"
                               "X-Blank:    \r\n"
                               "X-Obs: caf\xc3\xa9 au lait\r\n"
                               "\r\n";
    static const char s[] = "POST /bitrix/pub/?CHANNEL_ID=x HTTP/1.1\r\n"
                            "Host: 127.0.0.1:8895\r\n"
                            "Content-Type: text/plain \t \r\n"
                            "content-length:5\r\n"
                            "Message-Expiry: \t 86400\r\n"
                            "X-Empty:\r\n"
                            "X-Blank:    \r\n"
                            "X-Obs: caf\xc3\xa9 au lait\r\n"
                            "\r\n"
                            "hello";
    PARSE(s, HEADLEN(head), "POST with body after the head");
    ok(span_is(req.method, req.method_len, "POST"), "method");
    ok(req.num_headers == 7, "seven headers");
    ok(header_is(1, "Content-Type", "text/plain"), "trailing SP/HTAB trimmed");
    ok(header_is(2, "content-length", "5"), "no space after colon");
    ok(header_is(3, "Message-Expiry", "86400"), "leading OWS skipped");
    ok(header_is(4, "X-Empty", ""), "empty value");
    ok(header_is(5, "X-Blank", ""), "whitespace-only value is empty");
    ok(header_is(6, "X-Obs", "caf\xc3\xa9 au lait"), "obs-text kept, inner spaces kept");
    ok(memcmp(s + HEADLEN(head), "hello", 5) == 0, "head length points at the body");

    const struct http1_header *h = http1_find_header(&req, "CONTENT-LENGTH");
    ok(h == &req.headers[2], "find_header ignores case");
    ok(http1_find_header(&req, "Content-Len") == NULL, "find_header needs the whole name");
    ok(http1_find_header(&req, "Transfer-Encoding") == NULL, "find_header NULL when absent");
}

static void test_http10_and_line_ends(void)
{
    PARSE("GET / HTTP/1.0\r\n\r\n", 18, "HTTP/1.0");
    ok(req.minor_version == 0, "minor 0");
    ok(req.num_headers == 0, "no headers");

    static const char lf[] = "GET /x HTTP/1.1\nHost: a\nX: b \n\n";
    PARSE(lf, HEADLEN(lf), "bare LF line ends");
    ok(header_is(0, "Host", "a") && header_is(1, "X", "b"), "headers with bare LF");

    static const char mixed[] = "GET /x HTTP/1.1\r\nHost: a\n\r\n";
    PARSE(mixed, HEADLEN(mixed), "mixed CRLF and LF");

    static const char lead[] = "\r\n\nGET / HTTP/1.1\r\n\r\n";
    PARSE(lead, HEADLEN(lead), "empty lines before the request line are skipped");
    ok(span_is(req.method, req.method_len, "GET"), "method after skipped lines");

    PARSE("get /x HTTP/1.1\r\n\r\n", 19, "method case is the router's business");
    PARSE("M-SEARCH * HTTP/1.1\r\n\r\n", 23, "method with tchar punctuation");
}

static void test_pipelined(void)
{
    static const char s[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                            "GET /two?x=1 HTTP/1.1\r\nHost: b\r\n\r\n"
                            "GET /thr";
    char copy[sizeof s];
    memcpy(copy, s, sizeof s);
    size_t off = 0, len = sizeof s - 1;
    int r = http1_parse_request(copy, len, &req);
    ok(r == 30, "first head length");
    ok(span_is(req.path, req.path_len, "/one") && header_is(0, "Host", "a"), "first request");
    off += (size_t)r;
    r = http1_parse_request(copy + off, len - off, &req);
    ok(r == 34, "second head length");
    ok(span_is(req.path, req.path_len, "/two") && span_is(req.query, req.query_len, "x=1") &&
           header_is(0, "Host", "b"),
       "second request");
    off += (size_t)r;
    ok(http1_parse_request(copy + off, len - off, &req) == -2, "third is incomplete");

    /* The same through the guard: the first parse must not look past its head. */
    PARSE(s, 30, "pipelined input parses the first head only");
}

/* ---- tests: rejections ---- */

static void test_rejects(void)
{
    /* Request line. */
    PARSE("GET /a\x01z HTTP/1.1\r\n\r\n", -1, "control char in target");
    PARSE("GET /a\x7fz HTTP/1.1\r\n\r\n", -1, "DEL in target");
    PARSE("GET /a\tz HTTP/1.1\r\n\r\n", -1, "HTAB in target");
    PARSE("G\x01T / HTTP/1.1\r\n\r\n", -1, "control char in method");
    PARSE("GE(T / HTTP/1.1\r\n\r\n", -1, "separator in method");
    PARSE(" / HTTP/1.1\r\n\r\n", -1, "empty method");
    PARSE("GET  / HTTP/1.1\r\n\r\n", -1, "double space");
    PARSE("GET\t/ HTTP/1.1\r\n\r\n", -1, "HTAB as separator");
    PARSE("GET / HTTP/1.1 \r\n\r\n", -1, "space after version");
    PARSE("GET /\r\n\r\n", -1, "missing version (HTTP/0.9 style)");
    PARSE("GET / \r\n\r\n", -1, "empty version");
    PARSE("GET\r\n\r\n", -1, "method only");
    PARSE("GET / HTTP/1.1\rX\n\r\n", -1, "bare CR ends request line");
    PARSE("GET / http/1.1\r\n\r\n", -1, "lower-case protocol name");
    PARSE("GET / HTTP/1\r\n\r\n", -1, "version without minor");
    PARSE("GET / HTTP/1.10\r\n\r\n", -1, "two-digit minor");
    PARSE("GET / HTTP/11.1\r\n\r\n", -1, "two-digit major");
    PARSE("GET / HTTP/1.x\r\n\r\n", -1, "non-digit minor");
    PARSE("GET / HTTPS/1.1\r\n\r\n", -1, "other protocol");
    PARSE("\rGET / HTTP/1.1\r\n\r\n", -1, "bare CR before request line");

    /* Unsupported but well-formed versions: 505. */
    PARSE("GET / HTTP/2.0\r\n\r\n", -4, "HTTP/2.0");
    PARSE("GET / HTTP/0.9\r\nHost: x\r\n\r\n", -4, "HTTP/0.9");
    PARSE("GET / HTTP/1.2\r\n\r\n", -4, "HTTP/1.2");
    PARSE("GET / HTTP/3.0\n", -4, "HTTP/3.0 known at the end of the request line");

    /* Header lines. */
    PARSE("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -1, "obs-fold with SP");
    PARSE("GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n", -1, "obs-fold with HTAB");
    PARSE("GET / HTTP/1.1\r\n Host: a\r\n\r\n", -1, "whitespace before the first header");
    PARSE("GET / HTTP/1.1\r\n: a\r\n\r\n", -1, "empty header name");
    PARSE("GET / HTTP/1.1\r\nHost : a\r\n\r\n", -1, "SP before colon");
    PARSE("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", -1, "HTAB before colon");
    PARSE("GET / HTTP/1.1\r\nHost\r\n\r\n", -1, "no colon");
    PARSE("GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n", -1, "control char in name");
    PARSE("GET / HTTP/1.1\r\nHo\x00st: a\r\n\r\n", -1, "NUL in name");
    PARSE("GET / HTTP/1.1\r\nH\xc3\xa9: a\r\n\r\n", -1, "non-ASCII in name");
    PARSE("GET / HTTP/1.1\r\nHost: a\x00z\r\n\r\n", -1, "NUL in value");
    PARSE("GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n", -1, "control char in value");
    PARSE("GET / HTTP/1.1\r\nHost: a\x7fz\r\n\r\n", -1, "DEL in value");
    PARSE("GET / HTTP/1.1\r\nHost: a\rX: z\r\n\r\n", -1, "bare CR in value");
    PARSE("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", -1, "bare CR on the final line");
}

static void test_header_count(void)
{
    char s[4096];
    size_t n = (size_t)snprintf(s, sizeof s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, "X-H%d: %d\r\n", i, i);
    size_t body = n;
    n += (size_t)snprintf(s + n, sizeof s - n, "\r\n");
    parse_checked(s, n, (int)n, "exactly HTTP1_MAX_HEADERS headers");
    ok(req.num_headers == HTTP1_MAX_HEADERS, "all headers stored");
    ok(header_is(HTTP1_MAX_HEADERS - 1, "X-H63", "63"), "last header");

    n = body + (size_t)snprintf(s + body, sizeof s - body, "X-Over: 1\r\n\r\n");
    parse_checked(s, n, -3, "one header too many");

    /* A 65th line that is a fold is still malformed, not a count overflow. */
    n = body + (size_t)snprintf(s + body, sizeof s - body, " fold\r\n\r\n");
    parse_checked(s, n, -1, "fold after the last allowed header");
}

/* ---- tests: header helpers ---- */

static void test_has_token(void)
{
    static const char v[] = "keep-alive, Upgrade";
    ok(http1_has_token(v, sizeof v - 1, "upgrade"), "token, any case");
    ok(http1_has_token(v, sizeof v - 1, "Keep-Alive"), "first token");
    ok(!http1_has_token(v, sizeof v - 1, "alive"), "no substring match");
    ok(!http1_has_token(v, sizeof v - 1, "keep"), "no prefix match");
    ok(!http1_has_token("Upgrade2", 8, "upgrade"), "no longer-token match");
    ok(http1_has_token(",, \tclose\t ,", 12, "close"), "empty elements and OWS");
    ok(!http1_has_token("", 0, "close"), "empty value");
    ok(!http1_has_token("keep-alive", 4, "keep-alive"), "respects len");
    ok(http1_has_token("Upgrade", 7, "upgrade"), "single token");
}

/* ---- tests: query strings ---- */

static int qget(const char *q, const char *name, char *out, size_t cap)
{
    /* Through the guard so a scan past len faults. */
    size_t len = strlen(q);
    return http1_query_get(guard_copy(q, len), len, name, out, cap);
}

static void test_percent_decoding(void)
{
    char out[64];
    ok(qget("CHANNEL_ID=abc%2Fdef", "CHANNEL_ID", out, sizeof out) == 1 &&
           strcmp(out, "abc/def") == 0,
       "%2F");
    ok(qget("time=Thu%2C%2029%20Jun%202017%2009%3a50%3A16%20GMT", "time", out, sizeof out) == 1 &&
           strcmp(out, "Thu, 29 Jun 2017 09:50:16 GMT") == 0,
       "%3A and %3a, %20, %2C");
    ok(qget("a=b+c", "a", out, sizeof out) == 1 && strcmp(out, "b c") == 0, "'+' is space");
    ok(qget("a=b%2Bc", "a", out, sizeof out) == 1 && strcmp(out, "b+c") == 0, "%2B is '+'");
    ok(qget("a=%zz", "a", out, sizeof out) == -1, "invalid %zz");
    ok(qget("a=%4", "a", out, sizeof out) == -1, "truncated %4");
    ok(qget("a=%", "a", out, sizeof out) == -1, "lone %");
    ok(qget("a=%4&b=1", "a", out, sizeof out) == -1, "truncated before '&'");
    ok(qget("a=%g1", "a", out, sizeof out) == -1, "bad high nibble");
    ok(qget("a=x%00y", "a", out, sizeof out) == -1, "%00 refused");
    ok(qget("a=%C3%A9", "a", out, sizeof out) == 1 && strcmp(out, "\xc3\xa9") == 0,
       "bytes >= 0x80");

    char small[4];
    ok(qget("a=abc", "a", small, sizeof small) == 1 && strcmp(small, "abc") == 0,
       "value of outcap-1 fits");
    ok(qget("a=abcd", "a", small, sizeof small) == -1, "value of outcap is too long");
    ok(qget("a=%41%42%43", "a", small, sizeof small) == 1 && strcmp(small, "ABC") == 0,
       "limit counts decoded bytes");
    ok(qget("a=", "a", small, 1) == 1 && small[0] == '\0', "empty value in outcap 1");
    ok(qget("a=", "a", small, 0) == -1, "outcap 0 fits nothing");

    char inplace[] = "x%41y+z";
    ok(http1_percent_decode(inplace, 7, inplace, sizeof inplace, false) == 5 &&
           strcmp(inplace, "xAy+z") == 0,
       "in-place decode, '+' kept for paths");
}

static void test_check_escapes(void)
{
#define ESC(t) http1_check_escapes(t, sizeof t - 1)
    ok(ESC("/bitrix/sub/?CHANNEL_ID=a.b%2Fc&x=%41") == 0, "well-formed escapes pass");
    ok(ESC("/p%2f?q=%7E") == 0, "lower- and upper-case hex pass");
    ok(ESC("/p?q=%00") == 0, "an escaped NUL in the query is the decoder's business");
    ok(ESC("/p%zz") == -1, "%zz in the path is refused");
    ok(ESC("/p?q=%zz") == -1, "%zz in the query is refused");
    ok(ESC("/p?q=%1") == -1, "a trailing %1 is refused");
    ok(ESC("/p?q=%") == -1, "a trailing % is refused");
    ok(ESC("/p%g0") == -1, "a non-hex first digit is refused");
    ok(ESC("/p%00") == -1, "an escaped NUL in the path is refused");
    ok(ESC("/p#%00") == 0, "the path ends at a fragment too");
    ok(ESC("") == 0, "an empty target has nothing to check");
#undef ESC
}

static void test_query_edges(void)
{
    char out[64];
    ok(qget("xCHANNEL_ID=1&CHANNEL_ID=2", "CHANNEL_ID", out, sizeof out) == 1 &&
           strcmp(out, "2") == 0,
       "name as suffix of another name");
    ok(qget("CHANNEL_IDX=1", "CHANNEL_ID", out, sizeof out) == 0, "name as prefix of another name");
    ok(qget("channel_id=1", "CHANNEL_ID", out, sizeof out) == 0, "names are case-sensitive");
    ok(qget("a=&b=2", "a", out, sizeof out) == 1 && out[0] == '\0', "empty value");
    ok(qget("a&b=2", "a", out, sizeof out) == 1 && out[0] == '\0', "no '=' then '&'");
    ok(qget("b=2&a", "a", out, sizeof out) == 1 && out[0] == '\0', "no '=' at the end");
    ok(qget("b=1&b=2", "b", out, sizeof out) == 1 && strcmp(out, "1") == 0,
       "first occurrence wins");
    ok(qget("b=%zz&b=2", "b", out, sizeof out) == -1, "first occurrence wins even when bad");
    ok(qget("a=1=2", "a", out, sizeof out) == 1 && strcmp(out, "1=2") == 0, "'=' inside value");
    ok(qget("&&a=1&", "a", out, sizeof out) == 1 && strcmp(out, "1") == 0, "empty pairs");
    ok(qget("=1&a=2", "a", out, sizeof out) == 1 && strcmp(out, "2") == 0, "empty name skipped");
    ok(qget("", "a", out, sizeof out) == 0, "empty query");
    ok(http1_query_get(NULL, 0, "a", out, sizeof out) == 0, "NULL query");
    ok(qget("a=1", "b", out, sizeof out) == 0, "absent");
    ok(qget("mid=1&binaryMode=true", "binaryMode", out, sizeof out) == 1 &&
           strcmp(out, "true") == 0,
       "later parameter");

    /* Straight from a parsed request, with the fragment excluded. */
    static const char s[] = "GET /sub?CHANNEL_ID=a%3Ab&tag=7#tag=9 HTTP/1.1\r\n\r\n";
    PARSE(s, HEADLEN(s), "query from a request");
    ok(http1_query_get(req.query, req.query_len, "tag", out, sizeof out) == 1 &&
           strcmp(out, "7") == 0,
       "fragment is not part of the query");
    ok(http1_query_get(req.query, req.query_len, "CHANNEL_ID", out, sizeof out) == 1 &&
           strcmp(out, "a:b") == 0,
       "decoded from the request");
}

static void test_content_length(void)
{
    uint64_t v = 99;
#define CL(s) http1_parse_content_length(guard_copy(s, strlen(s)), strlen(s), &v)
    ok(CL("0") == 0 && v == 0, "0");
    ok(CL("12345") == 0 && v == 12345, "12345");
    ok(CL("007") == 0 && v == 7, "leading zeros");
    ok(CL("9007199254740992") == 0 && v == ((uint64_t)1 << 53), "2^53");
    v = 99;
    ok(CL("9007199254740993") == -1 && v == 99, "2^53+1 refused, out untouched");
    ok(CL("18446744073709551616") == -1, "2^64");
    ok(CL("99999999999999999999999999") == -1, "huge");
    ok(CL("") == -1, "empty");
    ok(CL("+1") == -1, "plus sign");
    ok(CL("-1") == -1, "minus sign");
    ok(CL(" 1") == -1, "leading space");
    ok(CL("1 ") == -1, "trailing space");
    ok(CL("1 2") == -1, "space inside");
    ok(CL("1,1") == -1, "list");
    ok(CL("0x10") == -1, "hex");
    ok(CL("1e3") == -1, "exponent");
#undef CL
}

/* ---- tests: chunked ---- */

/* Feeds in[0..len) to a fresh decoder the way a connection does: each read
 * lands right after the payload decoded so far, and that buffer ends at the
 * guard page. The first read is `first` bytes, later ones `piece` bytes
 * (0 = the rest). On success out holds the payload followed by the trailing
 * bytes (including input never fed), *dlen the payload length. */
static ssize_t chunked_feed(const char *in, size_t len, size_t first, size_t piece, char *out,
                            size_t *dlen)
{
    struct http1_chunked_decoder d;
    http1_chunked_init(&d);
    size_t decoded = 0, pos = 0;
    ssize_t r = -2;
    while (pos < len) {
        size_t n = pos == 0 && first ? first : piece ? piece : len - pos;
        if (n > len - pos)
            n = len - pos;
        char *b = guard_space(decoded + n);
        memcpy(b, out, decoded);
        memcpy(b + decoded, in + pos, n);
        pos += n;
        size_t got = n;
        r = http1_decode_chunked(&d, b + decoded, &got);
        if (r < -2 || r > (ssize_t)n || got > n || (r >= 0 && got + (size_t)r > n)) {
            note("bad return %zd, got %zu of %zu", r, got, n);
            return -100;
        }
        memcpy(out + decoded, b + decoded, got + (r > 0 ? (size_t)r : 0));
        decoded += got;
        if (r != -2)
            break;
    }
    if (r >= 0) {
        memcpy(out + decoded + r, in + pos, len - pos);
        r += (ssize_t)(len - pos);
    }
    *dlen = decoded;
    return r;
}

/* Decodes whole, then split in two at every byte, then byte by byte; all
 * must agree with the expected payload and trailing bytes. */
static void chunked_checked(const char *in, size_t len, ssize_t expected, const char *payload,
                            size_t payload_len, const char *name)
{
    char out[8192];
    size_t dlen;
    ssize_t r = chunked_feed(in, len, 0, 0, out, &dlen);
    snprintf(what, sizeof what, "%s: whole returns %zd", name, expected);
    if (!ok(r == expected, what))
        note("got %zd", r);
    if (expected >= 0) {
        snprintf(what, sizeof what, "%s: payload and trailing bytes", name);
        ok(dlen == payload_len && memcmp(out, payload, payload_len) == 0 &&
               memcmp(out + dlen, in + len - (size_t)expected, (size_t)expected) == 0,
           what);
    }
    bool splits_ok = true;
    for (size_t k = 1; k < len && splits_ok; k++) {
        for (int mode = 0; mode < 2; mode++) {
            r = chunked_feed(in, len, k, mode ? 1 : 0, out, &dlen);
            bool good = r == expected;
            if (good && expected >= 0)
                good = dlen == payload_len && memcmp(out, payload, payload_len) == 0 &&
                       memcmp(out + dlen, in + len - (size_t)expected, (size_t)expected) == 0;
            if (!good) {
                note("%s: split at %zu (%s) returned %zd, %zu bytes", name, k,
                     mode ? "then byte by byte" : "two pieces", r, dlen);
                splits_ok = false;
                break;
            }
        }
    }
    snprintf(what, sizeof what, "%s: same result split at every byte", name);
    ok(splits_ok, what);
}

#define CHUNKED(lit, exp, payload, name)                                                           \
    chunked_checked(lit, sizeof(lit) - 1, (exp), payload, sizeof(payload) - 1, name)

static void test_chunked(void)
{
    CHUNKED("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "hello world", "two chunks");
    CHUNKED("0\r\n\r\n", 0, "", "empty body");
    CHUNKED("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 0, "0123456789abcdefghij",
            "hex sizes, both cases");
    CHUNKED("005\r\nhello\r\n0000\r\n\r\n", 0, "hello", "leading zeros");
    CHUNKED("3;name=val;x\r\nabc\r\n0;last\r\n\r\n", 0, "abc", "extensions ignored");
    CHUNKED("3 ;x\r\nabc\r\n0\t\r\n\r\n", 0, "abc", "BWS before extension or line end");
    CHUNKED("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nOther: y z\r\n\r\n", 0, "abc", "trailers skipped");
    CHUNKED("3\nabc\n0\nT: 1\n\n", 0, "abc", "bare LF");
    CHUNKED("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 18, "abc",
            "pipelined request after the body");
    CHUNKED("1\r\n\r\r\n2\r\n\r\n\r\n0\r\n\r\nX", 1, "\r\r\n", "CR and LF inside payload");

    CHUNKED("\r\n", -1, "", "no size");
    CHUNKED("g\r\n", -1, "", "non-hex size");
    CHUNKED("-1\r\n", -1, "", "negative size");
    CHUNKED("0x5\r\nhello\r\n", -1, "", "0x prefix");
    CHUNKED("5 6\r\nhello\r\n", -1, "", "space inside the size");
    CHUNKED("5\r\nhelloX\r\n0\r\n\r\n", -1, "", "payload longer than size");
    CHUNKED("5\rx", -1, "", "bare CR on size line");
    CHUNKED("5\r\nhello\rx", -1, "", "bare CR after payload");
    CHUNKED("5;a\x01\r\n", -1, "", "control char in extension");
    CHUNKED("0\r\n folded\r\n\r\n", -1, "", "whitespace-led trailer");
    CHUNKED("0\r\nT: \x01\r\n\r\n", -1, "", "control char in trailer");
    CHUNKED("0\r\n\rx", -1, "", "bare CR on the final line");
    CHUNKED("20000000000001\r\n", -1, "", "2^53 + 1");
    CHUNKED("FFFFFFFFFFFFFFFFFFFF\r\n", -1, "", "size overflow");

    /* 2^53 exactly is accepted as a size; the body cap is the caller's. */
    struct http1_chunked_decoder d;
    http1_chunked_init(&d);
    char big[] = "20000000000000\r\nab";
    size_t n = sizeof big - 1;
    ok(http1_decode_chunked(&d, big, &n) == -2 && n == 2 && memcmp(big, "ab", 2) == 0,
       "2^53 accepted, payload starts");

    /* A size line that never ends is cut off. */
    static char longext[5000];
    memset(longext, 'x', sizeof longext);
    memcpy(longext, "1;", 2);
    http1_chunked_init(&d);
    n = sizeof longext;
    ok(http1_decode_chunked(&d, longext, &n) == -1, "endless extension refused");
    char fine[] = "0\r\n\r\n";
    n = 5;
    ok(http1_decode_chunked(&d, fine, &n) == -1 && n == 0, "errors are sticky");

    /* Once done, later bytes are all trailing. */
    char again[] = "0\r\n\r\nAB";
    http1_chunked_init(&d);
    n = 7;
    ok(http1_decode_chunked(&d, again, &n) == 2 && n == 0, "done with 2 trailing bytes");
    n = 2;
    ok(http1_decode_chunked(&d, again + 5, &n) == 2 && n == 0, "after done: all trailing");
    n = 0;
    ok(http1_decode_chunked(&d, again, &n) == 0 && n == 0, "after done, empty input: 0");
    http1_chunked_init(&d);
    n = 0;
    ok(http1_decode_chunked(&d, again, &n) == -2 && n == 0, "empty input needs more");
}

/* ---- tests: reason phrases ---- */

static void test_reasons(void)
{
    static const int need[] = {101, 200, 204, 301, 304, 400, 403, 404, 405,
                               408, 413, 414, 429, 431, 500, 501, 503, 505};
    bool all = true;
    for (size_t i = 0; i < ARRAY_LEN(need); i++)
        if (http1_reason(need[i])[0] == '\0') {
            note("no reason for %d", need[i]);
            all = false;
        }
    ok(all, "every status the server sends has a reason");
    ok(strcmp(http1_reason(304), "Not Modified") == 0, "304 reason");
    ok(strcmp(http1_reason(101), "Switching Protocols") == 0, "101 reason");
}

/* ---- tests: mutation ---- */

/* Random single-byte edits of valid requests: the parser must stay inside
 * the guard and keep the prefix contract whatever the result. */
static void test_mutations(void)
{
    static const char *seeds[] = {
        "GET /bitrix/sub/?CHANNEL_ID=a%2Fb HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n",
        "POST /bitrix/pub/ HTTP/1.0\nContent-Length: 3\n\nabc",
    };
    static const char alphabet[] = "\r\n :\t?#%\x00\x01\x7f\x80Hx/1.";
    uint32_t x = 2463534242u;
    int failures = 0;
    for (int iter = 0; iter < 400; iter++) {
        char s[256];
        const char *seed = seeds[iter % 2];
        size_t len = strlen(seed);
        memcpy(s, seed, len);
        for (int e = 0; e < 1 + iter % 3; e++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            s[x % len] = alphabet[(x >> 8) % (sizeof alphabet - 1)];
        }
        int full = http1_parse_request(guard_copy(s, len), len, &req);
        int seen = -2;
        for (size_t n = 0; n < len; n++) {
            int r = http1_parse_request(guard_copy(s, n), n, &req);
            if ((seen != -2 && r != seen) || (r != -2 && r != full)) {
                failures++;
                note("mutation %d: prefix %zu gave %d, full %d", iter, n, r, full);
                break;
            }
            seen = r;
        }
    }
    ok(failures == 0, "mutated requests keep the prefix contract");
}

int main(void)
{
    subtest("GET with query", test_get_query);
    subtest("POST with headers", test_post_headers);
    subtest("HTTP/1.0 and line ends", test_http10_and_line_ends);
    subtest("pipelined requests", test_pipelined);
    subtest("rejections", test_rejects);
    subtest("header count", test_header_count);
    subtest("has_token", test_has_token);
    subtest("percent decoding", test_percent_decoding);
    subtest("percent-encoding check", test_check_escapes);
    subtest("query edge cases", test_query_edges);
    subtest("content-length", test_content_length);
    subtest("chunked decoding", test_chunked);
    subtest("reason phrases", test_reasons);
    subtest("mutations", test_mutations);
    return done_testing();
}
