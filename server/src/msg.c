#include "first.h"

#include "msg.h"
#include "buf.h"
#include "jsontext.h"
#include "pb.h"
#include "ws.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct msg *msg_new(const char *mid, uint64_t seq, uint32_t created, uint16_t tag, uint32_t expiry,
                    const void *body, size_t body_len)
{
    /* the body lives in the same block: one allocation per message */
    struct msg *m = xcalloc(1, sizeof *m + body_len + 1);
    atomic_init(&m->refs, 1);
    atomic_init(&m->qrefs, 0);
    m->seq = seq;
    memcpy(m->mid, mid, MSG_MID_LEN);
    m->mid[MSG_MID_LEN] = '\0';
    m->created = created;
    m->tag = tag;
    m->expiry = expiry;
    m->body = (uint8_t *)(m + 1);
    if (body_len) /* an empty body may come as NULL: memcpy must not see it */
        memcpy(m->body, body, body_len);
    m->body[body_len] = '\0';
    m->body_len = body_len;
    m->sender_type = MSG_SENDER_BACKEND;
    return m;
}

size_t msg_footprint(const struct msg *m)
{
    /* an encoding is the body with at most a few hundred bytes of envelope;
     * a V5 message's user_params and dictionary are set before it is queued
     * and kept beside it */
    return sizeof *m + 2 * m->body_len + 512 + (m->user_params ? strlen(m->user_params) : 0) +
           (m->dictionary ? strlen(m->dictionary) : 0);
}

void msg_set_channel(struct msg *m, const char *channel)
{
    free(m->channel);
    m->channel = channel ? xstrdup(channel) : NULL;
}

bool msg_set_sender_user(struct msg *m, const char *user_id)
{
    size_t n = user_id ? strlen(user_id) : 0;
    if (n == 0 || n > sizeof m->sender_id)
        return false;
    for (size_t i = 0; i < n; i++)
        if (user_id[i] < '0' || user_id[i] > '9')
            return false;
    msg_set_sender(m, MSG_SENDER_CLIENT | MSG_SENDER_F_USER, (const uint8_t *)user_id, n);
    return true;
}

void msg_set_sender(struct msg *m, uint8_t type, const uint8_t *id, size_t id_len)
{
    m->sender_type = type;
    if (!id)
        id_len = 0;
    if (id_len > sizeof m->sender_id)
        id_len = sizeof m->sender_id;
    if (id_len)
        memcpy(m->sender_id, id, id_len);
    m->sender_id_len = (uint8_t)id_len;
}

void msg_unref(struct msg *m)
{
    msg_unref_n(m, 1);
}

void msg_unref_n(struct msg *m, unsigned n)
{
    /* acq_rel: the last owner sees every write the others made before
     * they let go */
    if (!m || !n || atomic_fetch_sub_explicit(&m->refs, n, memory_order_acq_rel) > n)
        return;
    for (int i = 0; i < MSG_ENC_COUNT; i++)
        if (m->enc[i].p)
            free(m->enc[i].p - MSG_FRAME_ROOM);
    free(m->channel);
    free(m->user_params);
    json_decref(m->user_params_parsed);
    free(m->dictionary);
    free(m);
}

void msg_http_date(uint32_t t, char out[30])
{
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    /* the fields are range-limited by gmtime: the date always fits 29 chars */
    snprintf(out, 30, "%s, %02u %s %04u %02u:%02u:%02u GMT", days[tm.tm_wday % 7],
             (unsigned)tm.tm_mday % 100u, months[tm.tm_mon % 12],
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

bool msg_parse_http_date(const char *s, size_t len, uint32_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char tmp[64], mon[4];
    int d, y, h, mi, sec;
    if (len >= sizeof tmp)
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (sscanf(tmp, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &d, mon, &y, &h, &mi, &sec) != 6)
        return false;
    const char *p = strstr(months, mon);
    if (!p || (p - months) % 3 || y < 1970)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = (int)(p - months) / 3,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *out = (uint32_t)t;
    return true;
}

bool msg_body_is_pull_message(const void *body, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_ALLOW_NUL, &e);
    bool ok = json_is_string(json_object_get(j, "module_id"));
    json_decref(j);
    return ok;
}

/* The sender's id as the clients see it in JSON (33 bytes): a user id as
 * it is, a public channel id in hex. */
static void sender_id_text(const struct msg *m, char out[33])
{
    bool digits = msg_sender_is_user(m) && m->sender_id_len;
    for (size_t i = 0; digits && i < m->sender_id_len; i++)
        digits = m->sender_id[i] >= '0' && m->sender_id[i] <= '9';
    if (digits) {
        memcpy(out, m->sender_id, m->sender_id_len);
        out[m->sender_id_len] = '\0';
    } else { /* a stored flag over other bytes (a trusted publisher's choice) */
        hex_encode(m->sender_id, m->sender_id_len, out);
    }
}

/* A client's message as text subscribers get it: the sender written into
 * extra.sender, where the client looks (a binary subscriber gets it beside
 * the body, and the client puts it there), so that no client can pass its
 * message off as the server's. NULL when the body is not a message
 * (msg_body_is_pull_message): the frame is then made unparsable, so that
 * the client skips it rather than throw. */
static char *client_body_with_sender(const struct msg *m)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)m->body, m->body_len, JSON_ALLOW_NUL, &e);
    if (!json_is_string(json_object_get(j, "module_id"))) {
        json_decref(j);
        return NULL;
    }
    char sid[33];
    sender_id_text(m, sid);
    json_t *extra = json_object_get(j, "extra");
    if (!json_is_object(extra)) {
        extra = json_object();
        json_object_set_new(j, "extra", extra);
    }
    json_object_set_new(extra, "sender",
                        json_pack("{s:i,s:s}", "type", msg_sender_type(m), "id", sid));
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return txt;
}

static void append_text_value(const struct msg *m, struct buf *b)
{
    char *with_sender = NULL;
    if (msg_sender_type(m) == MSG_SENDER_CLIENT && m->body_len &&
        (with_sender = client_body_with_sender(m))) {
        jsontext_append_value(b, (const uint8_t *)with_sender, strlen(with_sender));
        free(with_sender);
    } else if (msg_sender_type(m) == MSG_SENDER_CLIENT && m->body_len) {
        jsontext_append_unparsable(b, m->body, m->body_len); /* never a message */
    } else {
        jsontext_append_value(b, m->body, m->body_len);
    }
}

/* Decimal digits of v (no leading zeros) into out; returns their count. */
static size_t u64_digits(uint64_t v, char out[20])
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* The date of the messages being encoded: the same second for all of a
 * burst, so formatted once per second and thread. */
static const char *http_date_cached(uint32_t t)
{
    static _Thread_local uint32_t at;
    static _Thread_local char s[30];
    if (at != t || !s[0]) {
        msg_http_date(t, s);
        at = t;
    }
    return s;
}

static void encode_text(struct msg *m, struct buf *b)
{
    /* id: the counter part of the mid, as Push server 1.0 sends it (the
     * mid's digits without its leading zeros); built by hand, since this
     * runs once per message and printf was a visible share of it */
    const char *ctr = m->mid + 10;
    while (*ctr == '0' && ctr[1])
        ctr++;
    char tag[20];
    size_t tag_len = u64_digits(m->tag, tag);
    buf_append_str(b, "#!NGINXNMS!#{\"id\":");
    buf_append_str(b, ctr);
    buf_append_str(b, ",\"mid\":\"");
    buf_append(b, m->mid, MSG_MID_LEN);
    buf_append_str(b, "\",\"channel\":\"");
    buf_append_str(b, m->channel ? m->channel : "-");
    buf_append_str(b, "\",\"tag\":\"");
    buf_append(b, tag, tag_len);
    buf_append_str(b, "\",\"time\":\"");
    buf_append_str(b, http_date_cached(m->created));
    buf_append_str(b, "\",\"eventid\":\"\",\"text\":");
    append_text_value(m, b);
    buf_append_str(b, "}#!NGINXNME!#");
}

static void mid_to_bytes(const char *mid, uint8_t out[13])
{
    /* Push server 2.0 reads the 26 digits as hex: hex(bytes) gives them back */
    hex_decode(mid, MSG_MID_LEN, out, 13);
}

static void encode_pb(struct msg *m, struct buf *b)
{
    uint8_t id[13];
    mid_to_bytes(m->mid, id);
    pb_encode_outgoing_message_field(b, id, sizeof id, (const char *)m->body, m->body_len,
                                     m->expiry, m->created, msg_sender_type(m), m->sender_id,
                                     m->sender_id_len);
}

static bool body_is_json_object(const struct msg *m)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)m->body, m->body_len, 0, &e);
    bool ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

static void append_json_string(struct buf *b, const char *s, size_t n)
{
    json_t *j = json_stringn_nocheck(s, n);
    char *txt = json_dumps(j, JSON_ENCODE_ANY);
    if (txt)
        buf_append_str(b, txt);
    else
        buf_append_str(b, "\"\"");
    free(txt);
    json_decref(j);
}

static void encode_jsonrpc_head(struct msg *m, struct buf *b)
{
    char sid[33];
    sender_id_text(m, sid);
    buf_printf(b,
               "{\"jsonrpc\":\"2.0\",\"method\":\"incoming.message\",\"params\":{\"mid\":\"%s\","
               "\"sender\":{\"type\":%u,\"id\":\"%s\"},\"body\":",
               m->mid, msg_sender_type(m), sid);
    if (body_is_json_object(m))
        buf_append(b, m->body, m->body_len);
    else
        append_json_string(b, (const char *)m->body, m->body_len);
    if (m->dictionary) {
        buf_append_str(b, ",\"dictionary\":");
        buf_append_str(b, m->dictionary);
    }
}

static void encode_jsonrpc(struct msg *m, struct buf *b)
{
    encode_jsonrpc_head(m, b);
    buf_append_str(b, "}}");
}

char *msg_jsonrpc_for_user(struct msg *m, const char *user_id, size_t *len)
{
    if (!m->user_params || !user_id)
        return NULL;
    /* parsed once per message, not once per recipient (msg_freeze parses it
     * before the message is shared) */
    if (!m->user_params_parsed && !m->frozen)
        m->user_params_parsed = json_loads(m->user_params, 0, NULL);
    json_t *mine = m->user_params_parsed ? json_object_get(m->user_params_parsed, user_id) : NULL;
    if (!mine || !json_is_object(mine))
        return NULL;
    struct buf b;
    buf_init(&b);
    encode_jsonrpc_head(m, &b);
    char *txt = json_dumps(mine, JSON_COMPACT);
    buf_append_str(&b, ",\"user_params\":");
    buf_append_str(&b, txt ? txt : "{}");
    free(txt);
    buf_append_str(&b, "}}");
    return (char *)buf_steal(&b, len);
}

static void encode_sse(struct msg *m, struct buf *b)
{
    buf_printf(b, "id: %s\n", m->mid);
    /* one data: line per line of the body; CR, LF and CRLF all end a line
     * for an EventSource parser, and a trailing newline needs its own
     * (empty) data: line to survive */
    const uint8_t *p = m->body, *end = m->body + m->body_len;
    for (;;) {
        const uint8_t *e = p;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
        buf_append_str(b, "data: ");
        buf_append(b, p, (size_t)(e - p));
        buf_append_byte(b, '\n');
        if (e == end)
            break;
        p = e + ((e[0] == '\r' && e + 1 < end && e[1] == '\n') ? 2 : 1);
    }
    buf_append_byte(b, '\n');
}

static void encode(struct msg *m, enum msg_enc e, struct buf *b)
{
    /* framing adds well under 256 bytes: one allocation, no regrowth */
    buf_reserve(b, m->body_len + 256);
    switch (e) {
    case MSG_ENC_TEXT:
        encode_text(m, b);
        break;
    case MSG_ENC_PB:
        encode_pb(m, b);
        break;
    case MSG_ENC_JSONRPC:
        encode_jsonrpc(m, b);
        break;
    case MSG_ENC_SSE:
        encode_sse(m, b);
        break;
    case MSG_ENC_COUNT:
        break;
    }
}

/* Writes, right before the encoding at p (len bytes), what makes it a
 * WebSocket frame by itself; returns how many bytes that took. The same
 * bytes the transport would put in front of a one-message delivery: server
 * frames are never masked, so they depend on the length alone. */
_Static_assert(MSG_FRAME_ROOM >= WS_MAX_SERVER_HEADER + PB_OUTGOING_PREFIX_MAX,
               "room for a frame header and a ResponseBatch prefix");

static uint8_t frame_head(enum msg_enc e, uint8_t *p, size_t len)
{
    uint8_t ws[WS_MAX_SERVER_HEADER], pb[PB_OUTGOING_PREFIX_MAX];
    size_t pl = 0, wl;
    switch (e) {
    case MSG_ENC_TEXT:
    case MSG_ENC_JSONRPC:
        wl = ws_frame_header(ws, WS_OP_TEXT, true, len);
        break;
    case MSG_ENC_PB:
        pl = pb_outgoing_batch_prefix(pb, len);
        wl = ws_frame_header(ws, WS_OP_BINARY, true, pl + len);
        break;
    default:
        return 0;
    }
    memcpy(p - pl, pb, pl);
    memcpy(p - pl - wl, ws, wl);
    return (uint8_t)(pl + wl);
}

const uint8_t *msg_encoding(struct msg *m, enum msg_enc e, size_t *len)
{
    if (!m->enc[e].p) {
        if (m->frozen)
            return NULL;
        struct buf b;
        buf_init(&b);
        buf_reserve(&b, MSG_FRAME_ROOM + m->body_len + 256); /* as encode() does: one allocation */
        b.len = MSG_FRAME_ROOM;
        encode(m, e, &b);
        /* kept as long as the message is in a history: give the slack back */
        b.data = xrealloc(b.data, b.len);
        size_t n;
        uint8_t *block = buf_steal(&b, &n);
        m->enc[e].p = block + MSG_FRAME_ROOM;
        m->enc[e].len = n - MSG_FRAME_ROOM;
        m->enc[e].frame_head = frame_head(e, m->enc[e].p, m->enc[e].len);
    }
    *len = m->enc[e].len;
    return m->enc[e].p;
}

const uint8_t *msg_ws_frame(struct msg *m, enum msg_enc e, size_t *len)
{
    size_t n;
    const uint8_t *p = msg_encoding(m, e, &n);
    if (!p || !m->enc[e].frame_head)
        return NULL;
    *len = n + m->enc[e].frame_head;
    return p - m->enc[e].frame_head;
}

uint8_t *msg_encode_copy(const struct msg *m, enum msg_enc e, size_t *len)
{
    struct buf b;
    buf_init(&b);
    /* the encoders only read the message */
    encode((struct msg *)m, e, &b);
    return buf_steal(&b, len);
}

void msg_freeze(struct msg *m, unsigned formats)
{
    if (m->frozen)
        return;
    size_t len;
    for (int e = 0; e < MSG_ENC_COUNT; e++)
        if (formats & (1u << e))
            msg_encoding(m, (enum msg_enc)e, &len);
    if (m->user_params && !m->user_params_parsed)
        m->user_params_parsed = json_loads(m->user_params, 0, NULL);
    m->frozen = true;
}
