/* Unit tests for the protobuf codec (server/src/pb.c). Every decoder input is copied so
 * that it ends exactly at a PROT_NONE page (picohttpparser test.c), so any over-read
 * faults instead of passing silently. */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/pb.c"
#include "../../../server/src/util.c"

#include "guard.h"
#include "tap.h"

#include <sys/mman.h>
#include <unistd.h>


static const struct pb_limits lim_default = {
    .max_requests = 16, .max_messages = 100, .max_receivers = 100, .max_channels = 100};

static int decode_lim(const void *p, size_t len, const struct pb_limits *lim,
                      struct pb_request_batch *out)
{
    const uint8_t *g = guard_copy(p, len);
    out->requests = (void *)1; /* must be reset on every path */
    out->n_requests = 99;
    int rc = pb_decode_request_batch(g, len, lim, out);
    if (rc != PB_OK && (out->requests != NULL || out->n_requests != 0))
        return 1000; /* "nothing to free on error" broken */
    return rc;
}

static int decode(const void *p, size_t len, struct pb_request_batch *out)
{
    return decode_lim(p, len, &lim_default, out);
}

/* decode and free: for inputs where only the result code matters */
static int decode_rc_lim(const void *p, size_t len, const struct pb_limits *lim)
{
    struct pb_request_batch b;
    int rc = decode_lim(p, len, lim, &b);
    if (rc == PB_OK)
        pb_request_batch_free(&b);
    return rc;
}

static int decode_rc(const void *p, size_t len)
{
    return decode_rc_lim(p, len, &lim_default);
}

static bool bytes_eq(struct pb_bytes b, const void *p, size_t len)
{
    return b.len == len && (len == 0 || memcmp(b.p, p, len) == 0);
}

static bool str_eq(struct pb_bytes b, const char *s)
{
    return bytes_eq(b, s, strlen(s));
}

/* ---- message builders (for the vectors that are too tedious to write out) ---- */

static void b_key(struct buf *b, uint32_t field, unsigned wt)
{
    pb_buf_put_varint(b, ((uint64_t)field << 3) | wt);
}

static void b_uint(struct buf *b, uint32_t field, uint64_t v)
{
    b_key(b, field, PB_WT_VARINT);
    pb_buf_put_varint(b, v);
}

static void b_bytes(struct buf *b, uint32_t field, const void *p, size_t len)
{
    b_key(b, field, PB_WT_LEN);
    pb_buf_put_varint(b, len);
    buf_append(b, p, len);
}

static void b_str(struct buf *b, uint32_t field, const char *s)
{
    b_bytes(b, field, s, strlen(s));
}

/* Appends inner as a sub-message field and empties inner. */
static void b_sub(struct buf *b, uint32_t field, struct buf *inner)
{
    b_bytes(b, field, inner->data, inner->len);
    buf_deinit(inner);
}

static void b_receiver(struct buf *b, uint32_t field, const char *id, bool priv, const char *sig)
{
    struct buf r;
    buf_init(&r);
    if (id)
        b_str(&r, 1, id);
    if (priv)
        b_uint(&r, 2, 1);
    if (sig)
        b_str(&r, 3, sig);
    b_sub(b, field, &r);
}

/* RequestBatch{requests:[{incomingMessages:{messages: n x {receivers: nrecv, body}}}]} */
static void b_incoming_batch(struct buf *out, size_t nmsg, size_t nrecv)
{
    struct buf imr, rq, m;
    buf_init(&imr);
    buf_init(&rq);
    for (size_t i = 0; i < nmsg; i++) {
        buf_init(&m);
        for (size_t k = 0; k < nrecv; k++)
            b_receiver(&m, 1, "0123456789abcdef", true, NULL);
        b_str(&m, 3, "{}");
        b_sub(&imr, 1, &m);
    }
    b_sub(&rq, 1, &imr);
    b_sub(out, 1, &rq);
}

static void b_stats_batch(struct buf *out, size_t nch)
{
    struct buf csr, rq;
    buf_init(&csr);
    buf_init(&rq);
    for (size_t i = 0; i < nch; i++)
        b_receiver(&csr, 1, "0123456789abcdef", true, NULL);
    b_sub(&rq, 2, &csr);
    b_sub(out, 1, &rq);
}

/* ---- the reference vector: what PHP's ProtobufTransport sends ---- */

/* RequestBatch{requests:[{incomingMessages:{messages:[{receivers:[{id:01020304,
 * isPrivate:true}], body:'{"a":1}', expiry:86400, type:"im"}]}}]} */
static const uint8_t php_vec[] = {
    0x0a, 0x1f,                                        /* RequestBatch.requests, 31 */
    0x0a, 0x1d,                                        /* Request.incomingMessages, 29 */
    0x0a, 0x1b,                                        /* IncomingMessagesRequest.messages, 27 */
    0x0a, 0x08,                                        /* IncomingMessage.receivers, 8 */
    0x0a, 0x04, 0x01, 0x02, 0x03, 0x04,                /*   Receiver.id */
    0x10, 0x01,                                        /*   Receiver.isPrivate */
    0x1a, 0x07, '{',  '"',  'a',  '"',  ':', '1', '}', /* body */
    0x20, 0x80, 0xa3, 0x05,                            /* expiry 86400 */
    0x2a, 0x02, 'i',  'm',                             /* type */
};

static void check_php_vec(const struct pb_request_batch *b, bool want_sender)
{
    static const uint8_t id[] = {1, 2, 3, 4};
    ok(b->n_requests == 1, "one request");
    const struct pb_request *rq = &b->requests[0];
    ok(rq->kind == PB_REQ_INCOMING_MESSAGES, "incomingMessages");
    ok(rq->n_messages == 1 && rq->n_channels == 0, "one message");
    const struct pb_incoming_message *m = &rq->messages[0];
    ok(m->n_receivers == 1, "one receiver");
    ok(bytes_eq(m->receivers[0].id, id, 4), "receiver id");
    ok(m->receivers[0].is_private, "receiver isPrivate");
    ok(m->receivers[0].signature.len == 0, "no signature");
    ok(m->has_sender == want_sender, "sender presence");
    ok(str_eq(m->body, "{\"a\":1}"), "body");
    ok(m->expiry == 86400, "expiry");
    ok(str_eq(m->type, "im"), "type");
}

static void test_reference_vector(void)
{
    struct pb_request_batch b;
    ok(decode(php_vec, sizeof php_vec, &b) == PB_OK, "decodes");
    check_php_vec(&b, false);
    pb_request_batch_free(&b);
    ok(b.requests == NULL && b.n_requests == 0, "free empties the batch");
    pb_request_batch_free(&b);
    pb_request_batch_free(NULL);

    /* the builders produce the same bytes, so the builder-made vectors below are trustworthy */
    struct buf out, rq, imr, m, r;
    buf_init(&out);
    buf_init(&rq);
    buf_init(&imr);
    buf_init(&m);
    buf_init(&r);
    b_bytes(&r, 1, "\x01\x02\x03\x04", 4);
    b_uint(&r, 2, 1);
    b_sub(&m, 1, &r);
    b_str(&m, 3, "{\"a\":1}");
    b_uint(&m, 4, 86400);
    b_str(&m, 5, "im");
    b_sub(&imr, 1, &m);
    b_sub(&rq, 1, &imr);
    b_sub(&out, 1, &rq);
    ok(out.len == sizeof php_vec && memcmp(out.data, php_vec, out.len) == 0,
       "builders agree with the hand-written vector");
    buf_deinit(&out);
}

/* ---- varints and UTF-8 ---- */

static void test_varint(void)
{
    static const uint64_t vals[] = {0,          1,          127,        128,
                                    16383,      16384,      2097151,    2097152,
                                    UINT32_MAX, 1ull << 35, 1ull << 63, UINT64_MAX};
    uint8_t tmp[PB_VARINT_MAX];
    bool all = true;
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        size_t n = pb_put_varint(tmp, vals[i]);
        uint64_t v = 0;
        all &= n == pb_varint_len(vals[i]);
        all &= pb_get_varint(tmp, n, &v) == (int)n && v == vals[i];
        for (size_t k = 0; k < n; k++)
            all &= pb_get_varint(tmp, k, &v) == -2;
    }
    ok(all, "round trip and truncation of boundary values");
    ok(pb_varint_len(UINT64_MAX) == 10 && pb_varint_len(127) == 1 && pb_varint_len(128) == 2,
       "lengths");

    uint64_t v = 42;
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    ok(pb_get_varint(eleven, sizeof eleven, &v) == -1, "11-byte varint rejected");
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    ok(pb_get_varint(big, sizeof big, &v) == -1, "65-bit varint rejected");
    static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    ok(pb_get_varint(max, sizeof max, &v) == 10 && v == UINT64_MAX, "UINT64_MAX accepted");
    static const uint8_t padded[] = {0x81, 0x80, 0x00};
    ok(pb_get_varint(padded, sizeof padded, &v) == 3 && v == 1, "non-minimal encoding accepted");

    struct buf b;
    buf_init(&b);
    pb_buf_put_varint(&b, 300);
    ok(b.len == 2 && b.data[0] == 0xac && b.data[1] == 0x02, "pb_buf_put_varint(300)");
    buf_deinit(&b);
}

static void test_utf8(void)
{
#define U(s) (const uint8_t *)(s), sizeof(s) - 1
    ok(pb_utf8_valid(U("")), "empty");
    ok(pb_utf8_valid(U("plain ascii {\"a\":1}")), "ascii");
    ok(pb_utf8_valid(U("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82")), "2-byte (Cyrillic)");
    ok(pb_utf8_valid(U("\xe2\x82\xac \xef\xbf\xbf \xed\x9f\xbf")), "3-byte incl. U+FFFF, U+D7FF");
    ok(pb_utf8_valid(U("\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf")), "4-byte incl. U+10FFFF");
    ok(pb_utf8_valid(U("a\0b")), "NUL is valid UTF-8");
    ok(!pb_utf8_valid(U("\x80")), "lone continuation");
    ok(!pb_utf8_valid(U("\xc0\x80")), "overlong 2-byte NUL");
    ok(!pb_utf8_valid(U("\xc1\xbf")), "overlong C1");
    ok(!pb_utf8_valid(U("\xe0\x80\x80")), "overlong 3-byte");
    ok(!pb_utf8_valid(U("\xf0\x80\x80\x80")), "overlong 4-byte");
    ok(!pb_utf8_valid(U("\xed\xa0\x80")), "surrogate");
    ok(!pb_utf8_valid(U("\xf4\x90\x80\x80")), "above U+10FFFF");
    ok(!pb_utf8_valid(U("\xf5\x80\x80\x80")), "F5");
    ok(!pb_utf8_valid(U("\xff")), "FF");
    ok(!pb_utf8_valid(U("\xe2\x82")), "truncated 3-byte");
    ok(!pb_utf8_valid(U("\xe2\x28\xa1")), "bad continuation");
    ok(!pb_utf8_valid(U("ok\xf0\x9f\x98")), "truncated at end");
#undef U
    /* each truncation of a multi-byte char must be caught at the guard page */
    const uint8_t *g = guard_copy("\xf0\x9f\x98", 3);
    ok(!pb_utf8_valid(g, 3), "truncated 4-byte at a guard page");
}

/* ---- robustness ---- */

static void test_truncations(void)
{
    bool all = true;
    for (size_t n = 1; n < sizeof php_vec; n++)
        all &= decode_rc(php_vec, n) == PB_MALFORMED;
    ok(all, "every strict prefix of a one-request batch is malformed");
    ok(decode_rc(php_vec, 0) == PB_OK, "the empty prefix is an empty batch");

    /* two requests: a prefix ending between them is a valid one-request batch */
    struct buf two;
    buf_init(&two);
    buf_append(&two, php_vec, sizeof php_vec);
    b_stats_batch(&two, 3);
    size_t n_ok = 0, n_bad = 0;
    for (size_t n = 1; n < two.len; n++) {
        struct pb_request_batch b;
        int rc = decode(two.data, n, &b);
        if (rc == PB_OK) {
            n_ok++;
            all &= n == sizeof php_vec && b.n_requests == 1;
            pb_request_batch_free(&b);
        } else {
            n_bad++;
            all &= rc == PB_MALFORMED;
        }
    }
    ok(all && n_ok == 1 && n_bad == two.len - 2, "two requests: only the boundary prefix decodes");
    struct pb_request_batch b;
    ok(decode(two.data, two.len, &b) == PB_OK && b.n_requests == 2 &&
           b.requests[1].kind == PB_REQ_CHANNEL_STATS && b.requests[1].n_channels == 3,
       "two requests decode");
    pb_request_batch_free(&b);
    buf_deinit(&two);
}

/* Every single-byte substitution of the reference vector: must not crash, leak or
 * over-read; what it decodes to does not matter. */
static void test_mutations(void)
{
    uint8_t tmp[sizeof php_vec];
    size_t n_ok = 0, n_err = 0;
    bool codes = true;
    for (size_t i = 0; i < sizeof php_vec; i++) {
        for (unsigned v = 0; v < 256; v++) {
            memcpy(tmp, php_vec, sizeof tmp);
            tmp[i] = (uint8_t)v;
            int rc = decode_rc(tmp, sizeof tmp);
            if (rc == PB_OK)
                n_ok++;
            else
                n_err++;
            codes &= rc == PB_OK || rc == PB_MALFORMED;
        }
    }
    note("%zu mutations decoded, %zu rejected", n_ok, n_err);
    ok(codes && n_ok > 0 && n_err > 0, "all single-byte mutations handled");
}

static void test_varint_overflow(void)
{
    /* key: 11 bytes */
    static const uint8_t key11[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x00};
    ok(decode_rc(key11, sizeof key11) == PB_MALFORMED, "11-byte key");
    /* key that does not fit a 32-bit tag */
    static const uint8_t key_big[] = {0x8a, 0x80, 0x80, 0x80, 0x10, 0x00};
    ok(decode_rc(key_big, sizeof key_big) == PB_MALFORMED, "key above 32 bits");
    /* largest legal field number (2^29-1), varint wire type, skipped */
    static const uint8_t key_max[] = {0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00};
    ok(decode_rc(key_max, sizeof key_max) == PB_OK, "field 2^29-1 skipped");
    /* length: 10 bytes, 65 bits */
    static const uint8_t len65[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0x7f};
    ok(decode_rc(len65, sizeof len65) == PB_MALFORMED, "65-bit length");
    /* length: 2^64-1, which must not wrap the bounds check */
    static const uint8_t lenmax[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x01};
    ok(decode_rc(lenmax, sizeof lenmax) == PB_MALFORMED, "length 2^64-1");
    /* an 11-byte varint value in an unknown field */
    static const uint8_t val11[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0x81, 0x00};
    ok(decode_rc(val11, sizeof val11) == PB_MALFORMED, "11-byte value in an unknown field");
    /* expiry as a 10-byte varint: low 32 bits kept */
    struct buf m, imr, rq, out;
    buf_init(&m);
    buf_init(&imr);
    buf_init(&rq);
    buf_init(&out);
    b_uint(&m, 4, 0xffffffff00000007ull);
    b_sub(&imr, 1, &m);
    b_sub(&rq, 1, &imr);
    b_sub(&out, 1, &rq);
    struct pb_request_batch b;
    ok(decode(out.data, out.len, &b) == PB_OK && b.requests[0].messages[0].expiry == 7,
       "oversized uint32 truncated to its low 32 bits");
    pb_request_batch_free(&b);
    buf_deinit(&out);
}

static void test_lengths(void)
{
    static const uint8_t past_end[] = {0x0a, 0x05, 0x0a, 0x00};
    ok(decode_rc(past_end, sizeof past_end) == PB_MALFORMED, "length beyond end of input");
    /* Request says 2 bytes, its incomingMessages claims 3: the third byte exists in the
     * buffer (it is an unknown varint field of the batch) but belongs to the parent. */
    static const uint8_t nested[] = {0x0a, 0x02, 0x0a, 0x03, 0x10, 0x00, 0x00};
    ok(decode_rc(nested, sizeof nested) == PB_MALFORMED, "nested length beyond parent");
    static const uint8_t nested_ok[] = {0x0a, 0x02, 0x0a, 0x00, 0x10, 0x00};
    ok(decode_rc(nested_ok, sizeof nested_ok) == PB_OK, "same bytes with a fitting length");
    /* receiver id length past the receiver, though not past the input (a trailing
     * unknown field of the batch supplies the bytes) */
    uint8_t deep[] = {0x0a, 0x0a, 0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x04,
                      0x0a, 0x05, 0x01, 0x02, 0x1a, 0x01, 0x00};
    ok(decode_rc(deep, sizeof deep) == PB_MALFORMED, "innermost length beyond its parent");
    deep[9] = 0x02;
    ok(decode_rc(deep, sizeof deep) == PB_OK, "same bytes with a fitting id length");
    static const uint8_t fixed_short[] = {0x15, 0x01, 0x02, 0x03};
    ok(decode_rc(fixed_short, sizeof fixed_short) == PB_MALFORMED, "truncated fixed32");
    static const uint8_t fixed64_short[] = {0x11, 1, 2, 3, 4, 5, 6, 7};
    ok(decode_rc(fixed64_short, sizeof fixed64_short) == PB_MALFORMED, "truncated fixed64");
}

static void test_wire_types(void)
{
    /* known fields with the wrong wire type, at each level */
    static const uint8_t batch_varint[] = {0x08, 0x01};
    ok(decode_rc(batch_varint, sizeof batch_varint) == PB_MALFORMED, "requests as varint");
    static const uint8_t req_fixed[] = {0x0a, 0x05, 0x0d, 0, 0, 0, 0};
    ok(decode_rc(req_fixed, sizeof req_fixed) == PB_MALFORMED, "incomingMessages as fixed32");
    static const uint8_t stats_varint[] = {0x0a, 0x02, 0x18, 0x00};
    ok(decode_rc(stats_varint, sizeof stats_varint) == PB_MALFORMED, "serverStats as varint");
    static const uint8_t msgs_varint[] = {0x0a, 0x04, 0x0a, 0x02, 0x08, 0x01};
    ok(decode_rc(msgs_varint, sizeof msgs_varint) == PB_MALFORMED, "messages as varint");
    static const uint8_t chans_i64[] = {0x0a, 0x0b, 0x12, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0, 0};
    ok(decode_rc(chans_i64, sizeof chans_i64) == PB_MALFORMED, "channels as fixed64");

    /* IncomingMessage fields: wrap one field into a full batch */
    static const struct {
        uint8_t bytes[4];
        size_t len;
        const char *what;
    } bad[] = {
        {{0x08, 0x01}, 2, "receivers as varint"},
        {{0x10, 0x02}, 2, "sender as varint"},
        {{0x18, 0x01}, 2, "body as varint"},
        {{0x22, 0x01, 0x05}, 3, "expiry as bytes"},
        {{0x25, 0, 0, 0}, 4, "expiry as fixed32 (truncated too)"},
        {{0x28, 0x01}, 2, "type as varint"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        uint8_t v[16] = {0x0a, (uint8_t)(bad[i].len + 4), 0x0a, (uint8_t)(bad[i].len + 2),
                         0x0a, (uint8_t)bad[i].len};
        memcpy(v + 6, bad[i].bytes, bad[i].len);
        ok(decode_rc(v, 6 + bad[i].len) == PB_MALFORMED, bad[i].what);
    }

    /* Receiver/ChannelId and Sender fields */
    struct {
        uint32_t outer; /* 1 = inside a receiver, 2 = inside the sender, 3 = a ChannelId */
        uint8_t bytes[3];
        size_t len;
        const char *what;
    } sub[] = {
        {1, {0x08, 0x01}, 2, "receiver id as varint"},
        {1, {0x12, 0x01, 0x01}, 3, "packed isPrivate rejected (singular field)"},
        {1, {0x15, 0x00}, 2, "isPrivate as fixed32"},
        {1, {0x18, 0x00}, 2, "signature as varint"},
        {2, {0x0a, 0x01, 0x02}, 3, "sender type as bytes"},
        {2, {0x10, 0x01}, 2, "sender id as varint"},
        {3, {0x12, 0x01, 0x01}, 3, "ChannelId packed isPrivate"},
        {3, {0x08, 0x00}, 2, "ChannelId id as varint"},
    };
    for (size_t i = 0; i < ARRAY_LEN(sub); i++) {
        struct buf inner, m, imr, rq, out;
        buf_init(&inner);
        buf_init(&m);
        buf_init(&imr);
        buf_init(&rq);
        buf_init(&out);
        buf_append(&inner, sub[i].bytes, sub[i].len);
        if (sub[i].outer == 3) {
            b_sub(&imr, 1, &inner);
            b_sub(&rq, 2, &imr);
        } else {
            b_sub(&m, sub[i].outer, &inner);
            b_sub(&imr, 1, &m);
            b_sub(&rq, 1, &imr);
        }
        b_sub(&out, 1, &rq);
        ok(decode_rc(out.data, out.len) == PB_MALFORMED, sub[i].what);
        buf_deinit(&out);
    }
}

static void test_bool(void)
{
    static const struct {
        uint8_t v[10];
        size_t len;
        bool want;
    } cases[] = {
        {{0x00}, 1, false},
        {{0x01}, 1, true},
        {{0x02}, 1, true},
        {{0x80, 0x01}, 2, true},
        {{0x80, 0x00}, 2, false},
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 10, true},
    };
    bool all = true;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        uint8_t v[32] = {0x0a, (uint8_t)(cases[i].len + 5), 0x12, (uint8_t)(cases[i].len + 3),
                         0x0a, (uint8_t)(cases[i].len + 1), 0x10};
        memcpy(v + 7, cases[i].v, cases[i].len);
        struct pb_request_batch b;
        int rc = decode(v, 7 + cases[i].len, &b);
        all &= rc == PB_OK && b.requests[0].n_channels == 1 &&
               b.requests[0].channels[0].is_private == cases[i].want;
        if (rc == PB_OK)
            pb_request_batch_free(&b);
    }
    ok(all, "unpacked bool: 0 is false, any other varint value is true");
    static const uint8_t packed[] = {0x0a, 0x07, 0x12, 0x05, 0x0a, 0x03, 0x12, 0x01, 0x01};
    ok(decode_rc(packed, sizeof packed) == PB_MALFORMED, "packed bool is a wrong wire type");
    static const uint8_t twice[] = {0x0a, 0x08, 0x12, 0x06, 0x0a, 0x04, 0x10, 0x01, 0x10, 0x00};
    struct pb_request_batch b;
    ok(decode(twice, sizeof twice, &b) == PB_OK && !b.requests[0].channels[0].is_private,
       "last bool wins");
    pb_request_batch_free(&b);
}

static void test_unknown_fields(void)
{
    /* one of each wire type, with small and huge field numbers */
    struct buf unk;
    buf_init(&unk);
    b_uint(&unk, 15, 1);
    b_uint(&unk, 536870911, UINT64_MAX);
    b_key(&unk, 16, PB_WT_I64);
    buf_append(&unk, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    b_key(&unk, 17, PB_WT_I32);
    buf_append(&unk, "\x01\x02\x03\x04", 4);
    b_bytes(&unk, 18, "\x0a\xff\xff", 3); /* contents of an unknown LEN field are not parsed */
    b_bytes(&unk, 19, "", 0);

    /* the reference vector with `unk` inserted before and after every field of every level */
    struct buf r, m, s, imr, rq, out;
    buf_init(&r);
    buf_init(&m);
    buf_init(&s);
    buf_init(&imr);
    buf_init(&rq);
    buf_init(&out);
#define UNK(b) buf_append(&(b), unk.data, unk.len)
    UNK(r);
    b_bytes(&r, 1, "\x01\x02\x03\x04", 4);
    UNK(r);
    b_uint(&r, 2, 1);
    UNK(r);
    UNK(s);
    b_uint(&s, 1, 2);
    UNK(s);
    b_bytes(&s, 2, "\xaa\xbb", 2);
    UNK(s);
    UNK(m);
    b_sub(&m, 1, &r);
    UNK(m);
    b_sub(&m, 2, &s);
    UNK(m);
    b_str(&m, 3, "{\"a\":1}");
    UNK(m);
    b_uint(&m, 4, 86400);
    UNK(m);
    b_str(&m, 5, "im");
    UNK(m);
    UNK(imr);
    b_sub(&imr, 1, &m);
    UNK(imr);
    UNK(rq);
    b_sub(&rq, 1, &imr);
    UNK(rq);
    UNK(out);
    b_sub(&out, 1, &rq);
    UNK(out);
#undef UNK
    struct pb_request_batch b;
    ok(decode(out.data, out.len, &b) == PB_OK, "decodes with unknown fields everywhere");
    check_php_vec(&b, true);
    ok(b.requests[0].messages[0].has_sender && b.requests[0].messages[0].sender_type == 2 &&
           bytes_eq(b.requests[0].messages[0].sender_id, "\xaa\xbb", 2),
       "sender decoded around unknown fields");
    pb_request_batch_free(&b);
    buf_deinit(&out);
    buf_deinit(&unk);

    /* serverStats content is unknown fields only, but must be well-formed */
    static const uint8_t ss[] = {0x0a, 0x07, 0x1a, 0x05, 0x08, 0x01, 0x12, 0x01, 0x00};
    ok(decode(ss, sizeof ss, &b) == PB_OK && b.requests[0].kind == PB_REQ_SERVER_STATS,
       "serverStats with unknown fields");
    pb_request_batch_free(&b);
    static const uint8_t ss_bad[] = {0x0a, 0x04, 0x1a, 0x02, 0x12, 0x05};
    ok(decode_rc(ss_bad, sizeof ss_bad) == PB_MALFORMED, "serverStats with a broken field");
}

static void test_groups(void)
{
    static const struct {
        uint8_t v[8];
        size_t len;
        const char *what;
    } cases[] = {
        {{0x0b, 0x0c}, 2, "start+end group at top level"},
        {{0x1b}, 1, "start group (field 3)"},
        {{0x1c}, 1, "end group (field 3)"},
        {{0x0e}, 1, "wire type 6"},
        {{0x0f}, 1, "wire type 7"},
        {{0x00}, 1, "field number 0"},
        {{0x0a, 0x02, 0x13, 0x14}, 4, "group inside a Request"},
        {{0x0a, 0x04, 0x0a, 0x02, 0x13, 0x14}, 6, "group inside IncomingMessagesRequest"},
        {{0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 0x33, 0x34}, 8, "group inside IncomingMessage"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        ok(decode_rc(cases[i].v, cases[i].len) == PB_MALFORMED, cases[i].what);
}

static void test_limits(void)
{
    struct pb_limits lim = {
        .max_requests = 3, .max_messages = 5, .max_receivers = 4, .max_channels = 6};
    struct buf v;
    buf_init(&v);
    b_incoming_batch(&v, 5, 4);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_OK, "messages and receivers at their limits");
    buf_deinit(&v);
    b_incoming_batch(&v, 6, 1);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_TOO_MANY_MESSAGES, "one message too many");
    buf_deinit(&v);
    b_incoming_batch(&v, 1, 5);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_TOO_MANY_CHANNELS, "one receiver too many");
    buf_deinit(&v);
    b_stats_batch(&v, 6);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_OK, "channels at the limit");
    buf_deinit(&v);
    b_stats_batch(&v, 7);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_TOO_MANY_CHANNELS, "one channel too many");
    buf_deinit(&v);
    for (int i = 0; i < 3; i++)
        b_stats_batch(&v, 1);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_OK, "requests at the limit");
    b_stats_batch(&v, 1);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_TOO_MANY_REQUESTS, "one request too many");
    buf_deinit(&v);

    /* the limit is per Request, so two requests of 5 messages each are fine */
    b_incoming_batch(&v, 5, 1);
    b_incoming_batch(&v, 5, 1);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_OK, "message limit is per request");
    buf_deinit(&v);

    /* merged occurrences of incomingMessages count together */
    static const uint8_t three[] = {0x0a, 0x06, 0x0a, 0x00, 0x0a, 0x00, 0x0a, 0x00};
    uint8_t merged[64];
    size_t n = 0;
    merged[n++] = 0x0a;
    merged[n++] = 3 * sizeof three;
    for (int i = 0; i < 3; i++) {
        memcpy(merged + n, three, 8);
        n += 8;
    }
    struct pb_request_batch b;
    struct pb_limits lim9 = lim;
    lim9.max_messages = 9;
    ok(decode_lim(merged, n, &lim9, &b) == PB_OK && b.requests[0].n_messages == 9,
       "three incomingMessages members merge into 9 messages");
    pb_request_batch_free(&b);
    lim9.max_messages = 8;
    ok(decode_rc_lim(merged, n, &lim9) == PB_TOO_MANY_MESSAGES, "merged messages are limited");

    struct pb_limits zero = {0, 0, 0, 0};
    ok(decode_rc_lim("", 0, &zero) == PB_OK, "empty batch under zero limits");
    ok(decode_rc_lim(php_vec, sizeof php_vec, &zero) == PB_TOO_MANY_REQUESTS, "zero max_requests");

    /* the first problem in input order is reported */
    b_incoming_batch(&v, 6, 1);
    buf_append(&v, "\xff", 1);
    ok(decode_rc_lim(v.data, v.len, &lim) == PB_TOO_MANY_MESSAGES, "limit before later garbage");
    buf_deinit(&v);

    /* many elements force several reallocations */
    struct pb_limits big = {
        .max_requests = 1, .max_messages = 1000, .max_receivers = 100, .max_channels = 1000};
    b_incoming_batch(&v, 1000, 3);
    ok(decode_lim(v.data, v.len, &big, &b) == PB_OK && b.requests[0].n_messages == 1000 &&
           b.requests[0].messages[999].n_receivers == 3 &&
           str_eq(b.requests[0].messages[999].receivers[2].id, "0123456789abcdef"),
       "1000 messages x 3 receivers");
    pb_request_batch_free(&b);
    buf_deinit(&v);
}

static void test_utf8_fields(void)
{
    static const uint8_t bad_body[] = {0x0a, 0x07, 0x0a, 0x05, 0x0a, 0x03, 0x1a, 0x01, 0xc0};
    ok(decode_rc(bad_body, sizeof bad_body) == PB_MALFORMED, "invalid UTF-8 body");
    static const uint8_t bad_type[] = {0x0a, 0x09, 0x0a, 0x07, 0x0a, 0x05,
                                       0x2a, 0x03, 0xed, 0xa0, 0x80};
    ok(decode_rc(bad_type, sizeof bad_type) == PB_MALFORMED, "surrogate in type");
    static const uint8_t good[] = {0x0a, 0x0c, 0x0a, 0x0a, 0x0a, 0x08, 0x1a,
                                   0x06, 0xd0, 0xaf, 0xf0, 0x9f, 0x98, 0x80};
    struct pb_request_batch b;
    ok(decode(good, sizeof good, &b) == PB_OK &&
           bytes_eq(b.requests[0].messages[0].body, "\xd0\xaf\xf0\x9f\x98\x80", 6),
       "multi-byte UTF-8 body");
    pb_request_batch_free(&b);
    /* bytes fields are not UTF-8 checked */
    static const uint8_t bin_id[] = {0x0a, 0x0a, 0x0a, 0x08, 0x0a, 0x06,
                                     0x0a, 0x04, 0x0a, 0x02, 0xff, 0xc0};
    ok(decode_rc(bin_id, sizeof bin_id) == PB_OK, "binary receiver id accepted");
    /* registration strings are checked too */
    static const uint8_t reg_ok[] = {0x0a, 0x08, 0x22, 0x06, 0x0a, 0x01, 'q', 0x12, 0x01, 'h'};
    ok(decode(reg_ok, sizeof reg_ok, &b) == PB_OK && b.requests[0].kind == PB_REQ_REGISTRATION,
       "registration");
    pb_request_batch_free(&b);
    static const uint8_t reg_bad[] = {0x0a, 0x05, 0x22, 0x03, 0x12, 0x01, 0xff};
    ok(decode_rc(reg_bad, sizeof reg_bad) == PB_MALFORMED, "registration host not UTF-8");
    static const uint8_t reg_wt[] = {0x0a, 0x04, 0x22, 0x02, 0x08, 0x01};
    ok(decode_rc(reg_wt, sizeof reg_wt) == PB_MALFORMED, "registration query as varint");
}

static void test_zero_length(void)
{
    struct pb_request_batch b;
    ok(decode("", 0, &b) == PB_OK && b.n_requests == 0 && b.requests == NULL, "empty batch");
    pb_request_batch_free(&b);
    static const uint8_t empty_req[] = {0x0a, 0x00};
    ok(decode(empty_req, sizeof empty_req, &b) == PB_OK && b.n_requests == 1 &&
           b.requests[0].kind == PB_REQ_NONE,
       "empty Request has no command");
    pb_request_batch_free(&b);
    static const uint8_t empty_imr[] = {0x0a, 0x02, 0x0a, 0x00};
    ok(decode(empty_imr, sizeof empty_imr, &b) == PB_OK &&
           b.requests[0].kind == PB_REQ_INCOMING_MESSAGES && b.requests[0].n_messages == 0,
       "empty incomingMessages");
    pb_request_batch_free(&b);
    static const uint8_t empty_msg[] = {0x0a, 0x04, 0x0a, 0x02, 0x0a, 0x00};
    ok(decode(empty_msg, sizeof empty_msg, &b) == PB_OK && b.requests[0].n_messages == 1 &&
           b.requests[0].messages[0].n_receivers == 0 && b.requests[0].messages[0].body.len == 0 &&
           b.requests[0].messages[0].expiry == 0 && !b.requests[0].messages[0].has_sender,
       "empty IncomingMessage has defaults");
    pb_request_batch_free(&b);
    static const uint8_t empty_parts[] = {0x0a, 0x0c, 0x0a, 0x0a, 0x0a, 0x08, 0x0a,
                                          0x00, 0x12, 0x00, 0x1a, 0x00, 0x2a, 0x00};
    ok(decode(empty_parts, sizeof empty_parts, &b) == PB_OK &&
           b.requests[0].messages[0].n_receivers == 1 &&
           b.requests[0].messages[0].receivers[0].id.len == 0 &&
           b.requests[0].messages[0].has_sender && b.requests[0].messages[0].sender_type == 0,
       "empty receiver, sender, body and type");
    pb_request_batch_free(&b);
    static const uint8_t empty_stats[] = {0x0a, 0x02, 0x12, 0x00, 0x0a, 0x02, 0x1a, 0x00};
    ok(decode(empty_stats, sizeof empty_stats, &b) == PB_OK && b.n_requests == 2 &&
           b.requests[0].kind == PB_REQ_CHANNEL_STATS && b.requests[0].n_channels == 0 &&
           b.requests[1].kind == PB_REQ_SERVER_STATS,
       "empty channelStats and serverStats");
    pb_request_batch_free(&b);
}

static void test_last_wins(void)
{
    struct pb_request_batch b;
    /* incomingMessages(1 message) then channelStats(1 channel): channelStats wins and the
     * message array is released (ASan would report the leak) */
    static const uint8_t im_then_cs[] = {0x0a, 0x0a, 0x0a, 0x02, 0x0a, 0x00,
                                         0x12, 0x04, 0x0a, 0x02, 0x10, 0x01};
    ok(decode(im_then_cs, sizeof im_then_cs, &b) == PB_OK &&
           b.requests[0].kind == PB_REQ_CHANNEL_STATS && b.requests[0].n_channels == 1 &&
           b.requests[0].channels[0].is_private && b.requests[0].n_messages == 0 &&
           b.requests[0].messages == NULL,
       "oneof: channelStats after incomingMessages wins");
    pb_request_batch_free(&b);
    static const uint8_t cs_then_im[] = {0x0a, 0x0a, 0x12, 0x04, 0x0a, 0x02,
                                         0x10, 0x01, 0x0a, 0x02, 0x0a, 0x00};
    ok(decode(cs_then_im, sizeof cs_then_im, &b) == PB_OK &&
           b.requests[0].kind == PB_REQ_INCOMING_MESSAGES && b.requests[0].n_messages == 1 &&
           b.requests[0].n_channels == 0 && b.requests[0].channels == NULL,
       "oneof: incomingMessages after channelStats wins");
    pb_request_batch_free(&b);
    static const uint8_t im_cs_ss[] = {0x0a, 0x0a, 0x0a, 0x02, 0x0a, 0x00,
                                       0x12, 0x02, 0x0a, 0x00, 0x1a, 0x00};
    ok(decode(im_cs_ss, sizeof im_cs_ss, &b) == PB_OK &&
           b.requests[0].kind == PB_REQ_SERVER_STATS && b.requests[0].n_messages == 0 &&
           b.requests[0].n_channels == 0,
       "oneof: serverStats last");
    pb_request_batch_free(&b);
    /* A, B, A: the first A is gone, only the last A's content remains */
    static const uint8_t aba[] = {0x0a, 0x0e, 0x0a, 0x04, 0x0a, 0x00, 0x0a, 0x00,
                                  0x12, 0x02, 0x0a, 0x00, 0x0a, 0x02, 0x0a, 0x00};
    ok(decode(aba, sizeof aba, &b) == PB_OK && b.requests[0].kind == PB_REQ_INCOMING_MESSAGES &&
           b.requests[0].n_messages == 1,
       "oneof: A B A keeps only the last A");
    pb_request_batch_free(&b);

    /* scalars: last wins; sender: merged field by field */
    struct buf m, s1, s2, imr, rq, out;
    buf_init(&m);
    buf_init(&s1);
    buf_init(&s2);
    buf_init(&imr);
    buf_init(&rq);
    buf_init(&out);
    b_str(&m, 3, "first");
    b_uint(&m, 4, 10);
    b_str(&m, 5, "t1");
    b_uint(&s1, 1, 1);
    b_bytes(&s1, 2, "\x01", 1);
    b_sub(&m, 2, &s1);
    b_str(&m, 3, "second");
    b_uint(&m, 4, 20);
    b_str(&m, 5, "t2");
    b_bytes(&s2, 2, "\x02\x03", 2);
    b_sub(&m, 2, &s2);
    b_sub(&imr, 1, &m);
    b_sub(&rq, 1, &imr);
    b_sub(&out, 1, &rq);
    ok(decode(out.data, out.len, &b) == PB_OK, "repeated scalars decode");
    const struct pb_incoming_message *im = &b.requests[0].messages[0];
    ok(str_eq(im->body, "second") && im->expiry == 20 && str_eq(im->type, "t2"),
       "last body, expiry and type win");
    ok(im->has_sender && im->sender_type == 1 && bytes_eq(im->sender_id, "\x02\x03", 2),
       "second sender merges into the first");
    pb_request_batch_free(&b);
    buf_deinit(&out);
}

/* ---- encoding ---- */

/* Walks one length-delimited field at c, checking its key. */
static bool walk_len(struct pb_cur *c, uint32_t want_field, struct pb_bytes *sub)
{
    uint32_t f;
    unsigned wt;
    return pb_cur_key(c, &f, &wt) == PB_OK && f == want_field && wt == PB_WT_LEN &&
           pb_cur_bytes(c, sub) == PB_OK;
}

static void test_encode_outgoing(void)
{
    struct buf f;
    buf_init(&f);
    pb_encode_outgoing_message_field(&f, (const uint8_t *)"\x12\x34", 2, "{}", 2, 300, 0x01020304,
                                     2, (const uint8_t *)"\xab", 1);
    static const uint8_t want[] = {
        0x0a, 0x17,                   /* messages, 23 */
        0x0a, 0x02, 0x12, 0x34,       /* id */
        0x12, 0x02, '{',  '}',        /* body */
        0x18, 0xac, 0x02,             /* expiry 300 */
        0x25, 0x04, 0x03, 0x02, 0x01, /* created, little-endian fixed32 */
        0x2a, 0x05, 0x08, 0x02,       /* sender.type BACKEND */
        0x12, 0x01, 0xab,             /*   sender.id */
    };
    ok(f.len == sizeof want && memcmp(f.data, want, sizeof want) == 0, "exact bytes");
    buf_deinit(&f);

    pb_encode_outgoing_message_field(&f, NULL, 0, NULL, 0, 0, 0, 0, NULL, 0);
    static const uint8_t want_empty[] = {0x0a, 0x02, 0x2a, 0x00};
    ok(f.len == sizeof want_empty && memcmp(f.data, want_empty, f.len) == 0,
       "all defaults still carry an (empty) sender");
    buf_deinit(&f);

    pb_encode_outgoing_message_field(&f, NULL, 0, NULL, 0, 0, 0, 0xffffffffu, NULL, 0);
    ok(f.len == 2 + 2 + 1 + 10 && f.data[3] == 11 && f.data[14] == 0x01,
       "negative enum sign-extended to 10 bytes");
    buf_deinit(&f);

    /* prefix + several cached fields form a batch; check lengths at every varint size */
    static const size_t sizes[] = {0, 1, 100, 127, 128, 16000, 16383, 16384, 70000};
    bool all = true;
    for (size_t si = 0; si < ARRAY_LEN(sizes); si++) {
        struct buf whole, body;
        buf_init(&whole);
        buf_init(&body);
        char *text = xmalloc(sizes[si] + 1);
        memset(text, 'x', sizes[si]);
        for (int k = 0; k < 3; k++)
            pb_encode_outgoing_message_field(&body, (const uint8_t *)"id", 2, text, sizes[si],
                                             86400, 1700000000, 2, NULL, 0);
        uint8_t hdr[PB_OUTGOING_PREFIX_MAX];
        size_t hl = pb_outgoing_batch_prefix(hdr, body.len);
        buf_append(&whole, hdr, hl);
        buf_append(&whole, body.data, body.len);

        struct pb_cur c = {whole.data, whole.data + whole.len};
        struct pb_bytes resp, omr, msg, b;
        all &= walk_len(&c, 1, &resp) && c.p == c.end;
        struct pb_cur rc = pb_cur_of(resp);
        all &= walk_len(&rc, 1, &omr) && rc.p == rc.end;
        all &= omr.len == body.len && omr.p == whole.data + hl;
        struct pb_cur mc = pb_cur_of(omr);
        int n = 0;
        while (mc.p < mc.end && walk_len(&mc, 1, &msg)) {
            struct pb_cur fc = pb_cur_of(msg);
            all &= walk_len(&fc, 1, &b) && bytes_eq(b, "id", 2);
            if (sizes[si])
                all &= walk_len(&fc, 2, &b) && b.len == sizes[si];
            n++;
        }
        all &= n == 3 && mc.p == mc.end;
        free(text);
        buf_deinit(&whole);
        buf_deinit(&body);
    }
    ok(all, "prefix + 3 cached fields parse back, payloads 0..70000 bytes");

    uint8_t hdr[PB_OUTGOING_PREFIX_MAX];
    ok(pb_outgoing_batch_prefix(hdr, 5) == 4 && hdr[0] == 0x0a && hdr[1] == 7 && hdr[2] == 0x0a &&
           hdr[3] == 5,
       "small prefix bytes");
    ok(pb_outgoing_batch_prefix(hdr, (size_t)1 << 40) <= 22, "prefix of a huge payload fits");
}

static void test_encode_responses(void)
{
    struct buf out;
    buf_init(&out);
    struct pb_channel_stat st[] = {
        {(const uint8_t *)"\x01\x02", 2, true, true},
        {(const uint8_t *)"\x03", 1, true, false},
        {NULL, 0, false, false},
    };
    pb_encode_channel_stats_response(&out, st, 3);
    static const uint8_t want[] = {
        0x0a, 0x15,                                        /* responses */
        0x12, 0x13,                                        /* channelStats */
        0x0a, 0x08, 0x0a, 0x02, 1, 2,    0x10, 1, 0x18, 1, /* channel 1 */
        0x0a, 0x05, 0x0a, 0x01, 3, 0x10, 1,                /* channel 2 (offline) */
        0x0a, 0x00,                                        /* channel 3 (all defaults) */
    };
    ok(out.len == sizeof want && memcmp(out.data, want, out.len) == 0, "channel stats bytes");
    buf_deinit(&out);
    pb_encode_channel_stats_response(&out, NULL, 0);
    ok(out.len == 4 && memcmp(out.data, "\x0a\x02\x12\x00", 4) == 0, "no channels");
    buf_deinit(&out);

    pb_encode_server_stats_response(&out, "{}", 2);
    ok(out.len == 8 && memcmp(out.data, "\x0a\x06\x1a\x04\x0a\x02{}", 8) == 0,
       "server stats bytes");
    buf_deinit(&out);
    pb_encode_server_stats_response(&out, "", 0);
    ok(out.len == 4 && memcmp(out.data, "\x0a\x02\x1a\x00", 4) == 0, "empty server stats");
    buf_deinit(&out);

    pb_encode_json_response(&out, "{\"a\":1}", 7);
    ok(out.len == 11 && memcmp(out.data, "\x0a\x09\x22\x07{\"a\":1}", 11) == 0, "json bytes");
    buf_deinit(&out);
    pb_encode_json_response(&out, "", 0);
    ok(out.len == 4 && memcmp(out.data, "\x0a\x02\x22\x00", 4) == 0, "empty json is present");
    buf_deinit(&out);

    /* a long json moves the varints to two and three bytes */
    size_t n = 20000;
    char *j = xmalloc(n);
    memset(j, ' ', n);
    pb_encode_json_response(&out, j, n);
    struct pb_cur c = {out.data, out.data + out.len};
    struct pb_bytes resp, s;
    ok(walk_len(&c, 1, &resp) && c.p == c.end, "long json: response");
    c = pb_cur_of(resp);
    ok(walk_len(&c, 4, &s) && s.len == n && c.p == c.end, "long json: field 4");
    free(j);
    buf_deinit(&out);
}

int main(void)
{
    subtest("reference vector", test_reference_vector);
    subtest("varint", test_varint);
    subtest("utf8", test_utf8);
    subtest("truncations", test_truncations);
    subtest("mutations", test_mutations);
    subtest("varint overflow", test_varint_overflow);
    subtest("lengths", test_lengths);
    subtest("wire types", test_wire_types);
    subtest("bool", test_bool);
    subtest("unknown fields", test_unknown_fields);
    subtest("groups", test_groups);
    subtest("limits", test_limits);
    subtest("utf8 fields", test_utf8_fields);
    subtest("zero length", test_zero_length);
    subtest("last wins", test_last_wins);
    subtest("encode outgoing", test_encode_outgoing);
    subtest("encode responses", test_encode_responses);
    return done_testing();
}
