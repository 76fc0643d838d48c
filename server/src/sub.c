#include "first.h"

#include "server.h"
#include "http1.h"
#include "jwt.h"
#include "log.h"
#include "msg.h"
#include "pb.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "ws.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Expires value the Bitrix clients look for before they read
 * Last-Message-Id from a 304 (docs/protocol.md §7.3). */
static const char magic_expires[] = "Thu, 01 Jan 1973 11:11:01 GMT";

/* ---- publishing ---- */

/* With workers: the counter of the newest mid this run has issued (mids are
 * the start time and a counter). It is raised after a publish is given its
 * mid and before any worker delivers it, so it covers every mid a client can
 * hold, and subscribers check resume mids against it without taking the
 * publish lock (which the journal holds while it syncs). */
static atomic_uint_least64_t issued_counter;

static void note_issued(const struct server *s, const char *mid)
{
    char prefix[11];
    snprintf(prefix, sizeof prefix, "%010u", s->start_time);
    if (memcmp(mid, prefix, 10) != 0)
        return; /* a mid of an earlier run (the journal's) */
    uint64_t n = strtoull(mid + 10, NULL, 10);
    uint64_t cur = atomic_load_explicit(&issued_counter, memory_order_relaxed);
    while (cur < n && !atomic_compare_exchange_weak_explicit(&issued_counter, &cur, n,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

void sub_mids_continue(uint64_t counter)
{
    atomic_store_explicit(&issued_counter, counter, memory_order_relaxed);
}

struct msg *sub_new_message(struct server *s, const void *body, size_t len, uint32_t expiry)
{
    uint32_t now = (uint32_t)ev_now(s->loop);
    uint32_t ttl = (uint32_t)s->cfg.message_ttl;
    /* no expiry given: keep it for the message TTL, so a long-poll client
     * that reconnects with its mid still finds it */
    uint32_t eff = (expiry == 0 || expiry > ttl) ? ttl : expiry;
    if (s->hub) /* mid, seq and tag are given in publish order by worker_publish */
        return msg_new("00000000000000000000000000", 0, now, 0, eff, body, len);
    char mid[27];
    server_next_mid(s, mid);
    return msg_new(mid, ++s->seq, now, server_next_tag(s, now), eff, body, len);
}

void sub_publish(struct server *s, struct msg *m, char *const *ids, size_t n)
{
    s->m.messages_in++;
    if (s->hub) {
        worker_publish(s, m, ids, n);
        return note_issued(s, m->mid); /* before the answer that may name it */
    }
    s->store->publish(s, m, ids, n);
    if (!s->store->fans_out)
        sub_fanout(s, m, ids, n);
}

void sub_fanout(struct server *s, struct msg *m, char *const *ids, size_t n)
{
    double now = ev_now(s->loop);
    if (s->hub)
        note_issued(s, m->mid);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        bool room = s->chans.n_chans < (size_t)s->cfg.max_channels;
        struct chan *ch = chan_get(&s->chans, ids[i], len, room);
        if (!ch) {
            s->m.drops_limit++;
            continue;
        }
        chan_store(&s->chans, ch, m);
        struct list_node *pos, *tmp;
        list_for_each_safe(pos, tmp, &ch->subs)
        {
            struct sub_link *l = container_of(pos, struct sub_link, chan_node);
            sub_deliver(l->c, m);
        }
        chan_release_if_unused(&s->chans, ch, now);
    }
}

static void queue_msg(struct conn *c, struct msg *m)
{
    if (c->n_pend == c->cap_pend) {
        c->cap_pend = c->cap_pend ? c->cap_pend * 2 : 4;
        c->pend = xrealloc(c->pend, c->cap_pend * sizeof *c->pend);
    }
    c->pend[c->n_pend++] = msg_ref(m);
    c->pend_bytes += m->body_len;
}

void sub_deliver(struct conn *c, struct msg *m)
{
    if (c->last_seq == m->seq || (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER)))
        return;
    /* A client that resumed with mid X has X already: another worker gave it
     * to it, and this worker's inbox may still hold X when the client comes
     * back here (the inboxes are drained each on its own loop turn). */
    if (c->lp_mid[0] && strcmp(m->mid, c->lp_mid) <= 0)
        return;
    c->last_seq = m->seq;
    queue_msg(c, m);
    /* while the store fetches the catch-up, live messages wait behind it */
    if (!(c->flags & CONN_F_CATCHUP))
        conn_schedule_flush(c);
}

/* ---- turning queued deliveries into wire data ---- */

/* The deliveries as one payload: total length, then pieces added by
 * add_payload(). Text frames concatenate; protobuf gets one ResponseBatch
 * prefix; JSON-RPC sends an array when there is more than one message. */
static size_t payload_len(struct conn *c, enum msg_enc e, char **custom, size_t *custom_len)
{
    size_t total = 0;
    for (uint32_t i = 0; i < c->n_pend; i++) {
        custom[i] = NULL;
        if (e == MSG_ENC_JSONRPC && c->user_id)
            custom[i] = msg_jsonrpc_for_user(c->pend[i], c->user_id, &custom_len[i]);
        size_t n;
        if (!custom[i] && !msg_encoding(c->pend[i], e, &n))
            /* frozen before anyone here wanted this format: a copy */
            custom[i] = (char *)msg_encode_copy(c->pend[i], e, &custom_len[i]);
        if (custom[i])
            n = custom_len[i];
        total += n;
    }
    if (e == MSG_ENC_JSONRPC && c->n_pend > 1)
        total += 2 + (c->n_pend - 1); /* [ , ] */
    return total;
}

static void add(struct conn_piece *v, size_t *n, const void *p, size_t len, struct msg *m)
{
    if (len)
        v[(*n)++] = (struct conn_piece){.p = p, .len = len, .m = m};
}

static void add_payload(struct conn *c, enum msg_enc e, char **custom, const size_t *custom_len,
                        struct conn_piece *v, size_t *n)
{
    bool array = e == MSG_ENC_JSONRPC && c->n_pend > 1;
    if (array)
        add(v, n, "[", 1, NULL);
    for (uint32_t i = 0; i < c->n_pend; i++) {
        if (array && i)
            add(v, n, ",", 1, NULL);
        if (custom[i]) {
            add(v, n, custom[i], custom_len[i], NULL);
            continue;
        }
        size_t len;
        const uint8_t *p = msg_encoding(c->pend[i], e, &len);
        add(v, n, p, len, c->pend[i]);
    }
    if (array)
        add(v, n, "]", 1, NULL);
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

/* Turns the queued deliveries into one response, frame or event block and
 * hands it to conn_send_pieces, which writes it at once when it can: the
 * encodings are sent from the messages themselves, never copied. */
void sub_flush(struct conn *c)
{
    struct server *s = c->srv;
    if (c->flags & CONN_F_CATCHUP)
        return; /* flushed for other output (a WebSocket handshake): deliveries wait */
    enum msg_enc e = fmt_encoding(c->fmt);
    uint32_t np = c->n_pend;
    char *custom_stack[64];
    size_t custom_len_stack[64];
    struct conn_piece piece_stack[2 * 64 + 8];
    bool small = np <= 64;
    char **custom = small ? custom_stack : xmalloc(np * sizeof *custom);
    size_t *custom_len = small ? custom_len_stack : xmalloc(np * sizeof *custom_len);
    struct conn_piece *v = small ? piece_stack : xmalloc((2 * (size_t)np + 8) * sizeof *v);
    size_t n = 0;
    size_t body = payload_len(c, e, custom, custom_len);
    uint8_t prefix[PB_OUTGOING_PREFIX_MAX];
    size_t plen = e == MSG_ENC_PB ? pb_outgoing_batch_prefix(prefix, body) : 0;
    char head[512];
    uint8_t wsh[WS_MAX_SERVER_HEADER];
    bool lp = c->state == CONN_LONGPOLL, keep = false;
    s->m.messages_out += np;

    if (lp) {
        struct msg *newest = c->pend[np - 1];
        char date[30];
        msg_http_date(newest->created, date);
        keep = (c->flags & CONN_F_KEEPALIVE) && !(c->flags & CONN_F_PEER_EOF) && !s->shutting_down;
        /* push-stream cursor headers too, for V1/V2 clients that send them back */
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                          "Access-Control-Allow-Origin: *\r\nCache-Control: no-cache\r\n"
                          "Last-Modified: %s\r\nEtag: %u\r\nContent-Length: %zu\r\n%s\r\n",
                          e == MSG_ENC_PB ? "application/octet-stream" : "text/plain", date,
                          newest->tag, body + plen,
                          keep ? (c->http_minor ? "" : "Connection: keep-alive\r\n")
                               : "Connection: close\r\n");
        add(v, &n, head, (size_t)hl, NULL);
    } else if (c->state == CONN_WS) {
        size_t hl =
            ws_frame_header(wsh, e == MSG_ENC_PB ? WS_OP_BINARY : WS_OP_TEXT, true, body + plen);
        add(v, &n, wsh, hl, NULL);
    }
    if (c->state == CONN_LONGPOLL || c->state == CONN_WS || c->state == CONN_SSE) {
        if (lp)
            conn_uncount(c); /* whoever has the answer must not see it still counted */
        add(v, &n, prefix, plen, NULL);
        add_payload(c, e, custom, custom_len, v, &n);
        conn_send_pieces(c, v, n);
    }
    for (uint32_t i = 0; i < np; i++) {
        free(custom[i]);
        msg_unref(c->pend[i]);
    }
    c->n_pend = 0;
    c->pend_bytes = 0;
    if (!small) {
        free(custom);
        free(custom_len);
        free(v);
    }
    if (c->cap_pend > 16) {
        free(c->pend);
        c->pend = NULL;
        c->cap_pend = 0;
    }
    if (lp && !(c->flags & CONN_F_CLOSING)) {
        /* a long poll delivers once; the client polls again with its mid */
        conn_unsubscribe_all(c);
        c->state = CONN_HTTP;
        if (keep)
            conn_set_timer(c, TL_IDLE);
        else
            conn_close_after_write(c);
    }
}

static void stop_waiting(struct conn *c)
{
    struct server *s = c->srv;
    if ((c->flags & CONN_F_CATCHUP) && s->store->forget)
        s->store->forget(s, c);
    c->flags &= (uint16_t)~CONN_F_CATCHUP;
}

void sub_longpoll_timeout(struct conn *c)
{
    struct server *s = c->srv;
    char mid[27] = "";
    stop_waiting(c);
    if (c->lp_mid[0]) {
        memcpy(mid, c->lp_mid, sizeof mid);
    } else {
        /* the newest stored message, so the next poll starts after it */
        double now = ev_now(s->loop);
        for (uint16_t i = 0; i < c->n_links; i++) {
            struct msg *m = c->links[i].ch ? chan_newest(c->links[i].ch, now) : NULL;
            if (m && strcmp(m->mid, mid) > 0)
                memcpy(mid, m->mid, sizeof mid);
        }
    }
    s->m.longpoll_timeouts++;
    conn_unsubscribe_all(c);
    c->state = CONN_HTTP;
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "Access-Control-Expose-Headers: Last-Message-Id\r\nLast-Message-Id: %s\r\n"
             "Expires: %s\r\n",
             mid, magic_expires);
    http_respond(c, 304, "text/plain", hdr, NULL, 0);
    if (!(c->flags & CONN_F_CLOSE_AFTER))
        conn_set_timer(c, TL_IDLE);
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
        sub_deliver(c, cu->v[i]);
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
    c->pend = NULL;
    c->n_pend = c->cap_pend = 0;
    c->pend_bytes = 0;
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
            queue_msg(c, m);
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
        if (c->state == CONN_WS && c->n_links)
            wsconn_close(c, code, reason);
        else if (c->state == CONN_LONGPOLL)
            sub_longpoll_timeout(c);
        else if (c->state == CONN_SSE)
            conn_close(c, reason);
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

/* Whether this server has issued mid (or one above it). Mids are the start
 * time and a counter, and the journal store continues above the newest
 * replayed one, so every mid given out so far sorts at or below the next
 * one's predecessor. A client holding a higher mid got it from somewhere
 * else (a forged message body, another cluster): resuming after it would
 * hide every real message, so it is treated as unknown. The Redis store
 * issues mids cluster-wide and checks them itself (its fetch). */
static bool mid_issued(struct server *s, const char *mid)
{
    if (s->store->fans_out)
        return true;
    uint64_t counter = s->hub ? atomic_load_explicit(&issued_counter, memory_order_relaxed)
                              : s->mid_counter;
    char top[27];
    snprintf(top, sizeof top, "%010u%016llu", s->start_time, (unsigned long long)counter);
    return strcmp(mid, top) <= 0;
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
    if (old->state == CONN_WS)
        wsconn_close(old, 4029, "4029: Too many connections.");
    else if (old->state == CONN_LONGPOLL) {
        conn_unsubscribe_all(old);
        old->state = CONN_HTTP;
        old->flags &= (uint16_t)~CONN_F_KEEPALIVE;
        http_respond_code(old, 4029, NULL);
        conn_close_after_write(old);
    } else
        conn_close(old, "too many connections");
    return true;
}

/* §7.4: a private channel carries at most max-connections-per-channel
 * connections; the oldest makes room with 4029. */
static void enforce_channel_limit(struct server *s, const char *id)
{
    if (s->hub)
        return worker_enforce_limit(s, id, (unsigned)s->cfg.max_connections_per_channel);
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

static void fail_subscribe(struct conn *c, bool websocket, const struct http1_request *req,
                           int code)
{
    if (code == 4010)
        c->srv->m.signature_failures++;
    if (websocket && c->state != CONN_WS) {
        /* Push server 2.0 completes the upgrade and then closes with the code:
         * the client reacts to 4010 by reloading its config */
        wsconn_upgrade(c, req);
        if (c->state == CONN_WS) {
            char reason[96];
            snprintf(reason, sizeof reason, "%d: %s", code, http_code_text(code));
            wsconn_close(c, (uint16_t)code, reason);
        }
        return;
    }
    http_respond_code(c, code, NULL);
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

void sub_handle(struct conn *c, const struct http1_request *req, bool websocket, bool eventsource)
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
        return fail_subscribe(c, websocket, req, code);
    }

    /* an event stream frames every message as an event, whatever it asked */
    c->fmt = eventsource ? FMT_SSE : jsonrpc ? FMT_JSONRPC : binary ? FMT_PB : FMT_TEXT;
    if (websocket) {
        wsconn_upgrade(c, req);
        if (c->state != CONN_WS) {
            free(refs);
            jwt_claims_free(&claims);
            return;
        }
    }

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
        char t[64] = "", tag[16] = "";
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
            if (!(req->query &&
                  http1_query_get(req->query, req->query_len, "tag", tag, sizeof tag) == 1) &&
                inm && inm->value_len < sizeof tag - 1) {
                const char *v = inm->value;
                size_t vl = inm->value_len;
                if (vl > 2 && v[0] == 'W' && v[1] == '/') {
                    v += 2;
                    vl -= 2;
                }
                memcpy(tag, v, vl);
                tag[vl] = '\0';
            }
            if (msg_parse_http_date(t, strlen(t), &cu.since)) {
                cu.cursor = true;
                cu.since_tag = (uint16_t)strtoul(tag, NULL, 10);
                catch_up(c, "", &cu);
            }
        }
    }
    free(cu.v);

    c->since = ev_now(s->loop);
    c->flags |= CONN_F_COUNTED;
    if (s->hub)
        worker_count_format(s, c->fmt, 1);
    if (websocket) {
        s->m.n_ws++;
        conn_set_timer(c, c->fmt == FMT_JSONRPC ? TL_RPC_PING : TL_PING);
        if (c->fmt == FMT_JSONRPC)
            wsconn_ping(c); /* the client starts its stuck-timer on the first ping */
    } else if (eventsource) {
        c->state = CONN_SSE;
        s->m.n_sse++;
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n"
                                   "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n"
                                   "retry: 2000\n\n";
        conn_send(c, head, sizeof head - 1);
        conn_set_timer(c, TL_PING);
    } else {
        c->state = CONN_LONGPOLL;
        s->m.n_longpoll++;
        conn_set_timer(c, TL_LONGPOLL);
    }
    worker_gauges_changed(s);
}
