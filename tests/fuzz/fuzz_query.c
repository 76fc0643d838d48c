/* Query strings (http1_query_get) and percent-decoding
 * (http1_percent_decode). Input: one byte for the output room, one for the
 * length of the parameter name, the name, then the raw query.
 * Properties: both agree with a plain reference written from their
 * contracts (first whole-name match between '&'s, "%hh" with hh not 00,
 * '+' as space, output room including the NUL); decoding in place gives
 * what decoding into another buffer gives. */
#include "../../server/src/buf.c"
#include "../../server/src/http1.c"
#include "../../server/src/util.c"

#include "fuzz.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static ssize_t ref_decode(const char *in, size_t len, char *out, size_t cap, bool plus)
{
    size_t o = 0, i = 0;
    while (i < len) {
        char c = in[i++];
        if (c == '%') {
            if (i + 2 > len || hexval(in[i]) < 0 || hexval(in[i + 1]) < 0)
                return -1;
            c = (char)(hexval(in[i]) * 16 + hexval(in[i + 1]));
            if (c == 0)
                return -1;
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    if (cap == 0)
        return -1;
    out[o] = 0;
    return (ssize_t)o;
}

static int ref_get(const char *q, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name), start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && q[end] != '&')
            end++;
        size_t eq = start;
        while (eq < end && q[eq] != '=')
            eq++;
        if (eq - start == nlen && memcmp(q + start, name, nlen) == 0) {
            size_t v = eq < end ? eq + 1 : end;
            return ref_decode(q + v, end - v, out, cap, true) < 0 ? -1 : 1;
        }
        start = end + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || (size_t)data[1] + 2 > size)
        return 0;
    size_t cap = data[0], nlen = data[1];
    char name[256];
    memcpy(name, data + 2, nlen);
    name[nlen] = 0;
    if (strlen(name) != nlen)
        return 0; /* names are C strings in the server */
    size_t qlen = size - 2 - nlen;
    char *q = malloc(qlen ? qlen : 1);
    memcpy(q, data + 2 + nlen, qlen);

    char *a = malloc(cap ? cap : 1), *b = malloc(cap ? cap : 1);
    int ra = http1_query_get(qlen ? q : NULL, qlen, name, a, cap);
    int rb = ref_get(q, qlen, name, b, cap);
    FUZZ_CHECK(ra == rb);
    if (ra == 1)
        FUZZ_CHECK(strcmp(a, b) == 0);

    for (int plus = 0; plus < 2; plus++) {
        char *x = malloc(cap ? cap : 1), *y = malloc(cap ? cap : 1);
        ssize_t rx = http1_percent_decode(q, qlen, x, cap, plus);
        ssize_t ry = ref_decode(q, qlen, y, cap, plus);
        FUZZ_CHECK(rx == ry);
        if (rx >= 0) {
            FUZZ_CHECK(memcmp(x, y, (size_t)rx + 1) == 0);
            /* in place: the output never overtakes the input */
            char *inplace = malloc(qlen + 1);
            memcpy(inplace, q, qlen);
            FUZZ_CHECK(http1_percent_decode(inplace, qlen, inplace, qlen + 1, plus) == rx);
            FUZZ_CHECK(memcmp(inplace, x, (size_t)rx + 1) == 0);
            free(inplace);
        }
        free(x);
        free(y);
    }
    free(a);
    free(b);
    free(q);
    return 0;
}
