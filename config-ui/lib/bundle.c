/* Update bundle framing and manifest parsing (see bundle.h). Strict on
 * purpose: the manifest is read before its signature is checked, so every
 * field is bounded and anything unexpected is refused, not skipped. */
#include "bundle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal number in s[0..n) without sign or leading zeros, at most
 * maxdigits digits. Returns 0 and *out, or -1. */
static int parse_uint(const char *s, size_t n, unsigned maxdigits, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > maxdigits || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

long bundle_header_parse(const char *line, size_t len, char *err, size_t errlen)
{
    static const char prefix[] = BUNDLE_MAGIC " ";
    size_t plen = sizeof(prefix) - 1;
    uint64_t format, mlen;
    if (len < plen || memcmp(line, prefix, plen) != 0)
        return fail(err, errlen, "not a Pullbox update bundle (no \"%s\" header)", BUNDLE_MAGIC);
    if (line[len - 1] != '\n')
        return fail(err, errlen, "header line not ended within %d bytes", BUNDLE_HEADER_MAX);
    const char *p = line + plen, *end = line + len - 1;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp || parse_uint(p, (size_t)(sp - p), 4, &format) != 0)
        return fail(err, errlen, "header: no format number");
    if (format != BUNDLE_FORMAT)
        return fail(err, errlen, "bundle format %llu, this system reads format %d",
                    (unsigned long long)format, BUNDLE_FORMAT);
    if (parse_uint(sp + 1, (size_t)(end - sp - 1), 5, &mlen) != 0 || mlen == 0 ||
        mlen > BUNDLE_MANIFEST_MAX)
        return fail(err, errlen, "header: manifest length not 1..%d", BUNDLE_MANIFEST_MAX);
    return (long)mlen;
}

/* The value of "key=" at the start of line[0..n), or NULL. */
static const char *value_of(const char *line, size_t n, const char *key, size_t *vlen)
{
    size_t k = strlen(key);
    if (n <= k || memcmp(line, key, k) != 0 || line[k] != '=')
        return NULL;
    *vlen = n - k - 1;
    return line + k + 1;
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case refused: one spelling per hash */
}

static int parse_part(const char *v, size_t n, struct bundle_part *part)
{
    const char *sp1 = memchr(v, ' ', n);
    if (!sp1)
        return -1;
    size_t nlen = (size_t)(sp1 - v);
    if (nlen == 0 || nlen > BUNDLE_NAME_MAX || v[0] == '.' || v[0] == '-' || v[0] == '_')
        return -1;
    for (size_t i = 0; i < nlen; i++) {
        char c = v[i];
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-'))
            return -1;
    }
    memcpy(part->name, v, nlen);
    part->name[nlen] = '\0';
    const char *s = sp1 + 1, *end = v + n;
    const char *sp2 = memchr(s, ' ', (size_t)(end - s));
    if (!sp2 || parse_uint(s, (size_t)(sp2 - s), 10, &part->size) != 0 || part->size == 0 ||
        part->size > BUNDLE_PART_MAX)
        return -1;
    const char *h = sp2 + 1;
    if (end - h != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        part->sha256[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int copy_version(char *dst, const char *v, size_t n)
{
    if (n > BUNDLE_VERSION_MAX)
        return -1;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return bundle_version_valid(dst) ? 0 : -1;
}

int bundle_manifest_parse(const char *buf, size_t len, uint64_t base, struct bundle_manifest *m,
                          char *err, size_t errlen)
{
    static const char *const head[] = {"product", "version", "min-from", "build-date"};
    memset(m, 0, sizeof(*m));
    if (len == 0 || buf[len - 1] != '\n')
        return fail(err, errlen, "manifest: last line not ended by a newline");
    if (memchr(buf, '\0', len) || memchr(buf, '\r', len))
        return fail(err, errlen, "manifest: NUL or carriage return in the text");
    const char *p = buf, *end = buf + len;
    uint64_t offset = base;
    unsigned lineno = 1;
    for (; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p), vlen;
        const char *v;
        if (lineno <= 4) {
            const char *key = head[lineno - 1];
            if (!(v = value_of(p, n, key, &vlen)))
                return fail(err, errlen, "manifest line %u: expected %s=", lineno, key);
            if (lineno == 1) {
                if (vlen > BUNDLE_PRODUCT_MAX)
                    return fail(err, errlen, "manifest: product longer than %d bytes",
                                BUNDLE_PRODUCT_MAX);
                memcpy(m->product, v, vlen);
                m->product[vlen] = '\0';
            } else if (lineno == 2 && copy_version(m->version, v, vlen) != 0) {
                return fail(err, errlen, "manifest: version is not MAJOR.MINOR.PATCH[-pre]");
            } else if (lineno == 3 && copy_version(m->min_from, v, vlen) != 0) {
                return fail(err, errlen, "manifest: min-from is not MAJOR.MINOR.PATCH[-pre]");
            } else if (lineno == 4) {
                uint64_t date;
                if (parse_uint(v, vlen, 12, &date) != 0)
                    return fail(err, errlen, "manifest: build-date is not seconds since 1970");
                m->build_date = (int64_t)date;
            }
        } else {
            if (!(v = value_of(p, n, "part", &vlen)))
                return fail(err, errlen, "manifest line %u: expected part=", lineno);
            if (m->nparts == BUNDLE_MAX_PARTS)
                return fail(err, errlen, "manifest: more than %d parts", BUNDLE_MAX_PARTS);
            struct bundle_part *part = &m->parts[m->nparts];
            if (parse_part(v, vlen, part) != 0)
                return fail(err, errlen,
                            "manifest line %u: expected part=NAME SIZE SHA256 (name [a-z0-9._-] "
                            "up to %d, size 1..%llu, 64 lower-case hex digits)",
                            lineno, BUNDLE_NAME_MAX, (unsigned long long)BUNDLE_PART_MAX);
            for (unsigned i = 0; i < m->nparts; i++)
                if (strcmp(m->parts[i].name, part->name) == 0)
                    return fail(err, errlen, "manifest: part %s listed twice", part->name);
            part->offset = offset;
            offset += part->size; /* at most 8 x 4 GiB: no overflow */
            m->parts_size += part->size;
            m->nparts++;
        }
        p = nl + 1;
    }
    if (lineno <= 4)
        return fail(err, errlen, "manifest: ends before %s=", head[lineno - 1]);
    if (m->nparts == 0)
        return fail(err, errlen, "manifest: no part");
    return 0;
}

/* Splits the numeric core "A.B.C" of v; returns the pre-release (after
 * '-') or NULL. Assumes nothing: returns -1 when v is not valid. */
static int split_version(const char *v, uint64_t num[3], const char **pre)
{
    const char *p = v;
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        while (is_digit(p[n]))
            n++;
        if (parse_uint(p, n, 9, &num[i]) != 0)
            return -1;
        p += n;
        if (i < 2) {
            if (*p != '.')
                return -1;
            p++;
        }
    }
    if (*p == '\0') {
        *pre = NULL;
        return 0;
    }
    if (*p != '-')
        return -1;
    *pre = p + 1;
    return 0;
}

int bundle_version_valid(const char *v)
{
    uint64_t num[3];
    const char *pre;
    if (strlen(v) > BUNDLE_VERSION_MAX || split_version(v, num, &pre) != 0)
        return 0;
    if (!pre)
        return 1;
    /* identifiers: non-empty, [0-9A-Za-z-], numeric ones without leading zeros */
    const char *id = pre;
    for (;;) {
        size_t n = 0;
        int numeric = 1;
        for (; id[n] && id[n] != '.'; n++) {
            char c = id[n];
            if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
                return 0;
            if (!is_digit(c))
                numeric = 0;
        }
        if (n == 0 || (numeric && n > 1 && id[0] == '0'))
            return 0;
        if (!id[n])
            return 1;
        id += n + 1;
    }
}

/* One pre-release identifier of length n: numeric ones compare by value
 * and sort before alphanumeric ones, which compare in ASCII. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    int anum = 1, bnum = 1;
    for (size_t i = 0; i < an; i++)
        anum &= is_digit(a[i]);
    for (size_t i = 0; i < bn; i++)
        bnum &= is_digit(b[i]);
    if (anum && bnum) {
        if (an != bn) /* no leading zeros: the longer is the larger */
            return an < bn ? -1 : 1;
        return memcmp(a, b, an);
    }
    if (anum != bnum)
        return anum ? -1 : 1;
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c;
    return an == bn ? 0 : (an < bn ? -1 : 1);
}

int bundle_version_cmp(const char *a, const char *b)
{
    uint64_t na[3], nb[3];
    const char *pa, *pb;
    if (split_version(a, na, &pa) != 0 || split_version(b, nb, &pb) != 0)
        return strcmp(a, b); /* not valid: callers check first; any order will do */
    for (int i = 0; i < 3; i++)
        if (na[i] != nb[i])
            return na[i] < nb[i] ? -1 : 1;
    if (!pa || !pb)
        return pa ? -1 : (pb ? 1 : 0);
    for (;;) {
        size_t an = strcspn(pa, "."), bn = strcspn(pb, ".");
        int c = cmp_ident(pa, an, pb, bn);
        if (c != 0)
            return c < 0 ? -1 : 1;
        if (!pa[an] || !pb[bn]) /* more identifiers sort later */
            return !pa[an] && !pb[bn] ? 0 : (!pa[an] ? -1 : 1);
        pa += an + 1;
        pb += bn + 1;
    }
}
