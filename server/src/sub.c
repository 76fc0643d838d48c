/* Subscriptions: a subscribe request is checked (signed channel ids or a
 * JWT), joined to its channels and given its catch-up; deliveries are
 * queued per subscriber and turned into one answer, frame or event block per
 * loop turn, which its transport sends (transport.h). */
#include "first.h"

#include "sub.h"
#include "conn.h"
#include "gauges.h"
#include "http1.h"
#include "http_respond.h"
#include "jwt.h"
#include "log.h"
#include "mid.h"
#include "msg.h"
#include "pb.h"
#include "server.h"
#include "store.h"
#include "transport.h"
#include "util.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- queueing deliveries ---- */

/* Payload bytes (the messages' encodings) one frame carries at most when
 * the transport frames each delivery (a WebSocket), unless a single message
 * is larger: with the frame's own bytes a few tens of KiB, well below what
 * clients accept per frame (a load generator that takes at most 128 KiB
 * dropped 1,344 of 2,000 subscribers at 2,000 messages a second with one
 * frame per turn; none with this). A catch-up of 100 messages of 2 KB is
 * then 13 frames of 18 KB, not one of 225 KB. */
#define SUB_FRAME_BATCH (16 * 1024)

/* Queues m, whose reference the caller has taken for c. */
static void queue_msg(struct conn *c, struct msg *m)
{
    if (c->n_pend == c->cap_pend) {
        c->cap_pend = c->cap_pend ? c->cap_pend * 2 : 4;
        c->pend = xrealloc(c->pend, c->cap_pend * sizeof *c->pend);
    }
    c->pend[c->n_pend++] = m;
    c->srv->m.deliveries_queued++;
}

bool sub_deliver_held(struct conn *c, struct msg *m, bool later)
{
    if (c->last_seq == m->seq || (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER)))
        return false;
    /* A client that resumed with mid X has X already: another worker gave it
     * to it, and this worker's inbox may still hold X when the client comes
     * back here (the inboxes are drained each on its own loop turn). */
    if (c->lp_mid[0] && strcmp(m->mid, c->lp_mid) <= 0)
        return false;
    c->last_seq = m->seq;
    queue_msg(c, m);
    /* while the store fetches the catch-up, live messages wait behind it */
    if (c->flags & CONN_F_CATCHUP)
        return true;
    if (later)
        conn_schedule_backlog(c);
    else
        conn_schedule_flush(c);
    return true;
}

void sub_deliver(struct conn *c, struct msg *m, bool later)
{
    msg_ref(m);
    if (!sub_deliver_held(c, m, later))
        msg_unref(m);
}

/* ---- turning queued deliveries into wire data ---- */

/* Each queued message's encoding for c: data[i], len[i] bytes, the
 * message's own, or custom[i] (the same pointer, freed after) when it is the
 * recipient's (a JSON-RPC message with this user's user_params) or a copy. */
static void encode_all(struct conn *c, enum msg_enc e, struct msg **m, uint32_t np, char **custom,
                       const uint8_t **data, size_t *len)
{
    for (uint32_t i = 0; i < np; i++) {
        custom[i] = NULL;
        if (e == MSG_ENC_JSONRPC && c->user_id)
            custom[i] = msg_jsonrpc_for_user(m[i], c->user_id, &len[i]);
        if (!custom[i] && !(data[i] = msg_encoding(m[i], e, &len[i])))
            /* frozen before anyone here wanted this format: a copy */
            custom[i] = (char *)msg_encode_copy(m[i], e, &len[i]);
        if (custom[i])
            data[i] = (const uint8_t *)custom[i];
    }
}

/* Where the frame that starts at pend[i] ends: all of the queue for a
 * transport that answers once, else SUB_FRAME_BATCH bytes of payload and
 * the message that passes it. */
static uint32_t frame_end(const struct conn *c, const size_t *len, uint32_t i, uint32_t np)
{
    if (!c->tp->bounded_frames)
        return np;
    size_t sum = 0;
    do
        sum += len[i++];
    while (i < np && sum < SUB_FRAME_BATCH);
    return i;
}

static void add(struct conn_piece *v, size_t *n, const void *p, size_t len, struct msg *m)
{
    if (len)
        v[(*n)++] = (struct conn_piece){.p = p, .len = len, .m = m};
}

/* Hands m[0..k) to the transport as one whole payload in format e: text
 * and event frames concatenate, protobuf gets its own ResponseBatch prefix,
 * JSON-RPC an array when there is more than one message. v has room for
 * 2 * k + 8 pieces. */
static void deliver_frame(struct conn *c, enum msg_enc e, struct msg **m, char **custom,
                          const uint8_t **data, const size_t *len, uint32_t k,
                          struct conn_piece *v)
{
    bool array = e == MSG_ENC_JSONRPC && k > 1;
    size_t body = array ? 2 + (k - 1) : 0; /* [ , ] */
    for (uint32_t i = 0; i < k; i++)
        body += len[i];
    uint8_t prefix[PB_OUTGOING_PREFIX_MAX] = {0};
    size_t plen = e == MSG_ENC_PB ? pb_outgoing_batch_prefix(prefix, body) : 0;
    size_t n = 1; /* v[0]: the transport's head */
    add(v, &n, prefix, plen, NULL);
    if (array)
        add(v, &n, "[", 1, NULL);
    for (uint32_t i = 0; i < k; i++) {
        if (array && i)
            add(v, &n, ",", 1, NULL);
        /* a piece from the message itself keeps it (no copy) */
        add(v, &n, data[i], len[i], custom[i] ? NULL : m[i]);
    }
    if (array)
        add(v, &n, "]", 1, NULL);
    v[0] = (struct conn_piece){0};
    c->tp->deliver(c, v, n, body + plen, m[k - 1]);
}

static enum msg_enc fmt_encoding(uint8_t fmt)
{
    switch (fmt) {
    case FMT_PB:
        return MSG_ENC_PB;
    case FMT_JSONRPC:
        return MSG_ENC_JSONRPC;
    case FMT_SSE:
        return MSG_ENC_SSE;
    default:
        return MSG_ENC_TEXT;
    }
}

/* Turns the queued deliveries into one response or event block, or into
 * frames of at most SUB_FRAME_BATCH bytes of messages each, and hands them
 * to the transport, which writes them at once when it can: the encodings
 * are sent from the messages themselves, never copied. */
void sub_flush(struct conn *c)
{
    struct server *s = c->srv;
    if (c->flags & CONN_F_CATCHUP)
        return; /* flushed for other output (a WebSocket handshake): deliveries wait */
    enum msg_enc e = fmt_encoding(c->fmt);
    /* the queue is let go first: a transport that answers once (a long
     * poll) ends the subscription while it sends */
    struct msg **pend = c->pend;
    uint32_t np = c->n_pend, cap = c->cap_pend;
    char *custom_stack[64];
    size_t len_stack[64];
    const uint8_t *data_stack[64];
    struct conn_piece piece_stack[2 * 64 + 8];
    bool small = np <= 64;
    char **custom = small ? custom_stack : xmalloc(np * sizeof *custom);
    size_t *len = small ? len_stack : xmalloc(np * sizeof *len);
    const uint8_t **data = small ? data_stack : xmalloc(np * sizeof *data);
    struct conn_piece *v = small ? piece_stack : xmalloc((2 * (size_t)np + 8) * sizeof *v);
    encode_all(c, e, pend, np, custom, data, len);
    s->m.messages_out += np;
    s->m.deliveries_queued -= np;
    c->pend = NULL;
    c->n_pend = c->cap_pend = 0;
    /* one message (each delivery while messages come slower than they fan
     * out: most of a portal's): the transport may have it whole on the
     * message, head included */
    bool alone = np == 1 && !custom[0] && c->tp->deliver_one;
    if (c->state == CONN_SUB && (!alone || !c->tp->deliver_one(c, pend[0], e))) {
        uint32_t j = frame_end(c, len, 0, np);
        deliver_frame(c, e, pend, custom, data, len, j, v);
        /* the rest in frames of their own while the connection takes them
         * (the output limit may have ended it, with a close frame after
         * which nothing may follow, or the peer may have gone) */
        for (uint32_t i = j;
             i < np && c->state == CONN_SUB && !(c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER));
             i = j) {
            j = frame_end(c, len, i, np);
            deliver_frame(c, e, pend + i, custom + i, data + i, len + i, j - i, v);
        }
    }
    for (uint32_t i = 0; i < np; i++) {
        free(custom[i]);
        msg_unref(pend[i]);
    }
    if (!small) {
        free(custom);
        free(len);
        free(data);
        free(v);
    }
    /* a small queue is kept for the next turn */
    if (cap <= 16 && !c->pend && c->state == CONN_SUB && !(c->flags & CONN_F_CLOSING)) {
        c->pend = pend;
        c->cap_pend = cap;
    } else {
        free(pend);
    }
}

/* ---- subscribing ---- */

struct catchup {
    struct msg **v;
    size_t n, cap;
    uint32_t since; /* push-stream cursor (time, tag) when no mid is given */
    uint16_t since_tag;
    bool cursor;
};

static void catchup_add(struct msg *m, void *arg)
{
    struct catchup *cu = arg;
    if (cu->cursor &&
        (m->created < cu->since || (m->created == cu->since && m->tag <= cu->since_tag)))
        return;
    if (cu->n == cu->cap) {
        cu->cap = cu->cap ? cu->cap * 2 : 16;
        cu->v = xrealloc(cu->v, cu->cap * sizeof *cu->v);
    }
    cu->v[cu->n++] = m;
}

static int by_mid(const void *a, const void *b)
{
    const struct msg *x = *(struct msg *const *)a, *y = *(struct msg *const *)b;
    return strcmp(x->mid, y->mid);
}

/* The local histories' messages for c newer than mid (or the cursor), in
 * mid order, each once, at most catchup-total of the newest: cu->v[first..n). */
static size_t collect_local(struct conn *c, const char *mid, struct catchup *cu)
{
    struct server *s = c->srv;
    double now = ev_now(s->loop);
    for (uint16_t i = 0; i < c->n_links; i++)
        chan_history_after(c->links[i].ch, mid, (unsigned)s->cfg.catchup_per_channel, now,
                           catchup_add, cu);
    if (!cu->n)
        return 0;
    qsort(cu->v, cu->n, sizeof *cu->v, by_mid);
    /* one message published to two of our channels is stored once in each */
    size_t u = 0;
    for (size_t i = 0; i < cu->n; i++)
        if (u == 0 || cu->v[u - 1] != cu->v[i])
            cu->v[u++] = cu->v[i];
    cu->n = u;
    return u > (size_t)s->cfg.catchup_total ? u - (size_t)s->cfg.catchup_total : 0;
}

static void catch_up(struct conn *c, const char *mid, struct catchup *cu)
{
    struct server *s = c->srv;
    /* a mid older than this node has seen: the store may know more */
    /* (the caller has put mid in c->lp_mid: where a failed fetch resumes) */
    if (*mid && s->store->fetch) {
        if (s->store->fetch(s, c, mid)) {
            c->flags |= CONN_F_CATCHUP;
            return;
        }
    }
    /* the store may have found mid unknown, and cleared c->lp_mid */
    for (size_t i = collect_local(c, *mid ? c->lp_mid : mid, cu); i < cu->n; i++)
        sub_deliver(c, cu->v[i], false);
}

void sub_catchup_finish(struct conn *c, struct msg **fetched, size_t n, bool ok)
{
    c->flags &= (uint16_t)~CONN_F_CATCHUP;
    if (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER) || c->n_links == 0)
        return;
    struct catchup cu = {0};
    size_t first = 0;
    if (!ok) {
        first = collect_local(c, c->lp_mid, &cu);
        fetched = cu.v + first;
        n = cu.n - first;
    }
    /* merge two mid-ordered lists: the catch-up and what arrived live
     * meanwhile (which may overlap it) */
    struct msg **live = c->pend;
    uint32_t n_live = c->n_pend;
    c->srv->m.deliveries_queued -= n_live;
    c->pend = NULL;
    c->n_pend = c->cap_pend = 0;
    size_t i = 0, j = 0;
    while (i < n || j < n_live) {
        struct msg *m;
        if (j == n_live || (i < n && strcmp(fetched[i]->mid, live[j]->mid) < 0))
            m = fetched[i++];
        else if (i < n && strcmp(fetched[i]->mid, live[j]->mid) == 0)
            m = (i++, live[j++]);
        else
            m = live[j++];
        /* the store held back less while it checked the mid (c->lp_mid is
         * the mid it confirmed now): what the client has stays out */
        if (!c->lp_mid[0] || strcmp(m->mid, c->lp_mid) > 0)
            queue_msg(c, msg_ref(m));
    }
    for (uint32_t k = 0; k < n_live; k++)
        msg_unref(live[k]);
    free(live);
    free(cu.v);
    if (c->n_pend)
        conn_schedule_flush(c);
}

void sub_resume_all(struct server *s, uint16_t code, const char *reason)
{
    struct list_node *pos, *tmp;
    list_for_each_safe(pos, tmp, &s->conns)
    {
        struct conn *c = container_of(pos, struct conn, node);
        if (c->state == CONN_SUB)
            c->tp->end(c, code, reason);
    }
}

static bool valid_mid(const char *s)
{
    if (strlen(s) != MSG_MID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Catch-up after a resume mid, or, for one this server never issued, as a
 * subscriber without one gets it (no live message is held back by it). */
static void resume_after(struct conn *c, const char *mid, struct catchup *cu)
{
    if (!mid_issued(c->srv, mid)) {
        c->lp_mid[0] = '\0';
        log_debug("subscriber %d: resume mid %s was never issued here: ignored", c->fd, mid);
        return catch_up(c, "", cu);
    }
    memcpy(c->lp_mid, mid, 27);
    catch_up(c, mid, cu);
}

static void add_channel(struct conn *c, const char *id, size_t *cap)
{
    struct server *s = c->srv;
    size_t len = strlen(id);
    for (uint16_t i = 0; i < c->n_links; i++)
        if (c->links[i].ch->id_len == len && memcmp(c->links[i].ch->id, id, len) == 0)
            return; /* listed twice: one subscription */
    if (c->n_links == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        /* links sit on channel lists: relink after moving them */
        struct sub_link *nl = xcalloc(*cap, sizeof *nl);
        for (uint16_t i = 0; i < c->n_links; i++)
            chan_move_link(&nl[i], &c->links[i]);
        free(c->links);
        c->links = nl;
    }
    struct chan *ch = chan_get(&s->chans, id, len, true);
    chan_subscribe(&s->chans, ch, &c->links[c->n_links++], c);
}

/* Closes the oldest subscriber of channel id here (§7.4: it makes room
 * with 4029). Returns false when this worker has none. */
bool sub_evict_oldest(struct server *s, const char *id)
{
    struct chan *ch = chan_get(&s->chans, id, strlen(id), false);
    if (!ch || !ch->n_subs)
        return false;
    struct sub_link *l = list_first(&ch->subs, struct sub_link, chan_node);
    struct conn *old = l->c;
    s->m.drops_limit++;
    old->tp->end(old, 4029, "4029: Too many connections.");
    return true;
}

/* §7.4: a private channel carries at most max-connections-per-channel
 * connections; the oldest makes room with 4029. */
static void enforce_channel_limit(struct server *s, const char *id)
{
    if (s->hub)
        return worker_enforce_limit(s, id, (unsigned)s->cfg.max_connections_per_channel,
                                    sub_evict_oldest);
    struct chan *ch = chan_get(&s->chans, id, strlen(id), false);
    while (ch && ch->n_subs >= (unsigned)s->cfg.max_connections_per_channel) {
        sub_evict_oldest(s, id);
        ch = chan_get(&s->chans, id, strlen(id), false);
    }
}

static size_t dedupe_refs(struct channel_ref *refs, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < u && !seen; j++)
            seen = strcmp(refs[j].priv, refs[i].priv) == 0 &&
                   strcmp(refs[j].pub, refs[i].pub) == 0 && refs[j].has_pub == refs[i].has_pub;
        if (!seen)
            refs[u++] = refs[i];
    }
    return u;
}

static void fail_subscribe(struct conn *c, const struct transport_ops *tp,
                           const struct http1_request *req, int code)
{
    if (code == 4010)
        c->srv->m.signature_failures++;
    if (tp->open && c->state != CONN_SUB) {
        /* Push server 2.0 completes the upgrade and then closes with the code:
         * the client reacts to 4010 by reloading its config */
        if (tp->open(c, req)) {
            char reason[96];
            snprintf(reason, sizeof reason, "%d: %s", code, http_code_text(code));
            tp->end(c, (uint16_t)code, reason);
        }
        return;
    }
    http_respond_code(c, code, NULL);
}

/* The push-stream cursor's tag (a query's tag or an If-None-Match, W/
 * prefix and all): the digits the client read in a frame or an Etag. Empty
 * (the client knows only the time): 0, the whole second again, a repeat
 * rather than a loss. Tags count within a second and stop at 65535
 * (mid_next_tag then moves on to the next second), so a larger number, or
 * anything that is not a number, means after every message of that second:
 * nginx push stream compares tags as whole integers and leaves that second
 * out when the tag does not parse; a tag cut to 16 bits (70000 read as
 * 4464) would send part of it again. */
static uint16_t cursor_tag(const char *v, size_t n)
{
    if (n > 2 && v[0] == 'W' && v[1] == '/') {
        v += 2;
        n -= 2;
    }
    uint32_t tag = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return UINT16_MAX;
        tag = tag * 10 + (uint32_t)(v[i] - '0');
        if (tag > UINT16_MAX)
            return UINT16_MAX;
    }
    return (uint16_t)tag;
}

static char *query_value(const struct http1_request *req, const char *name, size_t max)
{
    if (!req->query)
        return NULL;
    size_t cap = req->query_len + 1 < max ? req->query_len + 1 : max;
    char *v = xmalloc(cap);
    int r = http1_query_get(req->query, req->query_len, name, v, cap);
    if (r != 1) {
        free(v);
        return NULL;
    }
    return v;
}

static bool query_flag(const struct http1_request *req, const char *name)
{
    char v[8];
    return req->query && http1_query_get(req->query, req->query_len, name, v, sizeof v) == 1 &&
           strcmp(v, "true") == 0;
}

void sub_handle(struct conn *c, const struct http1_request *req, const struct transport_ops *tp,
                sub_message_fn *on_message)
{
    struct server *s = c->srv;
    const struct config *cfg = &s->cfg;
    char tmp[64];

    if (req->query && http1_query_get(req->query, req->query_len, "callback", tmp, sizeof tmp) != 0)
        return http_respond(c, 400, "text/plain", NULL, "JSONP is not supported", 22);

    bool jsonrpc = query_flag(req, "jsonRpc");
    bool binary = query_flag(req, "binaryMode");
    char *token = query_value(req, "token", JWT_MAX_LEN + 1);
    char *ids = token ? NULL : query_value(req, "CHANNEL_ID", 64 * 1024);
    size_t max = (size_t)cfg->max_channels_per_request;
    struct channel_ref *refs = NULL;
    size_t n_refs = 0;
    struct jwt_claims claims = {0};
    int code = 0;

    if (token) {
        int r = jwt_verify(&s->keys, token, strlen(token), (int64_t)ev_now(s->loop), &claims);
        if (r != JWT_OK)
            code = 4010;
        else if (claims.n_chan > max)
            code = 4018;
        jsonrpc = true;
    } else if (!ids || !*ids) {
        code = 4010;
    } else {
        refs = xmalloc(max * sizeof *refs);
        int r = sign_parse_channel_list(&s->keys, ids, strlen(ids), true, refs, max, &n_refs);
        if (r == SIGN_TOO_MANY)
            code = 4018;
        else if (r != SIGN_OK || n_refs == 0)
            code = 4010;
    }
    free(token);
    free(ids);
    if (code) {
        free(refs);
        jwt_claims_free(&claims);
        return fail_subscribe(c, tp, req, code);
    }

    /* an event stream frames every message as an event, whatever it asked */
    c->fmt = tp->forced_fmt >= 0 ? (uint8_t)tp->forced_fmt
             : jsonrpc           ? FMT_JSONRPC
             : binary            ? FMT_PB
                                 : FMT_TEXT;
    if (tp->open && !tp->open(c, req)) {
        free(refs);
        jwt_claims_free(&claims);
        return;
    }
    c->state = CONN_SUB;
    c->tp = tp;
    c->on_message = on_message;

    /* subscribe: the same channel listed twice is one subscription, and the
     * 4029 limit is enforced before this connection joins any channel, so
     * it can only ever close older connections */
    size_t cap = 0;
    if (refs) {
        n_refs = dedupe_refs(refs, n_refs);
        for (size_t i = 0; i < n_refs; i++)
            if (refs[i].has_pub)
                enforce_channel_limit(s, refs[i].priv);
        for (size_t i = 0; i < n_refs; i++) {
            if (refs[i].has_pub && !c->has_pub_id) {
                /* the first public id is who this connection publishes as */
                hex_decode(refs[i].pub, 32, c->pub_id, 16);
                c->has_pub_id = true;
            }
            add_channel(c, refs[i].priv, &cap);
            if (refs[i].has_pub)
                add_channel(c, refs[i].pub, &cap);
        }
    } else {
        for (size_t i = 0; i < claims.n_chan; i++)
            if (claims.chan[i][0] && strlen(claims.chan[i]) <= (size_t)cfg->max_channel_id_length)
                add_channel(c, claims.chan[i], &cap);
        if (claims.sub) {
            char uid[80];
            snprintf(uid, sizeof uid, "u:%.70s", claims.sub);
            add_channel(c, uid, &cap);
            c->user_id = xstrdup(claims.sub);
        }
    }
    free(refs);
    jwt_claims_free(&claims);

    /* catch-up: by mid (V3+), else by the push-stream cursor (V1/V2) */
    char mid[32] = "";
    struct catchup cu = {0};
    if (req->query && http1_query_get(req->query, req->query_len, "mid", mid, sizeof mid) == 1 &&
        valid_mid(mid)) {
        resume_after(c, mid, &cu);
    } else {
        c->lp_mid[0] = '\0';
        const struct http1_header *lei = http1_find_header(req, "Last-Event-ID");
        char t[64] = "", tag[64] = "";
        const struct http1_header *ims = http1_find_header(req, "If-Modified-Since");
        const struct http1_header *inm = http1_find_header(req, "If-None-Match");
        if (lei && lei->value_len == MSG_MID_LEN) {
            memcpy(mid, lei->value, MSG_MID_LEN);
            mid[MSG_MID_LEN] = '\0';
            if (valid_mid(mid))
                resume_after(c, mid, &cu);
        } else if ((req->query &&
                    http1_query_get(req->query, req->query_len, "time", t, sizeof t) == 1 && *t) ||
                   (ims && ims->value_len < sizeof t)) {
            if (!*t && ims) {
                memcpy(t, ims->value, ims->value_len);
                t[ims->value_len] = '\0';
            }
            int r = req->query ? http1_query_get(req->query, req->query_len, "tag", tag, sizeof tag)
                               : 0;
            if (r == 1)
                cu.since_tag = cursor_tag(tag, strlen(tag));
            else if (r < 0) /* too long for any tag, or a bad escape */
                cu.since_tag = UINT16_MAX;
            else if (inm)
                cu.since_tag = cursor_tag(inm->value, inm->value_len);
            if (msg_parse_http_date(t, strlen(t), &cu.since)) {
                cu.cursor = true;
                catch_up(c, "", &cu);
            }
        }
    }
    free(cu.v);

    c->since = ev_now(s->loop);
    c->flags |= CONN_F_COUNTED;
    gauges_count_format(s, c->fmt, 1);
    s->m.n_subs[tp->id]++;
    tp->start(c);
    gauges_changed(s);
}
