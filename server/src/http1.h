/* HTTP/1.x request framing: a stateless zero-copy request-head parser in the
 * picohttpparser style, query/header helpers, an in-place chunked body
 * decoder, and the status-line builder every handler uses.
 *
 * Every pointer the parser hands out is a borrowed view into the caller's
 * input buffer: valid until that buffer is consumed or moved, never
 * NUL-terminated. Copy what must outlive the request. */
#ifndef PULLBOX_HTTP1_H
#define PULLBOX_HTTP1_H

#include "first.h"

#include <sys/types.h>

#define HTTP1_MAX_HEADERS 64

/* Return codes of http1_parse_request (a head length > 0 means success). */
#define HTTP1_ERR_MALFORMED (-1)
#define HTTP1_ERR_INCOMPLETE (-2)
#define HTTP1_ERR_TOO_MANY_HEADERS (-3)
#define HTTP1_ERR_VERSION (-4)

struct buf;

struct http1_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing SP/HTAB removed */
    size_t value_len;
};

struct http1_request {
    const char *method;
    size_t method_len;
    const char *target; /* whole request-target as sent */
    size_t target_len;
    /* absolute-form ("http://host:port/path"): the host:port, which stands
     * for the Host header (RFC 9112 3.2.2); NULL/0 for origin-form */
    const char *authority;
    size_t authority_len;
    const char *path; /* target (after the authority) up to '?' or '#', still percent-encoded */
    size_t path_len;
    const char *query; /* after '?' up to '#'; NULL/0 if no '?', non-NULL/0 for a bare '?' */
    size_t query_len;
    int minor_version; /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
    struct http1_header headers[HTTP1_MAX_HEADERS];
    size_t num_headers;
};

/* Parses a request head at buf[0..len) (borrows buf; req points into it).
 * Returns the head length (bytes up to and including the blank line, plus any
 * empty lines skipped before the request line) > 0, HTTP1_ERR_INCOMPLETE (-2)
 * when every byte so far is a valid prefix, HTTP1_ERR_MALFORMED (-1),
 * HTTP1_ERR_TOO_MANY_HEADERS (-3) for more than HTTP1_MAX_HEADERS headers
 * (answer 431), HTTP1_ERR_VERSION (-4) for a well-formed "HTTP/d.d" other than
 * 1.0/1.1 (answer 505). Errors are reported as soon as the offending byte is
 * seen, so a longer prefix never turns an error back into -2.
 * Accepts CRLF and bare LF; rejects bare CR, control characters, obs-fold,
 * empty header names and whitespace before the colon. On error the contents
 * of *req are unspecified. */
int http1_parse_request(const char *buf, size_t len, struct http1_request *req);

/* Checks the percent-encoding of a request target: every '%' starts "%HH"
 * with two hex digits, and the path (before '?') has no "%00". Returns 0,
 * or -1 (answer 400: nginx refuses such a path too, and a query value that
 * cannot be decoded would otherwise be read as absent). */
int http1_check_escapes(const char *target, size_t len);

/* Case-insensitive header lookup; first match or NULL (points into req). */
const struct http1_header *http1_find_header(const struct http1_request *req, const char *name);
/* Whether the header field name (any case) is there more than once. */
bool http1_header_repeated(const struct http1_request *req, const char *name);

/* True when the comma-separated list value[0..len) has an element equal to
 * token, ignoring case and surrounding SP/HTAB ("keep-alive, Upgrade"). */
bool http1_has_token(const char *value, size_t len, const char *token);

/* Percent-decodes in[0..len) into out and NUL-terminates it; '+' becomes a
 * space when plus_is_space. Returns the decoded length, or -1 for a bad or
 * truncated escape, an escaped NUL ("%00", which would silently cut the C
 * string short), or output longer than outcap - 1. in and out may be equal. */
ssize_t http1_percent_decode(const char *in, size_t len, char *out, size_t outcap,
                             bool plus_is_space);

/* Looks up parameter `name` (exact, case-sensitive, compared undecoded) in the
 * raw query[0..len) (query may be NULL when len is 0) and decodes its value
 * into out as http1_percent_decode(..., true) does. Returns 1 found, 0 absent,
 * -1 bad escape or value longer than outcap - 1 (always -1 when found and
 * outcap is 0). "name" without '=' is found with an empty value. First
 * occurrence wins, even if its value is bad. */
int http1_query_get(const char *query, size_t len, const char *name, char *out, size_t outcap);

/* Parses a Content-Length value: 1*DIGIT, at most 2^53. Returns 0 and sets
 * *out, or -1 (signs, whitespace, lists like "1, 1", empty, too large).
 * Rejecting duplicate headers is the caller's job. */
int http1_parse_content_length(const char *value, size_t len, uint64_t *out);

/* State of one chunked body; zero it (or http1_chunked_init) per body. */
struct http1_chunked_decoder {
    uint64_t left;      /* payload bytes still due in the current chunk */
    uint32_t line_len;  /* bytes of the current size/trailer line, capped against floods */
    uint8_t state;      /* enum http1_chunked_state, private to http1.c */
    uint8_t hex_digits; /* digits seen in the size, to reject "\r\n" with no size */
};

void http1_chunked_init(struct http1_chunked_decoder *d);

/* Decodes the next piece of a chunked body in buf[0..*len) in place: payload
 * is compacted to the front and *len set to the payload bytes produced by
 * this call. Pass only the bytes not given before (typically the bytes just
 * read, right after the payload decoded so far). Returns -2 if more data is
 * needed (all input consumed), -1 if malformed, or, once the last chunk and
 * trailers are done, the number (>= 0) of bytes after the body, which are
 * moved to sit directly after the decoded payload (the next pipelined
 * request). Chunk extensions and trailers are skipped; CRLF or bare LF. A
 * size or trailer line longer than 4 KiB, or a chunk over 2^53 bytes, is
 * malformed. After completion every further byte is returned as trailing;
 * after -1 every further call is -1 too. */
ssize_t http1_decode_chunked(struct http1_chunked_decoder *d, char *buf, size_t *len);

/* Reason phrase for status ("" when not in the table, which is still a
 * valid status line). Static storage. */
const char *http1_reason(int status);

#endif
