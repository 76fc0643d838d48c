/* Protobuf RequestBatch (pb_decode_request_batch), as PHP and clients send
 * it in binary mode. Input: one byte that sets the count limits, then the
 * batch. Properties: every view the decoder hands out lies inside the input;
 * counts respect the limits; strings are valid UTF-8; and the decoded batch,
 * written back out in canonical form (an encoder kept here, from the schema
 * in pb.c's comments), decodes to the same batch. The varint helpers
 * round-trip too. */
#include "../../server/src/buf.c"
#include "../../server/src/pb.c"
#include "../../server/src/util.c"

#include "fuzz.h"

static const uint8_t *in_lo, *in_hi;

static void check_view(struct pb_bytes b)
{
    FUZZ_CHECK(b.len == 0 || (b.p >= in_lo && b.p + b.len <= in_hi));
}

/* ---- canonical encoder ---- */

static void put_key(struct buf *b, unsigned field, unsigned wt)
{
    pb_buf_put_varint(b, (uint64_t)field << 3 | wt);
}

static void put_bytes(struct buf *b, unsigned field, struct pb_bytes v)
{
    if (!v.len)
        return;
    put_key(b, field, PB_WT_LEN);
    pb_buf_put_varint(b, v.len);
    buf_append(b, v.p, v.len);
}

static void put_sub(struct buf *b, unsigned field, struct buf *sub)
{
    put_key(b, field, PB_WT_LEN);
    pb_buf_put_varint(b, sub->len);
    buf_append(b, sub->data, sub->len);
    sub->len = 0;
}

static void put_receiver(struct buf *b, const struct pb_receiver *r)
{
    put_bytes(b, 1, r->id);
    if (r->is_private) {
        put_key(b, 2, PB_WT_VARINT);
        pb_buf_put_varint(b, 1);
    }
    put_bytes(b, 3, r->signature);
}

static void encode(struct buf *out, const struct pb_request_batch *batch)
{
    struct buf rq, cmd, item, sub;
    buf_init(&rq);
    buf_init(&cmd);
    buf_init(&item);
    buf_init(&sub);
    for (size_t i = 0; i < batch->n_requests; i++) {
        const struct pb_request *r = &batch->requests[i];
        if (r->kind == PB_REQ_INCOMING_MESSAGES) {
            for (size_t k = 0; k < r->n_messages; k++) {
                const struct pb_incoming_message *m = &r->messages[k];
                for (size_t j = 0; j < m->n_receivers; j++) {
                    put_receiver(&sub, &m->receivers[j]);
                    put_sub(&item, 1, &sub);
                }
                if (m->has_sender) {
                    if (m->sender_type) {
                        put_key(&sub, 1, PB_WT_VARINT);
                        pb_buf_put_varint(&sub, m->sender_type);
                    }
                    put_bytes(&sub, 2, m->sender_id);
                    put_sub(&item, 2, &sub);
                }
                put_bytes(&item, 3, m->body);
                if (m->expiry) {
                    put_key(&item, 4, PB_WT_VARINT);
                    pb_buf_put_varint(&item, m->expiry);
                }
                put_bytes(&item, 5, m->type);
                put_sub(&cmd, 1, &item);
            }
            put_sub(&rq, 1, &cmd);
        } else if (r->kind == PB_REQ_CHANNEL_STATS) {
            for (size_t k = 0; k < r->n_channels; k++) {
                put_receiver(&item, &r->channels[k]);
                put_sub(&cmd, 1, &item);
            }
            put_sub(&rq, 2, &cmd);
        } else if (r->kind == PB_REQ_SERVER_STATS) {
            put_sub(&rq, 3, &cmd);
        } else if (r->kind == PB_REQ_REGISTRATION) {
            put_sub(&rq, 4, &cmd);
        }
        put_sub(out, 1, &rq);
    }
    buf_deinit(&rq);
    buf_deinit(&cmd);
    buf_deinit(&item);
    buf_deinit(&sub);
}

/* ---- comparison ---- */

static bool same_bytes(struct pb_bytes a, struct pb_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool same_receiver(const struct pb_receiver *a, const struct pb_receiver *b)
{
    return same_bytes(a->id, b->id) && a->is_private == b->is_private &&
           same_bytes(a->signature, b->signature);
}

static void check_same(const struct pb_request_batch *a, const struct pb_request_batch *b)
{
    FUZZ_CHECK(a->n_requests == b->n_requests);
    for (size_t i = 0; i < a->n_requests; i++) {
        const struct pb_request *x = &a->requests[i], *y = &b->requests[i];
        FUZZ_CHECK(x->kind == y->kind && x->n_messages == y->n_messages &&
                   x->n_channels == y->n_channels);
        for (size_t k = 0; k < x->n_channels; k++)
            FUZZ_CHECK(same_receiver(&x->channels[k], &y->channels[k]));
        for (size_t k = 0; k < x->n_messages; k++) {
            const struct pb_incoming_message *m = &x->messages[k], *n = &y->messages[k];
            FUZZ_CHECK(m->n_receivers == n->n_receivers && m->has_sender == n->has_sender &&
                       m->sender_type == n->sender_type && same_bytes(m->sender_id, n->sender_id) &&
                       same_bytes(m->body, n->body) && m->expiry == n->expiry &&
                       same_bytes(m->type, n->type));
            for (size_t j = 0; j < m->n_receivers; j++)
                FUZZ_CHECK(same_receiver(&m->receivers[j], &n->receivers[j]));
        }
    }
}

static void check_limits(const struct pb_request_batch *b, const struct pb_limits *lim)
{
    FUZZ_CHECK(b->n_requests <= lim->max_requests);
    for (size_t i = 0; i < b->n_requests; i++) {
        const struct pb_request *r = &b->requests[i];
        FUZZ_CHECK(r->n_messages <= lim->max_messages && r->n_channels <= lim->max_channels);
        for (size_t k = 0; k < r->n_channels; k++) {
            check_view(r->channels[k].id);
            check_view(r->channels[k].signature);
        }
        for (size_t k = 0; k < r->n_messages; k++) {
            const struct pb_incoming_message *m = &r->messages[k];
            FUZZ_CHECK(m->n_receivers <= lim->max_receivers);
            check_view(m->sender_id);
            check_view(m->body);
            check_view(m->type);
            FUZZ_CHECK(pb_utf8_valid(m->body.p, m->body.len) &&
                       pb_utf8_valid(m->type.p, m->type.len));
            for (size_t j = 0; j < m->n_receivers; j++) {
                check_view(m->receivers[j].id);
                check_view(m->receivers[j].signature);
            }
        }
    }
}

static void check_varint(const uint8_t *p, size_t n)
{
    uint64_t v;
    int r = pb_get_varint(p, n, &v);
    FUZZ_CHECK(r == -1 || r == -2 || (r >= 1 && r <= PB_VARINT_MAX && (size_t)r <= n));
    if (r > 0) {
        uint8_t out[PB_VARINT_MAX];
        size_t w = pb_put_varint(out, v);
        uint64_t back;
        FUZZ_CHECK(w == pb_varint_len(v) && w <= (size_t)r);
        FUZZ_CHECK(pb_get_varint(out, w, &back) == (int)w && back == v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct pb_limits lim = {
        .max_requests = 1 + (data[0] & 3) * 20,
        .max_messages = 1 + (data[0] >> 2 & 3) * 30,
        .max_receivers = 1 + (data[0] >> 4 & 3) * 40,
        .max_channels = 1 + (data[0] >> 6 & 3) * 50,
    };
    size_t n = size - 1;
    uint8_t *in = malloc(n ? n : 1);
    memcpy(in, data + 1, n);
    in_lo = in;
    in_hi = in + n;
    check_varint(in, n);

    struct pb_request_batch a, b;
    int rc = pb_decode_request_batch(in, n, &lim, &a);
    FUZZ_CHECK(rc == PB_OK || rc == PB_MALFORMED || rc == PB_TOO_MANY_MESSAGES ||
               rc == PB_TOO_MANY_CHANNELS || rc == PB_TOO_MANY_REQUESTS);
    FUZZ_CHECK(pb_strerror(rc) != NULL);
    if (rc == PB_OK) {
        check_limits(&a, &lim);
        struct buf re;
        buf_init(&re);
        encode(&re, &a);
        uint8_t *copy = malloc(re.len ? re.len : 1);
        if (re.len)
            memcpy(copy, re.data, re.len);
        FUZZ_CHECK(pb_decode_request_batch(copy, re.len, &lim, &b) == PB_OK);
        check_same(&a, &b);
        pb_request_batch_free(&b);
        free(copy);
        buf_deinit(&re);
        pb_request_batch_free(&a);
    } else {
        FUZZ_CHECK(a.n_requests == 0 && a.requests == NULL);
    }
    free(in);
    return 0;
}
