/* UTF-8 validation: the WebSocket text check (ws_utf8_step, fed in two
 * pieces at a chosen point) and the protobuf string check (pb_utf8_valid).
 * Input: one byte for the split point, then the text.
 * Property: both agree with a plain reference decoder written from RFC 3629
 * (shortest form, no surrogates, nothing above U+10FFFF), and the step
 * validator says "invalid" exactly when the bytes so far can begin no valid
 * text, "complete" exactly when they are valid text. */
#include "../../server/src/buf.c"
#include "../../server/src/pb.c"
#include "../../server/src/util.c"
#include "../../server/src/ws.c"

#include "fuzz.h"

/* Returns the number of bytes of p[0..n) that form valid UTF-8 text plus
 * a valid start of one more character; *complete tells whether the valid
 * part ends on a character boundary and covers everything. */
static size_t ref_valid_prefix(const uint8_t *p, size_t n, bool *complete)
{
    size_t i = 0;
    *complete = false;
    while (i < n) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        size_t j = 1;
        for (; j <= need && i + j < n; j++) {
            uint8_t d = p[i + j];
            if ((d & 0xc0) != 0x80)
                return i + j;
            cp = cp << 6 | (d & 0x3f);
            /* the second byte alone already shows an overlong, a surrogate
             * or a code point too high */
            if (j == 1) {
                uint32_t lo = cp << (6 * (need - 1)), hi = lo | ((1u << (6 * (need - 1))) - 1);
                if (hi < min || lo > 0x10ffff || (lo >= 0xd800 && hi <= 0xdfff))
                    return i + j;
            }
        }
        if (j <= need)
            return n; /* a valid start, cut short */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    *complete = true;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1, k = data[0] % (n + 1);
    uint8_t *t = malloc(n ? n : 1);
    memcpy(t, data + 1, n);
    bool complete;
    size_t good = ref_valid_prefix(t, n, &complete);

    FUZZ_CHECK(pb_utf8_valid(t, n) == complete);

    uint32_t st = 0;
    bool ok1 = ws_utf8_step(&st, t, k);
    bool complete1;
    FUZZ_CHECK(ok1 == (ref_valid_prefix(t, k, &complete1) == k));
    if (ok1)
        FUZZ_CHECK(ws_utf8_complete(st) == complete1);
    bool ok2 = ws_utf8_step(&st, t + k, n - k);
    FUZZ_CHECK((ok1 && ok2) == (good == n));
    FUZZ_CHECK(ws_utf8_complete(st) == complete);

    uint32_t st2 = 0;
    FUZZ_CHECK(ws_utf8_step(&st2, t, n) == (good == n));
    free(t);
    return 0;
}
