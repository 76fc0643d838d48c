#include "first.h"

#include "http1.h"

#include "buf.h"
#include "util.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/* ---- character classes ---- */

/* RFC 9110 tchar: the only bytes allowed in methods and header names, so
 * whitespace or controls there can never be read two ways by a proxy. A table
 * because this runs for every byte of every header name. */
/* clang-format off */
static const uint8_t http1_tchar_map[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    /* 0x80..0xff: none */
};
/* clang-format on */

static inline bool http1_is_tchar(unsigned char c)
{
    return http1_tchar_map[c];
}

/* Visible ASCII, plus bytes >= 0x80 that some clients send raw (UTF-8 in
 * paths); excludes SP, which ends the target, and every control. */
static inline bool http1_is_target_char(unsigned char c)
{
    return (c > 0x20 && c < 0x7f) || c >= 0x80;
}

/* field-vchar / SP / HTAB / obs-text: a value may not carry NUL, a bare CR
 * or other controls (header injection towards whatever logs or forwards it). */
static inline bool http1_is_value_char(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

static inline bool http1_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- request head ---- */

/* Consumes one line end at *pp (which is < end): CRLF or bare LF. A CR not
 * followed by LF is malformed because other parsers disagree about it. */
static int http1_eol(const char **pp, const char *end)
{
    const char *p = *pp;
    if (*p == '\r') {
        if (++p == end)
            return HTTP1_ERR_INCOMPLETE;
        if (*p != '\n')
            return HTTP1_ERR_MALFORMED;
    } else if (*p != '\n') {
        return HTTP1_ERR_MALFORMED;
    }
    *pp = p + 1;
    return 0;
}

/* The length of "http://" or "https://" (any case) at t, else 0. */
static size_t http1_scheme_len(const char *t, size_t n)
{
    static const char http[] = "http://", https[] = "https://";
    if (n >= sizeof http - 1 && strncasecmp(t, http, sizeof http - 1) == 0)
        return sizeof http - 1;
    if (n >= sizeof https - 1 && strncasecmp(t, https, sizeof https - 1) == 0)
        return sizeof https - 1;
    return 0;
}

static void http1_split_target(struct http1_request *req)
{
    const char *t = req->target, *tend = t + req->target_len;
    /* A server must accept the absolute-form (RFC 9112 3.2.2), as nginx
     * does: its path is routed like the origin-form's. */
    size_t scheme = http1_scheme_len(t, req->target_len);
    req->authority = NULL;
    req->authority_len = 0;
    if (scheme) {
        const char *a = t + scheme;
        t = a;
        while (t < tend && *t != '/' && *t != '?' && *t != '#')
            t++;
        req->authority = a;
        req->authority_len = (size_t)(t - a);
    }
    const char *q = memchr(t, '?', (size_t)(tend - t));
    const char *h = memchr(t, '#', (size_t)(tend - t));
    /* A '?' after the fragment start is part of the fragment. */
    if (q && h && q > h)
        q = NULL;
    const char *pend = q ? q : h ? h : tend;
    req->path = t;
    req->path_len = (size_t)(pend - t);
    if (q) {
        req->query = q + 1;
        req->query_len = (size_t)((h ? h : tend) - (q + 1));
    } else {
        req->query = NULL;
        req->query_len = 0;
    }
}

/* Parses "HTTP/d.d" followed by a line end; sets *minor. -4 when the version
 * is well formed but not 1.0/1.1, checked only after the line end so that a
 * longer garbage token ("HTTP/1.10") is -1 rather than 505. */
static int http1_parse_version(const char **pp, const char *end, int *minor)
{
    static const char name[] = "HTTP/";
    const char *p = *pp;
    for (size_t i = 0; i < sizeof name - 1; i++, p++) {
        if (p == end)
            return HTTP1_ERR_INCOMPLETE;
        if (*p != name[i])
            return HTTP1_ERR_MALFORMED;
    }
    int digits[2];
    for (int i = 0; i < 2; i++) {
        if (p == end)
            return HTTP1_ERR_INCOMPLETE;
        if (*p < '0' || *p > '9')
            return HTTP1_ERR_MALFORMED;
        digits[i] = *p++ - '0';
        if (i == 0) {
            if (p == end)
                return HTTP1_ERR_INCOMPLETE;
            if (*p++ != '.')
                return HTTP1_ERR_MALFORMED;
        }
    }
    if (p == end)
        return HTTP1_ERR_INCOMPLETE;
    int r = http1_eol(&p, end);
    if (r < 0)
        return r;
    if (digits[0] != 1 || digits[1] > 1)
        return HTTP1_ERR_VERSION;
    *minor = digits[1];
    *pp = p;
    return 0;
}

/* Parses one "name: value" line at *pp (not empty, not a fold) into h. */
static int http1_parse_header(const char **pp, const char *end, struct http1_header *h)
{
    const char *p = *pp, *name = p;
    while (p < end && http1_is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        return HTTP1_ERR_INCOMPLETE;
    /* Also catches "Name : v": a proxy that trims the space would see a
     * different header than we do (request smuggling). */
    if (p == name || *p != ':')
        return HTTP1_ERR_MALFORMED;
    h->name = name;
    h->name_len = (size_t)(p - name);
    p++;
    while (p < end && http1_is_ows(*p))
        p++;
    const char *value = p;
    while (p < end && http1_is_value_char((unsigned char)*p))
        p++;
    if (p == end)
        return HTTP1_ERR_INCOMPLETE;
    const char *vend = p;
    int r = http1_eol(&p, end);
    if (r < 0)
        return r;
    while (vend > value && http1_is_ows(vend[-1]))
        vend--;
    h->value = value;
    h->value_len = (size_t)(vend - value);
    *pp = p;
    return 0;
}

/* Called on every read of a connection that has no complete head yet; the
 * whole head is re-parsed each time (heads are small and capped by the
 * caller, which answers 431 past its limit). */
int http1_parse_request(const char *buf, size_t len, struct http1_request *req)
{
    const char *p = buf, *end = buf + len;
    int r;

    req->method = req->target = req->path = req->query = req->authority = NULL;
    req->method_len = req->target_len = req->path_len = req->query_len = req->authority_len = 0;
    req->minor_version = -1;
    req->num_headers = 0;

    /* RFC 9112 2.2: ignore empty lines before the request line (clients
     * send a stray CRLF after a POST body). */
    for (;;) {
        if (p == end)
            return HTTP1_ERR_INCOMPLETE;
        if (*p != '\r' && *p != '\n')
            break;
        if ((r = http1_eol(&p, end)) < 0)
            return r;
    }

    const char *tok = p;
    while (p < end && http1_is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        return HTTP1_ERR_INCOMPLETE;
    if (p == tok || *p != ' ')
        return HTTP1_ERR_MALFORMED;
    req->method = tok;
    req->method_len = (size_t)(p - tok);
    p++;

    tok = p;
    while (p < end && http1_is_target_char((unsigned char)*p))
        p++;
    if (p == end)
        return HTTP1_ERR_INCOMPLETE;
    /* A line end here is an HTTP/0.9 request without a version: -1. */
    if (p == tok || *p != ' ')
        return HTTP1_ERR_MALFORMED;
    req->target = tok;
    req->target_len = (size_t)(p - tok);
    p++;

    if ((r = http1_parse_version(&p, end, &req->minor_version)) < 0)
        return r;
    http1_split_target(req);

    for (;;) {
        if (p == end)
            return HTTP1_ERR_INCOMPLETE;
        if (*p == '\r' || *p == '\n') {
            if ((r = http1_eol(&p, end)) < 0)
                return r;
            break;
        }
        /* obs-fold (RFC 9112 5.2): a server may reject it, and we do, since
         * joining lines differently from a proxy is a smuggling vector. */
        if (http1_is_ows(*p))
            return HTTP1_ERR_MALFORMED;
        if (req->num_headers == HTTP1_MAX_HEADERS)
            return HTTP1_ERR_TOO_MANY_HEADERS;
        if ((r = http1_parse_header(&p, end, &req->headers[req->num_headers])) < 0)
            return r;
        req->num_headers++;
    }
    if (p - buf > INT_MAX)
        return HTTP1_ERR_MALFORMED;
    return (int)(p - buf);
}

int http1_check_escapes(const char *target, size_t len)
{
    bool in_path = true;
    for (size_t i = 0; i < len; i++) {
        if (target[i] == '?' || target[i] == '#')
            in_path = false;
        if (target[i] != '%')
            continue;
        if (len - i < 3)
            return -1;
        int hi = hex_digit_value(target[i + 1]), lo = hex_digit_value(target[i + 2]);
        if (hi < 0 || lo < 0 || (in_path && (hi | lo) == 0))
            return -1;
        i += 2;
    }
    return 0;
}

const struct http1_header *http1_find_header(const struct http1_request *req, const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++)
        if (str_ieq(req->headers[i].name, req->headers[i].name_len, name))
            return &req->headers[i];
    return NULL;
}

bool http1_header_repeated(const struct http1_request *req, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < req->num_headers; i++)
        if (str_ieq(req->headers[i].name, req->headers[i].name_len, name))
            n++;
    return n > 1;
}

bool http1_has_token(const char *value, size_t len, const char *token)
{
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *s = p;
        while (s < e && http1_is_ows(*s))
            s++;
        const char *t = e;
        while (t > s && http1_is_ows(t[-1]))
            t--;
        if (str_ieq(s, (size_t)(t - s), token))
            return true;
        p = comma ? comma + 1 : end;
    }
    return false;
}

/* ---- query strings ---- */

ssize_t http1_percent_decode(const char *in, size_t len, char *out, size_t outcap,
                             bool plus_is_space)
{
    size_t o = 0;
    if (outcap == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hex_digit_value(in[i + 1]), lo = hex_digit_value(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        /* Leave room for the NUL. */
        if (o >= outcap - 1)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

int http1_query_get(const char *query, size_t len, const char *name, char *out, size_t outcap)
{
    size_t nlen = strlen(name);
    const char *p = query, *end = query ? query + len : NULL;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pend = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        const char *nend = eq ? eq : pend;
        /* Whole-name compare, so "xCHANNEL_ID" or "CHANNEL_IDx" never match. */
        if ((size_t)(nend - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : pend;
            return http1_percent_decode(v, (size_t)(pend - v), out, outcap, true) < 0 ? -1 : 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

int http1_parse_content_length(const char *value, size_t len, uint64_t *out)
{
    /* 2^53 keeps the length exact in a double (JSON stats, Lua in Redis). */
    const uint64_t max = (uint64_t)1 << 53;
    uint64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(value[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* ---- chunked transfer coding ---- */

enum http1_chunked_state {
    HTTP1_CH_SIZE,       /* hex digits of the chunk size */
    HTTP1_CH_SIZE_WS,    /* BWS after the size: only ';' or a line end may follow */
    HTTP1_CH_EXT,        /* chunk extensions up to the line end, ignored */
    HTTP1_CH_SIZE_LF,    /* CR seen on the size line */
    HTTP1_CH_DATA,       /* chunk payload */
    HTTP1_CH_DATA_CR,    /* line end after the payload */
    HTTP1_CH_DATA_LF,    /* CR seen after the payload */
    HTTP1_CH_TRAILER,    /* start of a trailer line (or the final empty line) */
    HTTP1_CH_TRAILER_IN, /* inside a trailer field line, skipped */
    HTTP1_CH_TRAILER_LF, /* CR seen on a trailer line */
    HTTP1_CH_FINAL_LF,   /* CR seen on the final empty line */
    HTTP1_CH_DONE,
    HTTP1_CH_ERROR, /* sticky, so a caller that keeps feeding never resyncs mid-garbage */
};

/* Size lines and trailers produce no payload, so a peer could otherwise keep
 * a connection busy forever without ever hitting the body-size cap. */
#define HTTP1_CHUNK_LINE_MAX 4096

void http1_chunked_init(struct http1_chunked_decoder *d)
{
    memset(d, 0, sizeof *d);
    d->state = HTTP1_CH_SIZE;
}

/* Called with each newly read piece of a chunked body (see http1.h). */
ssize_t http1_decode_chunked(struct http1_chunked_decoder *d, char *buf, size_t *len)
{
    size_t src = 0, dst = 0, n = *len;
    ssize_t ret = -2;

    if (d->state == HTTP1_CH_DONE)
        goto done;
    if (d->state == HTTP1_CH_ERROR)
        goto bad;
    while (src < n) {
        char c = buf[src];
        switch (d->state) {
        case HTTP1_CH_SIZE: {
            int v = hex_digit_value(c);
            if (v >= 0) {
                if (d->left > ((uint64_t)1 << 53) >> 4)
                    goto bad;
                d->left = d->left << 4 | (uint64_t)v;
                if (d->hex_digits < UINT8_MAX)
                    d->hex_digits++;
                break;
            }
            if (d->hex_digits == 0)
                goto bad;
            if (c == '\r') {
                d->state = HTTP1_CH_SIZE_LF;
            } else if (c == '\n') {
                goto size_done;
            } else if (c == ';') {
                d->state = HTTP1_CH_EXT;
            } else if (http1_is_ows(c)) {
                d->state = HTTP1_CH_SIZE_WS;
            } else {
                goto bad;
            }
            break;
        }
        case HTTP1_CH_SIZE_WS:
            /* "5 6" must not read as size 5 with an extension "6": another
             * parser on the path might take it as 0x56 or reject it. */
            if (c == ';')
                d->state = HTTP1_CH_EXT;
            else if (c == '\r')
                d->state = HTTP1_CH_SIZE_LF;
            else if (c == '\n')
                goto size_done;
            else if (!http1_is_ows(c))
                goto bad;
            break;
        case HTTP1_CH_EXT:
            if (c == '\r')
                d->state = HTTP1_CH_SIZE_LF;
            else if (c == '\n')
                goto size_done;
            else if (!http1_is_value_char((unsigned char)c))
                goto bad;
            break;
        case HTTP1_CH_SIZE_LF:
            if (c != '\n')
                goto bad;
        size_done:
            if (d->left > ((uint64_t)1 << 53))
                goto bad;
            d->state = d->left ? HTTP1_CH_DATA : HTTP1_CH_TRAILER;
            d->line_len = 0;
            src++;
            continue;
        case HTTP1_CH_DATA: {
            size_t take = n - src;
            if (take > d->left)
                take = (size_t)d->left;
            if (dst != src)
                memmove(buf + dst, buf + src, take);
            dst += take;
            src += take;
            d->left -= take;
            if (d->left == 0)
                d->state = HTTP1_CH_DATA_CR;
            continue;
        }
        case HTTP1_CH_DATA_CR:
            if (c == '\r') {
                d->state = HTTP1_CH_DATA_LF;
            } else if (c == '\n') {
                d->state = HTTP1_CH_SIZE;
                d->hex_digits = 0;
                d->line_len = 0;
            } else {
                goto bad;
            }
            src++;
            continue;
        case HTTP1_CH_DATA_LF:
            if (c != '\n')
                goto bad;
            d->state = HTTP1_CH_SIZE;
            d->hex_digits = 0;
            d->line_len = 0;
            src++;
            continue;
        case HTTP1_CH_TRAILER:
            if (c == '\r') {
                d->state = HTTP1_CH_FINAL_LF;
            } else if (c == '\n') {
                src++;
                goto done;
            } else if (http1_is_tchar((unsigned char)c)) {
                d->state = HTTP1_CH_TRAILER_IN;
            } else {
                /* Whitespace here would be obs-fold; anything else garbage. */
                goto bad;
            }
            break;
        case HTTP1_CH_TRAILER_IN:
            if (c == '\r')
                d->state = HTTP1_CH_TRAILER_LF;
            else if (c == '\n')
                goto trailer_done;
            else if (!http1_is_value_char((unsigned char)c))
                goto bad;
            break;
        case HTTP1_CH_TRAILER_LF:
            if (c != '\n')
                goto bad;
        trailer_done:
            d->state = HTTP1_CH_TRAILER;
            d->line_len = 0;
            src++;
            continue;
        case HTTP1_CH_FINAL_LF:
            if (c != '\n')
                goto bad;
            src++;
            goto done;
        default:
            goto bad;
        }
        /* Only bytes of size lines and trailer lines get here. */
        if (++d->line_len > HTTP1_CHUNK_LINE_MAX)
            goto bad;
        src++;
    }
    *len = dst;
    return ret;

done:
    d->state = HTTP1_CH_DONE;
    ret = (ssize_t)(n - src);
    if (dst != src && n > src)
        memmove(buf + dst, buf + src, n - src);
    *len = dst;
    return ret;

bad:
    d->state = HTTP1_CH_ERROR;
    *len = dst;
    return -1;
}

/* ---- response head ---- */

static const struct {
    int status;
    const char *reason;
} http1_reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *http1_reason(int status)
{
    for (size_t i = 0; i < ARRAY_LEN(http1_reasons); i++)
        if (http1_reasons[i].status == status)
            return http1_reasons[i].reason;
    return "";
}
