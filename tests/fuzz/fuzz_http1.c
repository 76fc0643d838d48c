/* HTTP/1 request heads (http1_parse_request), whole and split.
 * Input: two bytes that choose a split point, then the bytes a client sent.
 * Properties: the parse of the first k bytes (in a buffer of exactly k
 * bytes, so a read past them is an ASan error) agrees with the parse of the
 * whole: a complete head gives the same length and the same fields, a prefix
 * of a valid head is "incomplete", an error found early is the same error
 * later. Every field lies inside the head and holds only the bytes the
 * grammar allows; Content-Length agrees with a reference parse. */
#include "../../server/src/buf.c"
#include "../../server/src/http1.c"
#include "../../server/src/util.c"

#include "fuzz.h"

static bool in_head(const char *base, int n, const char *p, size_t len)
{
    return p >= base && p + len <= base + n;
}

static void check_fields(const char *buf, int n, const struct http1_request *r)
{
    FUZZ_CHECK(r->minor_version == 0 || r->minor_version == 1);
    FUZZ_CHECK(r->method_len > 0 && in_head(buf, n, r->method, r->method_len));
    for (size_t i = 0; i < r->method_len; i++)
        FUZZ_CHECK(http1_is_tchar((unsigned char)r->method[i]));
    FUZZ_CHECK(r->target_len > 0 && in_head(buf, n, r->target, r->target_len));
    for (size_t i = 0; i < r->target_len; i++)
        FUZZ_CHECK(http1_is_target_char((unsigned char)r->target[i]));
    if (r->authority) {
        /* absolute-form: "http[s]://" + authority, then the path */
        size_t scheme = r->authority - r->target;
        FUZZ_CHECK(scheme == 7 || scheme == 8);
        FUZZ_CHECK(strncasecmp(r->target, "https://", scheme - 3) == 0 &&
                   memcmp(r->target + scheme - 3, "://", 3) == 0);
        FUZZ_CHECK(r->path == r->authority + r->authority_len);
        for (size_t i = 0; i < r->authority_len; i++)
            FUZZ_CHECK(!strchr("/?#", r->authority[i]));
        FUZZ_CHECK(r->path_len == 0 || r->path[0] == '/');
    } else {
        FUZZ_CHECK(r->authority_len == 0);
        FUZZ_CHECK(r->path == r->target);
        /* only a target that does not start with a scheme is origin-form */
        FUZZ_CHECK(!(r->target_len >= 7 && strncasecmp(r->target, "http://", 7) == 0));
        FUZZ_CHECK(!(r->target_len >= 8 && strncasecmp(r->target, "https://", 8) == 0));
    }
    FUZZ_CHECK(r->path + r->path_len <= r->target + r->target_len);
    FUZZ_CHECK(!memchr(r->path, '?', r->path_len) && !memchr(r->path, '#', r->path_len));
    if (r->query) {
        FUZZ_CHECK(r->query == r->path + r->path_len + 1 && r->query[-1] == '?');
        FUZZ_CHECK(r->query + r->query_len <= r->target + r->target_len);
        FUZZ_CHECK(!memchr(r->query, '#', r->query_len));
    } else {
        FUZZ_CHECK(r->query_len == 0);
    }
    FUZZ_CHECK(r->num_headers <= HTTP1_MAX_HEADERS);
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];
        FUZZ_CHECK(h->name_len > 0 && in_head(buf, n, h->name, h->name_len));
        for (size_t k = 0; k < h->name_len; k++)
            FUZZ_CHECK(http1_is_tchar((unsigned char)h->name[k]));
        FUZZ_CHECK(h->value_len == 0 || in_head(buf, n, h->value, h->value_len));
        for (size_t k = 0; k < h->value_len; k++)
            FUZZ_CHECK(http1_is_value_char((unsigned char)h->value[k]));
        if (h->value_len)
            FUZZ_CHECK(!http1_is_ows(h->value[0]) && !http1_is_ows(h->value[h->value_len - 1]));
    }
    FUZZ_CHECK(buf[n - 1] == '\n');
}

/* Reference for http1_parse_content_length: 1*DIGIT, value <= 2^53, with
 * any number of leading zeros (RFC 9110 allows them; nginx reads them). */
static int ref_content_length(const char *v, size_t len, uint64_t *out)
{
    uint64_t x = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (x > ((uint64_t)1 << 53))
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > ((uint64_t)1 << 53))
        return -1;
    *out = x;
    return 0;
}

static void check_helpers(const struct http1_request *r)
{
    const struct http1_header *cl = http1_find_header(r, "content-length");
    if (cl) {
        uint64_t a = 0, b = 0;
        int ra = http1_parse_content_length(cl->value, cl->value_len, &a);
        int rb = ref_content_length(cl->value, cl->value_len, &b);
        FUZZ_CHECK(ra == rb && (ra != 0 || a == b));
    }
    const struct http1_header *conn = http1_find_header(r, "connection");
    if (conn) {
        http1_has_token(conn->value, conn->value_len, "keep-alive");
        http1_has_token(conn->value, conn->value_len, "upgrade");
    }
}

/* The same fields at the same offsets. */
static void check_same(const char *a, const struct http1_request *ra, const char *b,
                       const struct http1_request *rb)
{
#define SAME(f) FUZZ_CHECK(ra->f##_len == rb->f##_len && ra->f - a == rb->f - b)
    SAME(method);
    SAME(target);
    SAME(path);
    FUZZ_CHECK((ra->authority == NULL) == (rb->authority == NULL));
    if (ra->authority)
        SAME(authority);
    FUZZ_CHECK((ra->query == NULL) == (rb->query == NULL));
    if (ra->query)
        SAME(query);
    FUZZ_CHECK(ra->minor_version == rb->minor_version && ra->num_headers == rb->num_headers);
    for (size_t i = 0; i < ra->num_headers; i++) {
        SAME(headers[i].name);
        SAME(headers[i].value);
    }
#undef SAME
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http1_request whole_req, part_req;
    if (size < 2)
        return 0;
    size_t n = size - 2;
    size_t k = ((size_t)data[0] | (size_t)data[1] << 8) % (n + 1);
    char *whole = malloc(n ? n : 1), *part = malloc(k ? k : 1);
    memcpy(whole, data + 2, n);
    memcpy(part, data + 2, k);

    int w = http1_parse_request(whole, n, &whole_req);
    int p = http1_parse_request(part, k, &part_req);
    FUZZ_CHECK(w > 0 || w == HTTP1_ERR_MALFORMED || w == HTTP1_ERR_INCOMPLETE ||
               w == HTTP1_ERR_TOO_MANY_HEADERS || w == HTTP1_ERR_VERSION);
    if (w > 0) {
        FUZZ_CHECK((size_t)w <= n);
        check_fields(whole, w, &whole_req);
        check_helpers(&whole_req);
        if (k < (size_t)w) {
            FUZZ_CHECK(p == HTTP1_ERR_INCOMPLETE);
        } else {
            FUZZ_CHECK(p == w);
            check_same(whole, &whole_req, part, &part_req);
        }
    } else if (w == HTTP1_ERR_INCOMPLETE) {
        FUZZ_CHECK(p == HTTP1_ERR_INCOMPLETE);
    } else {
        FUZZ_CHECK(p == HTTP1_ERR_INCOMPLETE || p == w);
    }
    free(whole);
    free(part);
    return 0;
}
