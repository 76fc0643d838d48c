/* Chunked request bodies (http1_decode_chunked), whole and in pieces.
 * Input: the length of the first piece, the length of every later piece
 * (0: the rest at once), then the body bytes as they came after the head.
 * Properties: decoding in pieces (each piece passed right after the payload
 * decoded so far, as the connection does) gives the same outcome as one
 * call: the same payload, the same bytes left over for the next request, or
 * the same error; an error is sticky; after the end every byte is trailing;
 * the payload is never longer than the input. */
#include "../../server/src/buf.c"
#include "../../server/src/http1.c"
#include "../../server/src/util.c"

#include "fuzz.h"

struct outcome {
    ssize_t rc;     /* -1, -2, or >= 0 (done) */
    size_t payload; /* bytes of payload at the front of buf */
    size_t trailing;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t first = data[0], later = data[1], n = size - 2;
    const uint8_t *in = data + 2;

    /* whole */
    char *w = malloc(n ? n : 1);
    memcpy(w, in, n);
    struct http1_chunked_decoder d;
    http1_chunked_init(&d);
    size_t len = n;
    struct outcome a = {http1_decode_chunked(&d, w, &len), 0, 0};
    FUZZ_CHECK(a.rc >= -2);
    FUZZ_CHECK(len <= n);
    a.payload = len;
    if (a.rc >= 0) {
        a.trailing = (size_t)a.rc;
        FUZZ_CHECK(a.payload + a.trailing <= n);
        /* the bytes after the body are the input's last bytes, moved */
        FUZZ_CHECK(memcmp(w + a.payload, in + n - a.trailing, a.trailing) == 0);
    } else {
        FUZZ_CHECK(a.payload <= n);
    }

    /* in pieces */
    char *s = malloc(n ? n : 1);
    struct http1_chunked_decoder e;
    http1_chunked_init(&e);
    struct outcome b = {-2, 0, 0};
    size_t pos = 0;
    bool failed = false;
    while (pos < n) {
        size_t piece = pos == 0 ? (first ? first : n) : (later ? later : n - pos);
        if (piece > n - pos)
            piece = n - pos;
        memcpy(s + b.payload, in + pos, piece);
        size_t l = piece;
        ssize_t rc = http1_decode_chunked(&e, s + b.payload, &l);
        pos += piece;
        if (failed) {
            FUZZ_CHECK(rc == -1); /* sticky */
            continue;
        }
        b.rc = rc;
        if (rc == -1) {
            failed = true;
            continue;
        }
        FUZZ_CHECK(l <= piece);
        b.payload += l;
        if (rc >= 0) {
            FUZZ_CHECK((size_t)rc <= piece - l);
            b.trailing = (size_t)rc + (n - pos);
            b.rc = (ssize_t)b.trailing; /* what one call over everything returns */
            memcpy(s + b.payload + rc, in + pos, n - pos);
            /* after the end, more bytes are all trailing, none payload */
            if (n - pos) {
                size_t more = n - pos;
                char *extra = malloc(more);
                memcpy(extra, in + pos, more);
                size_t ml = more;
                FUZZ_CHECK(http1_decode_chunked(&e, extra, &ml) == (ssize_t)more && ml == 0);
                FUZZ_CHECK(memcmp(extra, in + pos, more) == 0);
                free(extra);
            }
            break;
        }
        FUZZ_CHECK(rc == -2);
    }
    FUZZ_CHECK(a.rc == b.rc);
    if (a.rc >= 0) {
        FUZZ_CHECK(a.payload == b.payload && a.trailing == b.trailing);
        FUZZ_CHECK(memcmp(w, s, a.payload + a.trailing) == 0);
    } else if (a.rc == -2) {
        FUZZ_CHECK(a.payload == b.payload && memcmp(w, s, a.payload) == 0);
    }
    free(w);
    free(s);
    return 0;
}
