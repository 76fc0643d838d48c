/* The wizard's form decoding (config-ui/wizard/cgi.c): urlencoded bodies and
 * query strings (cgi_form_decode), and multipart uploads
 * (cgi_multipart_decode: certificates, backups). The admin's browser is the
 * only honest sender, but anyone who reaches port 80/443 can post.
 * Input: one byte (even: urlencoded; odd: multipart), then for multipart
 * the boundary up to a line break, then the body.
 * Properties: urlencoded fields are what a plain reference decoder finds;
 * decoded multipart fields, written out again as a multipart body with the
 * same boundary, decode to the same names, file names and bytes; no text
 * field holds a NUL; refusals say why. */
#include "../../config-ui/wizard/cgi.c"

#include "fuzz.h"

static struct cgi_form a, b;

static int ref_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reference: returns the decoded length or -1 (bad escape, NUL). */
static long ref_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || ref_hex((unsigned char)s[i + 1]) < 0 ||
                ref_hex((unsigned char)s[i + 2]) < 0)
                return -1;
            c = ref_hex((unsigned char)s[i + 1]) * 16 + ref_hex((unsigned char)s[i + 2]);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return (long)o;
}

static void check_urlencoded(const char *d, size_t len)
{
    memset(&a, 0, sizeof a);
    int rc = cgi_form_decode(d, len, &a);
    /* reference: pairs between '&', empty ones skipped, the first failure wins */
    size_t i = 0, n = 0;
    int want = 0;
    char *tmp = malloc(len + 1);
    while (i < len && want == 0) {
        size_t j = i;
        while (j < len && d[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && d[eq] != '=')
                eq++;
            if (n == CGI_MAX_FIELDS || eq - i >= CGI_NAME_MAX ||
                ref_unescape(d + i, eq - i, tmp) < 0) {
                want = -1;
            } else {
                FUZZ_CHECK(rc != 0 || strcmp(a.f[n].name, tmp) == 0);
                long vl = ref_unescape(d + eq + 1, eq < j ? j - eq - 1 : 0, tmp);
                if (vl < 0) {
                    want = -1;
                } else {
                    FUZZ_CHECK(rc != 0 || (a.f[n].len == (size_t)vl &&
                                           memcmp(a.f[n].value, tmp, (size_t)vl + 1) == 0));
                    n++;
                }
            }
        }
        i = j + 1;
    }
    free(tmp);
    FUZZ_CHECK(rc == want);
    FUZZ_CHECK(rc != 0 || a.n == n);
    FUZZ_CHECK(rc == 0 || a.err[0] != 0);
    cgi_form_free(&a);
}

static bool quotable(const char *s)
{
    return !strchr(s, '"');
}

static void check_multipart(const char *boundary, const char *d, size_t len)
{
    char ctype[256];
    snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", boundary);
    memset(&a, 0, sizeof a);
    int rc = cgi_multipart_decode(d, len, ctype, &a);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(a.err[0] != 0);
        cgi_form_free(&a);
        return;
    }
    size_t cap = 256, out_len = 0;
    for (size_t i = 0; i < a.n; i++) {
        FUZZ_CHECK(a.f[i].name[0] != 0);
        FUZZ_CHECK(a.f[i].is_file || !memchr(a.f[i].value, 0, a.f[i].len));
        FUZZ_CHECK(a.f[i].value[a.f[i].len] == 0);
        if (!quotable(a.f[i].name) || !quotable(a.f[i].filename)) {
            cgi_form_free(&a);
            return; /* a name with a '"' cannot be written back quoted */
        }
        cap += a.f[i].len + 512;
    }
    char *out = malloc(cap);
    for (size_t i = 0; i < a.n; i++) {
        out_len +=
            (size_t)sprintf(out + out_len, "--%s\r\nContent-Disposition: form-data; name=\"%s\"",
                            boundary, a.f[i].name);
        if (a.f[i].is_file)
            out_len += (size_t)sprintf(out + out_len, "; filename=\"%s\"", a.f[i].filename);
        out_len += (size_t)sprintf(out + out_len, "\r\n\r\n");
        memcpy(out + out_len, a.f[i].value, a.f[i].len);
        out_len += a.f[i].len;
        out_len += (size_t)sprintf(out + out_len, "\r\n");
    }
    out_len += (size_t)sprintf(out + out_len, "--%s--\r\n", boundary);
    memset(&b, 0, sizeof b);
    if (a.n == 0) {
        /* nothing to write back but the closing delimiter */
        FUZZ_CHECK(cgi_multipart_decode(out, out_len, ctype, &b) == 0 && b.n == 0);
    } else {
        FUZZ_CHECK(cgi_multipart_decode(out, out_len, ctype, &b) == 0);
        FUZZ_CHECK(b.n == a.n);
        for (size_t i = 0; i < a.n; i++) {
            FUZZ_CHECK(strcmp(a.f[i].name, b.f[i].name) == 0 && a.f[i].is_file == b.f[i].is_file);
            FUZZ_CHECK(strcmp(a.f[i].filename, b.f[i].filename) == 0);
            FUZZ_CHECK(a.f[i].len == b.f[i].len &&
                       memcmp(a.f[i].value, b.f[i].value, a.f[i].len) == 0);
        }
    }
    free(out);
    cgi_form_free(&a);
    cgi_form_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > CGI_BODY_MAX)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    if (!(data[0] & 1)) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, in, n);
        check_urlencoded(copy, n);
        free(copy);
        return 0;
    }
    const char *nl = memchr(in, '\n', n);
    if (!nl || nl - in > 100)
        return 0;
    char boundary[101];
    memcpy(boundary, in, (size_t)(nl - in));
    boundary[nl - in] = 0;
    /* what the Content-Type header carries as the boundary parameter, unquoted */
    if (strlen(boundary) != (size_t)(nl - in) || strcspn(boundary, "; \t\"") != strlen(boundary))
        return 0;
    size_t blen = n - (size_t)(nl - in) - 1;
    char *copy = malloc(blen ? blen : 1);
    memcpy(copy, nl + 1, blen);
    check_multipart(boundary, copy, blen);
    free(copy);
    return 0;
}
