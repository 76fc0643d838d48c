/* The CGI request: environment, body and form decoding (see cgi.h). */
#include "cgi.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- environment ---- */

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v ? v : fallback;
}

/* Called once at start. PATH_INFO is what the rewrite in lighttpd.conf
 * hands over; REQUEST_URI's path is the fallback for servers that do not
 * set it. The path is kept as sent (no %-decoding): pages are matched by
 * exact strings, so an encoded path simply matches nothing. */
void cgi_req_from_env(struct cgi_req *r)
{
    memset(r, 0, sizeof(*r));
    r->method = env_or("REQUEST_METHOD", "GET");
    r->query = env_or("QUERY_STRING", "");
    r->content_type = env_or("CONTENT_TYPE", "");
    r->remote_addr = env_or("REMOTE_ADDR", "");
    r->server_addr = env_or("SERVER_ADDR", "");
    r->host = env_or("HTTP_HOST", "");
    r->origin = getenv("HTTP_ORIGIN");
    r->referer = getenv("HTTP_REFERER");
    r->fetch_site = getenv("HTTP_SEC_FETCH_SITE");
    r->cookie = getenv("HTTP_COOKIE");
    const char *https = getenv("HTTPS");
    r->https = https && (strcmp(https, "on") == 0 || strcmp(https, "1") == 0);

    const char *cl = getenv("CONTENT_LENGTH");
    r->content_length = -1;
    if (cl && *cl) {
        char *end;
        errno = 0;
        long long n = strtoll(cl, &end, 10);
        if (errno == 0 && *end == '\0' && n >= 0 && isdigit((unsigned char)cl[0]))
            r->content_length = n;
    }

    const char *path = getenv("PATH_INFO");
    if (!path || !*path) {
        const char *uri = env_or("REQUEST_URI", "/");
        size_t n = strcspn(uri, "?#");
        if (n >= sizeof(r->path_buf))
            n = sizeof(r->path_buf) - 1;
        memcpy(r->path_buf, uri, n);
        r->path_buf[n] = '\0';
        path = r->path_buf;
    }
    r->path = *path ? path : "/";
}

/* ---- body ---- */

/* Called for POST requests before any decoding. The length is judged from
 * CONTENT_LENGTH alone, before a byte is read, so an over-size upload is
 * refused without being stored (lighttpd refuses it earlier still). */
int cgi_body_read(const struct cgi_req *r, FILE *in, size_t max, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    if (r->content_length < 0)
        return 411;
    if ((unsigned long long)r->content_length > max)
        return 413;
    size_t want = (size_t)r->content_length;
    char *buf = malloc(want + 1);
    if (!buf)
        abort();
    size_t got = 0;
    while (got < want) {
        size_t n = fread(buf + got, 1, want - got, in);
        if (n == 0)
            break;
        got += n;
    }
    if (got != want) {
        free(buf);
        return 400;
    }
    buf[got] = '\0';
    *body = buf;
    *len = got;
    return 0;
}

/* ---- forms ---- */

__attribute__((format(printf, 2, 3))) static int form_fail(struct cgi_form *f, const char *fmt,
                                                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof(f->err), fmt, ap);
    va_end(ap);
    return -1;
}

static char *xmemdup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* %-decodes s[0..n) into out (which holds n+1) with '+' as space. Returns
 * the decoded length, or -1 on a bad escape or a NUL byte: no field of the
 * wizard takes a NUL, and C strings would silently cut at one. */
static long url_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

static struct cgi_field *form_add(struct cgi_form *f)
{
    if (f->n >= CGI_MAX_FIELDS)
        return NULL;
    struct cgi_field *fl = &f->f[f->n];
    memset(fl, 0, sizeof(*fl));
    return fl;
}

/* Called for query strings and urlencoded bodies. Empty pairs ("a=1&&b=2")
 * are skipped as browsers never send them but tolerate them. */
int cgi_form_decode(const char *data, size_t len, struct cgi_form *f)
{
    size_t i = 0;
    while (i < len) {
        const char *pair = data + i;
        const char *amp = memchr(pair, '&', len - i);
        size_t plen = amp ? (size_t)(amp - pair) : len - i;
        i += plen + (amp ? 1 : 0);
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        const char *val = eq ? eq + 1 : pair + plen;
        size_t vlen = eq ? plen - nlen - 1 : 0;

        struct cgi_field *fl = form_add(f);
        if (!fl)
            return form_fail(f, "more than %d fields", CGI_MAX_FIELDS);
        if (nlen >= CGI_NAME_MAX)
            return form_fail(f, "a field name is longer than %d bytes", CGI_NAME_MAX - 1);
        if (url_unescape(pair, nlen, fl->name) < 0)
            return form_fail(f, "a field name holds a bad %%-escape or a NUL byte");
        fl->value = malloc(vlen + 1);
        if (!fl->value)
            abort();
        long n = url_unescape(val, vlen, fl->value);
        if (n < 0) {
            free(fl->value);
            fl->value = NULL;
            return form_fail(f, "the field %s holds a bad %%-escape or a NUL byte", fl->name);
        }
        fl->len = (size_t)n;
        f->n++;
    }
    return 0;
}

/* The value of parameter key in a header value like
 * `form-data; name="a"; filename="b"` into out. Browsers send quoted
 * strings with '"' and newlines %-encoded, so a quoted value ends at the
 * next '"'. Returns the length, -1 if absent, -2 if it does not fit. */
static long header_param(const char *h, size_t hlen, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < hlen) {
        /* at the start of a parameter: skip ';' and blanks */
        while (i < hlen && (h[i] == ';' || h[i] == ' ' || h[i] == '\t'))
            i++;
        size_t start = i;
        while (i < hlen && h[i] != '=' && h[i] != ';')
            i++;
        size_t name_len = i - start;
        if (i >= hlen || h[i] == ';')
            continue;
        i++; /* '=' */
        const char *v = h + i;
        size_t vlen;
        if (i < hlen && h[i] == '"') {
            const char *q = memchr(h + i + 1, '"', hlen - i - 1);
            if (!q)
                return -2;
            v = h + i + 1;
            vlen = (size_t)(q - v);
            i = (size_t)(q - h) + 1;
        } else {
            while (i < hlen && h[i] != ';')
                i++;
            vlen = (size_t)(h + i - v);
        }
        if (name_len == klen && strncasecmp(h + start, key, klen) == 0) {
            if (vlen >= outlen)
                return -2;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return (long)vlen;
        }
    }
    return -1;
}

/* A file name is shown to the admin and never used as a path; still, a
 * name with a folder in it only comes from a hand-made request, so it is
 * refused rather than cleaned. */
static bool filename_acceptable(const char *name)
{
    if (strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Parses the headers of one part (h[0..hlen), without the blank line) into
 * fl's name and filename. */
static int part_headers(const char *h, size_t hlen, struct cgi_field *fl, struct cgi_form *f)
{
    bool have_cd = false;
    size_t i = 0;
    while (i < hlen) {
        const char *eol = memmem(h + i, hlen - i, "\r\n", 2);
        size_t llen = eol ? (size_t)(eol - (h + i)) : hlen - i;
        const char *line = h + i;
        i += llen + (eol ? 2 : 0);
        static const char cd[] = "content-disposition:";
        if (llen < sizeof(cd) - 1 || strncasecmp(line, cd, sizeof(cd) - 1) != 0)
            continue;
        const char *v = line + sizeof(cd) - 1;
        size_t vlen = llen - (sizeof(cd) - 1);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        if (vlen < 9 || strncasecmp(v, "form-data", 9) != 0)
            return form_fail(f, "a part is not form-data");
        have_cd = true;
        long n = header_param(v + 9, vlen - 9, "name", fl->name, sizeof(fl->name));
        if (n == -1 || n == 0)
            return form_fail(f, "a part has no field name");
        if (n < 0)
            return form_fail(f, "a field name is longer than %d bytes", CGI_NAME_MAX - 1);
        /* as C strings both would end at a NUL: "csrf\0x" would pass for "csrf" */
        if (strlen(fl->name) != (size_t)n)
            return form_fail(f, "a field name holds a NUL byte");
        n = header_param(v + 9, vlen - 9, "filename", fl->filename, sizeof(fl->filename));
        if (n == -2)
            return form_fail(f, "the file name of %s is longer than %d bytes", fl->name,
                             CGI_FILENAME_MAX - 1);
        if (n >= 0) {
            fl->is_file = true;
            if (strlen(fl->filename) != (size_t)n || !filename_acceptable(fl->filename))
                return form_fail(f,
                                 "the file name of %s is refused: a plain file name is "
                                 "accepted, without folders ('/', '\\', '..') or control "
                                 "characters",
                                 fl->name);
        }
    }
    if (!have_cd)
        return form_fail(f, "a part has no Content-Disposition");
    return 0;
}

/* Called for multipart/form-data bodies (the upload forms). The body is
 * whole in memory (capped by cgi_body_read), so parts are found with
 * memmem on "\r\n--boundary". */
int cgi_multipart_decode(const char *data, size_t len, const char *content_type,
                         struct cgi_form *f)
{
    char boundary[80]; /* RFC 2046: at most 70 characters */
    const char *semi = strchr(content_type, ';');
    if (!semi || header_param(semi, strlen(semi), "boundary", boundary, sizeof(boundary)) <= 0)
        return form_fail(f, "the multipart body has no usable boundary");
    char delim[84];
    int dlen = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);

    /* the first delimiter may start the body without its CRLF */
    size_t pos;
    if (len >= (size_t)dlen - 2 && memcmp(data, delim + 2, (size_t)dlen - 2) == 0) {
        pos = (size_t)dlen - 2;
    } else {
        const char *d = memmem(data, len, delim, (size_t)dlen);
        if (!d)
            return form_fail(f, "the multipart body has no parts");
        pos = (size_t)(d - data) + (size_t)dlen;
    }
    for (;;) {
        if (len - pos >= 2 && memcmp(data + pos, "--", 2) == 0)
            return 0; /* closing delimiter */
        if (len - pos < 2 || memcmp(data + pos, "\r\n", 2) != 0)
            return form_fail(f, "the multipart body is malformed");
        pos += 2;
        const char *hend = memmem(data + pos, len - pos, "\r\n\r\n", 4);
        if (!hend)
            return form_fail(f, "a part's headers do not end");
        struct cgi_field *fl = form_add(f);
        if (!fl)
            return form_fail(f, "more than %d fields", CGI_MAX_FIELDS);
        if (part_headers(data + pos, (size_t)(hend - (data + pos)), fl, f) < 0)
            return -1;
        pos = (size_t)(hend - data) + 4;
        const char *next = memmem(data + pos, len - pos, delim, (size_t)dlen);
        if (!next)
            return form_fail(f, "the multipart body ends inside a part");
        size_t vlen = (size_t)(next - (data + pos));
        if (vlen > CGI_FILE_MAX)
            return form_fail(f, "%s is larger than %d KiB", fl->name, CGI_FILE_MAX / 1024);
        if (!fl->is_file && memchr(data + pos, '\0', vlen))
            return form_fail(f, "the field %s holds a NUL byte", fl->name);
        fl->value = xmemdup(data + pos, vlen);
        fl->len = vlen;
        f->n++;
        pos = (size_t)(next - data) + (size_t)dlen;
    }
}

int cgi_form_from_body(const struct cgi_req *r, const char *body, size_t len, struct cgi_form *f)
{
    if (strncasecmp(r->content_type, "multipart/form-data", 19) == 0)
        return cgi_multipart_decode(body, len, r->content_type, f);
    if (len == 0 || strncasecmp(r->content_type, "application/x-www-form-urlencoded", 33) == 0)
        return cgi_form_decode(body, len, f);
    return form_fail(f, "the body is neither a form nor an upload");
}

const struct cgi_field *cgi_form_field(const struct cgi_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0)
            return &f->f[i];
    return NULL;
}

const char *cgi_form_get(const struct cgi_form *f, const char *name)
{
    const struct cgi_field *fl = cgi_form_field(f, name);
    return fl ? fl->value : NULL;
}

void cgi_form_free(struct cgi_form *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->f[i].value);
    f->n = 0;
}

/* ---- cookies ---- */

bool cgi_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    if (!header)
        return false;
    size_t nlen = strlen(name);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            if (vlen >= outlen)
                return false;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return true;
        }
        p += len;
    }
    return false;
}
