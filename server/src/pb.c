#include "first.h"

#include "pb.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- varints ---- */

size_t pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t pb_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int pb_get_varint(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < PB_VARINT_MAX; i++) {
        if (i == len)
            return -2;
        uint8_t b = p[i];
        /* The 10th byte holds bit 63 only: anything more would not fit in 64 bits,
         * and a continuation bit would make the varint longer than any encoder emits. */
        if (i == PB_VARINT_MAX - 1 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return (int)i + 1;
        }
    }
    return -1; /* not reached: the 10th byte either ends the varint or fails above */
}

void pb_buf_put_varint(struct buf *out, uint64_t v)
{
    out->len += pb_put_varint(buf_reserve(out, PB_VARINT_MAX), v);
}

/* ---- UTF-8 ---- */

bool pb_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return false; /* continuation byte, overlong C0/C1, or F5..FF */
        }
        if (len - i <= n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += n + 1;
    }
    return true;
}

/* ---- decoding ---- */

/* A read position inside one (sub-)message: end is the parent's bound, so nothing
 * nested can reach past it. */
struct pb_cur {
    const uint8_t *p;
    const uint8_t *end;
};

static struct pb_cur pb_cur_of(struct pb_bytes b)
{
    struct pb_cur c = {b.p, b.p + b.len};
    return c;
}

static int pb_cur_varint(struct pb_cur *c, uint64_t *v)
{
    /* Truncation is as bad as an overlong varint here: the whole message is in memory. */
    int n = pb_get_varint(c->p, (size_t)(c->end - c->p), v);
    if (n < 0)
        return PB_MALFORMED;
    c->p += n;
    return PB_OK;
}

/* Reads a field key. Groups (3/4) and the undefined wire types 6/7 are rejected here,
 * so callers only ever see VARINT, I64, LEN and I32. */
static int pb_cur_key(struct pb_cur *c, uint32_t *field, unsigned *wt)
{
    uint64_t k;
    if (pb_cur_varint(c, &k) != PB_OK)
        return PB_MALFORMED;
    /* Field numbers are 29 bits; 0 is reserved. */
    if (k > UINT32_MAX || (k >> 3) == 0)
        return PB_MALFORMED;
    *field = (uint32_t)(k >> 3);
    *wt = (unsigned)(k & 7);
    if (*wt != PB_WT_VARINT && *wt != PB_WT_I64 && *wt != PB_WT_LEN && *wt != PB_WT_I32)
        return PB_MALFORMED;
    return PB_OK;
}

static int pb_cur_bytes(struct pb_cur *c, struct pb_bytes *b)
{
    uint64_t n;
    if (pb_cur_varint(c, &n) != PB_OK)
        return PB_MALFORMED;
    if (n > (uint64_t)(c->end - c->p))
        return PB_MALFORMED;
    b->p = c->p;
    b->len = (size_t)n;
    c->p += n;
    return PB_OK;
}

static int pb_cur_fixed(struct pb_cur *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return PB_MALFORMED;
    c->p += n;
    return PB_OK;
}

static int pb_cur_skip(struct pb_cur *c, unsigned wt)
{
    uint64_t v;
    struct pb_bytes b;
    switch (wt) {
    case PB_WT_VARINT:
        return pb_cur_varint(c, &v);
    case PB_WT_I64:
        return pb_cur_fixed(c, 8);
    case PB_WT_LEN:
        return pb_cur_bytes(c, &b);
    case PB_WT_I32:
        return pb_cur_fixed(c, 4);
    default:
        return PB_MALFORMED;
    }
}

/* Known field of a given wire type: a mismatch means the peer speaks another schema. */
#define PB_EXPECT(wt, want)                                                                        \
    do {                                                                                           \
        if ((wt) != (want))                                                                        \
            return PB_MALFORMED;                                                                   \
    } while (0)

static int pb_cur_string(struct pb_cur *c, struct pb_bytes *b)
{
    if (pb_cur_bytes(c, b) != PB_OK || !pb_utf8_valid(b->p, b->len))
        return PB_MALFORMED;
    return PB_OK;
}

/* Makes room for element n of an array whose capacity is *cap; n < max is guaranteed by
 * the caller's limit check, so the capacity never exceeds the limit. */
static void *pb_grow(void *arr, size_t *cap, size_t n, size_t max, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 4;
    if (c > max)
        c = max;
    *cap = c;
    return xrealloc(arr, c * elem);
}

/* Receiver and ChannelId: {bytes id = 1; bool isPrivate = 2; bytes signature = 3;} */
static int pb_decode_receiver(struct pb_bytes in, struct pb_receiver *r)
{
    struct pb_cur c = pb_cur_of(in);
    while (c.p < c.end) {
        uint32_t field;
        unsigned wt;
        uint64_t v;
        if (pb_cur_key(&c, &field, &wt) != PB_OK)
            return PB_MALFORMED;
        switch (field) {
        case 1:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_bytes(&c, &r->id) != PB_OK)
                return PB_MALFORMED;
            break;
        case 2:
            /* A packed (LEN) encoding only exists for repeated fields; isPrivate is singular. */
            PB_EXPECT(wt, PB_WT_VARINT);
            if (pb_cur_varint(&c, &v) != PB_OK)
                return PB_MALFORMED;
            r->is_private = v != 0;
            break;
        case 3:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_bytes(&c, &r->signature) != PB_OK)
                return PB_MALFORMED;
            break;
        default:
            if (pb_cur_skip(&c, wt) != PB_OK)
                return PB_MALFORMED;
        }
    }
    return PB_OK;
}

/* Sender {SenderType type = 1; bytes id = 2;}. Decoding into the fields already there
 * is proto's merge rule for a singular sub-message that appears twice. */
static int pb_decode_sender(struct pb_bytes in, struct pb_incoming_message *m)
{
    struct pb_cur c = pb_cur_of(in);
    m->has_sender = true;
    while (c.p < c.end) {
        uint32_t field;
        unsigned wt;
        uint64_t v;
        if (pb_cur_key(&c, &field, &wt) != PB_OK)
            return PB_MALFORMED;
        switch (field) {
        case 1:
            PB_EXPECT(wt, PB_WT_VARINT);
            if (pb_cur_varint(&c, &v) != PB_OK)
                return PB_MALFORMED;
            /* enums are int32: negative values arrive sign-extended to 64 bits */
            m->sender_type = (uint32_t)v;
            break;
        case 2:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_bytes(&c, &m->sender_id) != PB_OK)
                return PB_MALFORMED;
            break;
        default:
            if (pb_cur_skip(&c, wt) != PB_OK)
                return PB_MALFORMED;
        }
    }
    return PB_OK;
}

/* IncomingMessage {repeated Receiver receivers = 1; Sender sender = 2; string body = 3;
 *                  uint32 expiry = 4; string type = 5;} */
static int pb_decode_incoming_message(struct pb_bytes in, const struct pb_limits *lim,
                                      struct pb_incoming_message *m)
{
    struct pb_cur c = pb_cur_of(in);
    size_t cap = 0;
    while (c.p < c.end) {
        uint32_t field;
        unsigned wt;
        uint64_t v;
        struct pb_bytes sub;
        if (pb_cur_key(&c, &field, &wt) != PB_OK)
            return PB_MALFORMED;
        switch (field) {
        case 1:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_bytes(&c, &sub) != PB_OK)
                return PB_MALFORMED;
            if (m->n_receivers >= lim->max_receivers)
                return PB_TOO_MANY_CHANNELS;
            m->receivers = pb_grow(m->receivers, &cap, m->n_receivers, lim->max_receivers,
                                   sizeof(*m->receivers));
            memset(&m->receivers[m->n_receivers], 0, sizeof(*m->receivers));
            if (pb_decode_receiver(sub, &m->receivers[m->n_receivers++]) != PB_OK)
                return PB_MALFORMED;
            break;
        case 2:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_bytes(&c, &sub) != PB_OK || pb_decode_sender(sub, m) != PB_OK)
                return PB_MALFORMED;
            break;
        case 3:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_string(&c, &m->body) != PB_OK)
                return PB_MALFORMED;
            break;
        case 4:
            PB_EXPECT(wt, PB_WT_VARINT);
            if (pb_cur_varint(&c, &v) != PB_OK)
                return PB_MALFORMED;
            m->expiry = (uint32_t)v; /* uint32 keeps the low 32 bits, like every proto runtime */
            break;
        case 5:
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_string(&c, &m->type) != PB_OK)
                return PB_MALFORMED;
            break;
        default:
            if (pb_cur_skip(&c, wt) != PB_OK)
                return PB_MALFORMED;
        }
    }
    return PB_OK;
}

/* A message whose fields are all unknown to us (ServerStatsRequest) or that we only
 * check (RegisterRequest {string verificationQuery = 1; string host = 2;}): it must
 * still be well-formed, since a real proto runtime would reject it otherwise. */
static int pb_check_message(struct pb_bytes in, bool registration)
{
    struct pb_cur c = pb_cur_of(in);
    while (c.p < c.end) {
        uint32_t field;
        unsigned wt;
        struct pb_bytes s;
        if (pb_cur_key(&c, &field, &wt) != PB_OK)
            return PB_MALFORMED;
        if (registration && (field == 1 || field == 2)) {
            PB_EXPECT(wt, PB_WT_LEN);
            if (pb_cur_string(&c, &s) != PB_OK)
                return PB_MALFORMED;
        } else if (pb_cur_skip(&c, wt) != PB_OK) {
            return PB_MALFORMED;
        }
    }
    return PB_OK;
}

static void pb_request_clear(struct pb_request *rq)
{
    for (size_t i = 0; i < rq->n_messages; i++)
        free(rq->messages[i].receivers);
    free(rq->messages);
    free(rq->channels);
    memset(rq, 0, sizeof(*rq));
}

/* Request {oneof command {incomingMessages = 1; channelStats = 2; serverStats = 3;
 * registration = 4;}}. A different member replaces the previous one; the same member
 * again merges (its repeated fields append), as in the reference proto runtime. */
static int pb_decode_request(struct pb_bytes in, const struct pb_limits *lim, struct pb_request *rq)
{
    struct pb_cur c = pb_cur_of(in);
    size_t cap = 0; /* of messages or channels, whichever the current member uses */
    while (c.p < c.end) {
        uint32_t field, f;
        unsigned wt, w;
        struct pb_bytes sub, item;
        if (pb_cur_key(&c, &field, &wt) != PB_OK)
            return PB_MALFORMED;
        if (field > 4) { /* 0 was rejected by pb_cur_key */
            if (pb_cur_skip(&c, wt) != PB_OK)
                return PB_MALFORMED;
            continue;
        }
        PB_EXPECT(wt, PB_WT_LEN);
        if (pb_cur_bytes(&c, &sub) != PB_OK)
            return PB_MALFORMED;
        enum pb_request_kind kind = field == 1   ? PB_REQ_INCOMING_MESSAGES
                                    : field == 2 ? PB_REQ_CHANNEL_STATS
                                    : field == 3 ? PB_REQ_SERVER_STATS
                                                 : PB_REQ_REGISTRATION;
        if (rq->kind != kind) {
            pb_request_clear(rq);
            cap = 0;
            rq->kind = kind;
        }
        if (kind == PB_REQ_SERVER_STATS || kind == PB_REQ_REGISTRATION) {
            if (pb_check_message(sub, kind == PB_REQ_REGISTRATION) != PB_OK)
                return PB_MALFORMED;
            continue;
        }
        /* IncomingMessagesRequest {repeated IncomingMessage messages = 1;} and
         * ChannelStatsRequest {repeated ChannelId channels = 1;} */
        struct pb_cur sc = pb_cur_of(sub);
        while (sc.p < sc.end) {
            if (pb_cur_key(&sc, &f, &w) != PB_OK)
                return PB_MALFORMED;
            if (f != 1) {
                if (pb_cur_skip(&sc, w) != PB_OK)
                    return PB_MALFORMED;
                continue;
            }
            PB_EXPECT(w, PB_WT_LEN);
            if (pb_cur_bytes(&sc, &item) != PB_OK)
                return PB_MALFORMED;
            int rc;
            if (kind == PB_REQ_INCOMING_MESSAGES) {
                if (rq->n_messages >= lim->max_messages)
                    return PB_TOO_MANY_MESSAGES;
                rq->messages = pb_grow(rq->messages, &cap, rq->n_messages, lim->max_messages,
                                       sizeof(*rq->messages));
                struct pb_incoming_message *m = &rq->messages[rq->n_messages++];
                memset(m, 0, sizeof(*m));
                rc = pb_decode_incoming_message(item, lim, m);
            } else {
                if (rq->n_channels >= lim->max_channels)
                    return PB_TOO_MANY_CHANNELS;
                rq->channels = pb_grow(rq->channels, &cap, rq->n_channels, lim->max_channels,
                                       sizeof(*rq->channels));
                struct pb_receiver *r = &rq->channels[rq->n_channels++];
                memset(r, 0, sizeof(*r));
                rc = pb_decode_receiver(item, r);
            }
            if (rc != PB_OK)
                return rc;
        }
    }
    return PB_OK;
}

int pb_decode_request_batch(const uint8_t *buf, size_t len, const struct pb_limits *lim,
                            struct pb_request_batch *out)
{
    struct pb_bytes in = {buf, len};
    struct pb_cur c = pb_cur_of(in);
    size_t cap = 0;
    int rc = PB_OK;
    out->requests = NULL;
    out->n_requests = 0;
    while (c.p < c.end) {
        uint32_t field;
        unsigned wt;
        struct pb_bytes sub;
        if (pb_cur_key(&c, &field, &wt) != PB_OK) {
            rc = PB_MALFORMED;
            break;
        }
        if (field != 1) {
            if (pb_cur_skip(&c, wt) != PB_OK) {
                rc = PB_MALFORMED;
                break;
            }
            continue;
        }
        if (wt != PB_WT_LEN || pb_cur_bytes(&c, &sub) != PB_OK) {
            rc = PB_MALFORMED;
            break;
        }
        if (out->n_requests >= lim->max_requests) {
            rc = PB_TOO_MANY_REQUESTS;
            break;
        }
        out->requests = pb_grow(out->requests, &cap, out->n_requests, lim->max_requests,
                                sizeof(*out->requests));
        struct pb_request *rq = &out->requests[out->n_requests++];
        memset(rq, 0, sizeof(*rq));
        if ((rc = pb_decode_request(sub, lim, rq)) != PB_OK)
            break;
    }
    if (rc != PB_OK)
        pb_request_batch_free(out);
    return rc;
}

void pb_request_batch_free(struct pb_request_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_requests; i++)
        pb_request_clear(&b->requests[i]);
    free(b->requests);
    b->requests = NULL;
    b->n_requests = 0;
}

const char *pb_strerror(int code)
{
    switch (code) {
    case PB_OK:
        return "ok";
    case PB_MALFORMED:
        return "malformed";
    case PB_TOO_MANY_MESSAGES:
        return "too many messages";
    case PB_TOO_MANY_CHANNELS:
        return "too many channels";
    case PB_TOO_MANY_REQUESTS:
        return "too many requests";
    default:
        return "unknown error";
    }
}

/* ---- encoding ---- */

/* Every field number we write is below 16, so a key is one byte. */
#define PB_KEY(field, wt) ((uint8_t)(((field) << 3) | (wt)))

/* Size of a length-delimited field with a one-byte key. */
static size_t pb_len_field_size(size_t len)
{
    return 1 + pb_varint_len(len) + len;
}

static void pb_put_len_header(struct buf *out, unsigned field, size_t len)
{
    buf_append_byte(out, PB_KEY(field, PB_WT_LEN));
    pb_buf_put_varint(out, len);
}

static void pb_put_len_field(struct buf *out, unsigned field, const void *p, size_t len)
{
    pb_put_len_header(out, field, len);
    buf_append(out, p, len);
}

/* proto3 leaves default values off the wire; the decoder supplies them. */
static void pb_put_bytes_opt(struct buf *out, unsigned field, const void *p, size_t len)
{
    if (len)
        pb_put_len_field(out, field, p, len);
}

static size_t pb_bytes_opt_size(size_t len)
{
    return len ? pb_len_field_size(len) : 0;
}

/* enum fields are int32 on the wire: a negative value is sign-extended to 10 bytes. */
static uint64_t pb_enum_wire(uint32_t v)
{
    return (uint64_t)(int64_t)(int32_t)v;
}

void pb_encode_outgoing_message_field(struct buf *out, const uint8_t *id, size_t id_len,
                                      const char *body, size_t body_len, uint32_t expiry,
                                      uint32_t created, uint32_t sender_type,
                                      const uint8_t *sender_id, size_t sender_id_len)
{
    size_t sender = (sender_type ? 1 + pb_varint_len(pb_enum_wire(sender_type)) : 0) +
                    pb_bytes_opt_size(sender_id_len);
    size_t msg = pb_bytes_opt_size(id_len) + pb_bytes_opt_size(body_len) +
                 (expiry ? 1 + pb_varint_len(expiry) : 0) + (created ? 5 : 0) +
                 pb_len_field_size(sender);
    /* one reservation, so the appends below never reallocate */
    (void)buf_reserve(out, pb_len_field_size(msg));

    pb_put_len_header(out, 1, msg);
    pb_put_bytes_opt(out, 1, id, id_len);
    pb_put_bytes_opt(out, 2, body, body_len);
    if (expiry) {
        buf_append_byte(out, PB_KEY(3, PB_WT_VARINT));
        pb_buf_put_varint(out, expiry);
    }
    if (created) {
        uint8_t le[4] = {(uint8_t)created, (uint8_t)(created >> 8), (uint8_t)(created >> 16),
                         (uint8_t)(created >> 24)};
        buf_append_byte(out, PB_KEY(4, PB_WT_I32));
        buf_append(out, le, sizeof le);
    }
    /* the sender is written even when empty: see pb.h */
    pb_put_len_header(out, 5, sender);
    if (sender_type) {
        buf_append_byte(out, PB_KEY(1, PB_WT_VARINT));
        pb_buf_put_varint(out, pb_enum_wire(sender_type));
    }
    pb_put_bytes_opt(out, 2, sender_id, sender_id_len);
}

size_t pb_outgoing_batch_prefix(uint8_t hdr[PB_OUTGOING_PREFIX_MAX], size_t payload_len)
{
    /* ResponseBatch.responses(1) -> Response.outgoingMessages(1) -> payload, where the
     * payload is already a run of OutgoingMessagesResponse.messages(1) fields. */
    size_t response = pb_len_field_size(payload_len);
    size_t n = 0;
    hdr[n++] = PB_KEY(1, PB_WT_LEN);
    n += pb_put_varint(hdr + n, response);
    hdr[n++] = PB_KEY(1, PB_WT_LEN);
    n += pb_put_varint(hdr + n, payload_len);
    return n;
}

static size_t pb_channel_stat_size(const struct pb_channel_stat *s)
{
    return pb_bytes_opt_size(s->id_len) + (s->is_private ? 2 : 0) + (s->is_online ? 2 : 0);
}

void pb_encode_channel_stats_response(struct buf *out, const struct pb_channel_stat *st, size_t n)
{
    size_t csr = 0;
    for (size_t i = 0; i < n; i++)
        csr += pb_len_field_size(pb_channel_stat_size(&st[i]));
    size_t response = pb_len_field_size(csr);
    (void)buf_reserve(out, pb_len_field_size(response));

    pb_put_len_header(out, 1, response);
    pb_put_len_header(out, 2, csr); /* Response.channelStats */
    for (size_t i = 0; i < n; i++) {
        pb_put_len_header(out, 1, pb_channel_stat_size(&st[i]));
        pb_put_bytes_opt(out, 1, st[i].id, st[i].id_len);
        if (st[i].is_private) {
            buf_append_byte(out, PB_KEY(2, PB_WT_VARINT));
            buf_append_byte(out, 1);
        }
        if (st[i].is_online) {
            buf_append_byte(out, PB_KEY(3, PB_WT_VARINT));
            buf_append_byte(out, 1);
        }
    }
}

void pb_encode_server_stats_response(struct buf *out, const char *json, size_t len)
{
    size_t jr = pb_bytes_opt_size(len);
    pb_put_len_header(out, 1, pb_len_field_size(jr));
    pb_put_len_header(out, 3, jr); /* Response.serverStats: written even if empty (oneof) */
    pb_put_bytes_opt(out, 1, json, len);
}

void pb_encode_json_response(struct buf *out, const char *json, size_t len)
{
    pb_put_len_header(out, 1, pb_len_field_size(len));
    pb_put_len_field(out, 4, json, len); /* Response.json: a oneof member has presence */
}
