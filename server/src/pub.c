#include "first.h"

#include "pub.h"
#include "conn.h"
#include "http_respond.h"
#include "publish.h"
#include "server.h"
#include "transport.h"
#include "http1.h"
#include "log.h"
#include "msg.h"
#include "pb.h"
#include "stats.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- channel lists on the trusted side ---- */

static bool generic_id(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* Splits CHANNEL_ID for publish and stats. Bitrix sends bare 32-hex private
 * ids (the site checker sends "id.signature", which is accepted and the
 * signature ignored, as the publish port is trusted); other publishers may
 * use ids of letters, digits, '_' and '-'. Returns 0 or a Bitrix code. */
static int trusted_ids(struct server *s, const char *list, char ***out, size_t *n)
{
    size_t max = (size_t)s->cfg.max_channels_per_request;
    size_t parts = 1;
    for (const char *q = list; *q; q++)
        parts += *q == '/';
    char **ids = xcalloc(parts < max ? parts : max, sizeof *ids);
    size_t k = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            if (k == max) {
                for (size_t i = 0; i < k; i++)
                    free(ids[i]);
                free(ids);
                return 4018;
            }
            struct channel_ref ref;
            if (sign_parse_channel(&s->keys, p, len, false, &ref) == SIGN_OK)
                ids[k++] = xstrdup(ref.priv);
            else if (generic_id(p, len, (size_t)s->cfg.max_channel_id_length))
                ids[k++] = xstrndup(p, len);
            else {
                for (size_t i = 0; i < k; i++)
                    free(ids[i]);
                free(ids);
                return 4019;
            }
        }
        p += len + (e ? 1 : 0);
    }
    if (k == 0) {
        free(ids);
        return 4017;
    }
    *out = ids;
    *n = k;
    return 0;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static char *channel_param(const struct http1_request *req)
{
    if (!req->query)
        return NULL;
    char *v = xmalloc(req->query_len + 1);
    if (http1_query_get(req->query, req->query_len, "CHANNEL_ID", v, req->query_len + 1) != 1) {
        free(v);
        return NULL;
    }
    return v;
}

/* The trusted channel ids of a text request's CHANNEL_ID, or an error code
 * (4017: none given). */
static int request_ids(struct server *s, const struct http1_request *req, char ***ids, size_t *n)
{
    char *list = channel_param(req);
    int code = list ? trusted_ids(s, list, ids, n) : 4017;
    free(list);
    return code;
}

/* ---- limits of untrusted publishes ---- */

/* Takes n messages from c's bucket, which refills at client-publish-rate up
 * to client-publish-burst; false (nothing taken) when it holds fewer. */
static bool take_tokens(struct conn *c, size_t n)
{
    const struct config *cfg = &c->srv->cfg;
    double now = ev_now(c->srv->loop), burst = (double)cfg->client_publish_burst;
    if (c->pub_at == 0)
        c->pub_tokens = burst;
    else
        c->pub_tokens += (now - c->pub_at) * (double)cfg->client_publish_rate;
    if (c->pub_tokens > burst)
        c->pub_tokens = burst;
    c->pub_at = now;
    if (c->pub_tokens < (double)n)
        return false;
    c->pub_tokens -= (double)n;
    return true;
}

int pub_client_admit(struct conn *c, const size_t *sizes, size_t n, char *why, size_t whylen)
{
    const struct config *cfg = &c->srv->cfg;
    for (size_t i = 0; i < n; i++)
        if (sizes[i] > (size_t)cfg->client_max_message_size) {
            stats_client_refused(true);
            snprintf(why, whylen, "client-max-message-size: a message of %zu bytes, the limit is %ld",
                     sizes[i], cfg->client_max_message_size);
            return PUB_TOO_BIG;
        }
    if (!take_tokens(c, n)) {
        stats_client_refused(false);
        snprintf(why, whylen,
                 "client-publish-rate: over %ld messages a second (burst %ld) on this connection",
                 cfg->client_publish_rate, cfg->client_publish_burst);
        return PUB_TOO_FAST;
    }
    return 0;
}

void pub_client_expiry(const struct server *s, struct msg *m)
{
    if (m->expiry > (uint32_t)s->cfg.client_message_ttl)
        m->expiry = (uint32_t)s->cfg.client_message_ttl;
}

/* The body sizes of a batch's messages, for pub_client_admit. */
static int admit_batch(struct conn *c, const struct pb_request_batch *b, char *why, size_t whylen)
{
    size_t n = 0;
    for (size_t r = 0; r < b->n_requests; r++)
        if (b->requests[r].kind == PB_REQ_INCOMING_MESSAGES)
            n += b->requests[r].n_messages;
    if (n == 0)
        return 0;
    size_t *sizes = xmalloc(n * sizeof *sizes), k = 0;
    for (size_t r = 0; r < b->n_requests; r++)
        if (b->requests[r].kind == PB_REQ_INCOMING_MESSAGES)
            for (size_t m = 0; m < b->requests[r].n_messages; m++)
                sizes[k++] = b->requests[r].messages[m].body.len;
    int code = pub_client_admit(c, sizes, n, why, whylen);
    free(sizes);
    return code;
}

/* ---- protobuf batches ---- */

static int pb_code(int r)
{
    switch (r) {
    case PB_TOO_MANY_MESSAGES:
        return 4016;
    case PB_TOO_MANY_CHANNELS:
        return 4018;
    default:
        return 4013;
    }
}

static void pb_limits_of(const struct server *s, struct pb_limits *lim)
{
    lim->max_requests = (size_t)s->cfg.max_messages_per_request;
    lim->max_messages = (size_t)s->cfg.max_messages_per_request;
    lim->max_receivers = (size_t)s->cfg.max_channels_per_request;
    lim->max_channels = (size_t)s->cfg.max_channels_per_request;
}

static void publish_pb_message(struct server *s, const struct pb_incoming_message *im,
                               uint8_t sender_type, const uint8_t *sender_id, size_t sender_len,
                               bool untrusted)
{
    struct msg *m = publish_new_message(s, im->body.p, im->body.len, im->expiry);
    msg_set_sender(m, sender_type, sender_id, sender_len);
    if (untrusted)
        pub_client_expiry(s, m);
    char **ids = xmalloc(im->n_receivers * sizeof *ids);
    for (size_t i = 0; i < im->n_receivers; i++) {
        ids[i] = xmalloc(33);
        hex_encode(im->receivers[i].id.p, 16, ids[i]);
    }
    msg_set_channel(m, im->n_receivers ? ids[0] : NULL);
    publish(s, m, ids, im->n_receivers);
    free_ids(ids, im->n_receivers);
    msg_unref(m);
}

/* Whether channel id is online on any worker: subscribed, or left within
 * online-grace; subs gets its subscriber count. */
static bool chan_online(struct server *s, const char *id, size_t len, double now, unsigned *subs)
{
    unsigned n = 0;
    double seen = 0;
    if (!worker_chan_info(s, id, len, &n, &seen))
        return false;
    if (subs)
        *subs = n;
    return n > 0 || (seen > 0 && now - seen < (double)s->cfg.online_grace);
}

static void channel_stats(struct server *s, const struct pb_request *rq, struct buf *out)
{
    double now = ev_now(s->loop);
    struct pb_channel_stat *st = xcalloc(rq->n_channels, sizeof *st);
    for (size_t i = 0; i < rq->n_channels; i++) {
        char id[33];
        hex_encode(rq->channels[i].id.p, 16, id);
        st[i].id = rq->channels[i].id.p;
        st[i].id_len = rq->channels[i].id.len;
        st[i].is_private = rq->channels[i].is_private;
        st[i].is_online = chan_online(s, id, 32, now, NULL);
    }
    pb_encode_channel_stats_response(out, st, rq->n_channels);
    free(st);
}

/* Checks every receiver before anything is published: a batch is taken
 * whole or not at all. */
static int check_receivers(struct server *s, const struct pb_request_batch *b, bool untrusted)
{
    for (size_t r = 0; r < b->n_requests; r++) {
        const struct pb_request *rq = &b->requests[r];
        const struct pb_receiver *list = rq->channels;
        size_t n = rq->n_channels;
        if (rq->kind == PB_REQ_SERVER_STATS || rq->kind == PB_REQ_REGISTRATION) {
            if (untrusted)
                return 4014;
            continue;
        }
        if (rq->kind == PB_REQ_INCOMING_MESSAGES) {
            for (size_t m = 0; m < rq->n_messages; m++) {
                const struct pb_incoming_message *im = &rq->messages[m];
                if (im->n_receivers == 0)
                    return 4017;
                for (size_t i = 0; i < im->n_receivers; i++) {
                    const struct pb_receiver *rc = &im->receivers[i];
                    if (rc->id.len != 16)
                        return 4019;
                    if (untrusted && rc->is_private)
                        return 4020;
                    if (untrusted && !sign_check_public_raw(&s->keys, rc->id.p, rc->signature.p,
                                                            rc->signature.len)) {
                        s->m.signature_failures++;
                        return 4021;
                    }
                }
                if (untrusted && !msg_body_is_pull_message(im->body.p, im->body.len))
                    return 4013; /* the receivers' clients would throw on it */
            }
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (list[i].id.len != 16)
                return 4030;
            if (untrusted && list[i].is_private)
                return 4020;
            if (untrusted && !sign_check_public_raw(&s->keys, list[i].id.p, list[i].signature.p,
                                                    list[i].signature.len)) {
                s->m.signature_failures++;
                return 4021;
            }
        }
    }
    return 0;
}

/* client: the connection of an untrusted publish (NULL: trusted), whose
 * limits are checked (why names the one exceeded). */
static int run_batch(struct server *s, const uint8_t *data, size_t len, struct conn *client,
                     const uint8_t *pub_id, struct buf *out, char *why, size_t whylen)
{
    bool untrusted = client != NULL;
    struct pb_limits lim;
    pb_limits_of(s, &lim);
    struct pb_request_batch b;
    int r = pb_decode_request_batch(data, len, &lim, &b);
    if (r != PB_OK)
        return pb_code(r);
    if (b.n_requests == 0) {
        pb_request_batch_free(&b);
        return 4022;
    }
    int code = check_receivers(s, &b, untrusted);
    if (!code && !publish_writable(s))
        code = 503;
    if (!code && client)
        code = admit_batch(client, &b, why, whylen);
    for (size_t i = 0; !code && i < b.n_requests; i++) {
        const struct pb_request *rq = &b.requests[i];
        switch (rq->kind) {
        case PB_REQ_INCOMING_MESSAGES:
            for (size_t m = 0; m < rq->n_messages; m++) {
                const struct pb_incoming_message *im = &rq->messages[m];
                if (untrusted)
                    publish_pb_message(s, im, MSG_SENDER_CLIENT, pub_id, 16, true);
                else if (im->has_sender)
                    publish_pb_message(s, im, (uint8_t)im->sender_type, im->sender_id.p,
                                       im->sender_id.len, false);
                else
                    publish_pb_message(s, im, MSG_SENDER_BACKEND, NULL, 0, false);
            }
            if (untrusted)
                s->m.client_publishes += rq->n_messages;
            break;
        case PB_REQ_CHANNEL_STATS:
            channel_stats(s, rq, out);
            break;
        case PB_REQ_SERVER_STATS: {
            struct buf json;
            buf_init(&json);
            stats_json(s, &json);
            pb_encode_server_stats_response(out, (const char *)json.data, json.len);
            buf_deinit(&json);
            break;
        }
        default:
            break;
        }
    }
    pb_request_batch_free(&b);
    return code;
}

int pub_client_batch(struct conn *c, const uint8_t *pub_id, bool has_pub_id, const uint8_t *data,
                     size_t len, struct buf *out, char *why, size_t whylen)
{
    if (!has_pub_id)
        return 4012;
    return run_batch(c->srv, data, len, c, pub_id, out, why, whylen);
}

/* ---- acknowledgements held until the store confirms (Redis) ---- */

struct pub_ack {
    struct conn *c;   /* the waiting connection; NULL when nobody waits any more */
    unsigned pending; /* messages the store has not confirmed yet */
    bool open;        /* the request is still publishing */
    bool failed;      /* a message was refused or lost: the answer is 503 */
    bool refused;     /* the store took nothing of part of it: its own 503 text */
    int status;       /* the answer once everything is confirmed */
    const char *ctype;
    uint8_t *body;
    size_t len;
    pub_ack_render_fn *render; /* the body is made once confirmed (JSON-RPC results) */
    void *render_ctx;
};

static const char journal_refusal[] = "The message journal cannot be written: nothing was published";
static const char lost_refusal[] =
    "The message store did not confirm every message in time (redis-timeout): "
    "some may not have been published";

static const char *refusal(const struct server *s)
{
    return s->store->refusal ? s->store->refusal : journal_refusal;
}

/* Starts a publish request whose answer waits for the store's confirmation
 * (only stores that publish asynchronously need one). */
struct pub_ack *pub_ack_begin(struct server *s)
{
    if (!s->store->fans_out)
        return NULL;
    struct pub_ack *a = xcalloc(1, sizeof *a);
    a->open = true;
    s->pub_ack = a;
    return a;
}

struct pub_ack *pub_ack_hold(struct server *s)
{
    if (s->pub_ack)
        s->pub_ack->pending++;
    return s->pub_ack;
}

static void ack_answer(struct conn *c, struct pub_ack *a)
{
    if (a->failed) {
        const char *why = a->refused ? refusal(c->srv) : lost_refusal;
        http_respond(c, 503, "text/plain", "Retry-After: 5\r\n", why, strlen(why));
        if (a->render)
            a->render(a->render_ctx, NULL);
    } else if (a->render) {
        size_t n;
        char *text = a->render(a->render_ctx, &n);
        http_respond(c, a->status, a->ctype, NULL, text, n);
        free(text);
    } else {
        http_respond(c, a->status, a->ctype, NULL, a->body, a->len);
    }
}

void pub_ack_done(struct server *s, struct pub_ack *a, bool ok)
{
    (void)s;
    a->pending--;
    if (!ok)
        a->failed = true;
    if (a->pending || a->open)
        return;
    struct conn *c = a->c;
    if (c) {
        c->ack = NULL;
        c->state = CONN_HTTP;
        ack_answer(c, a);
        if (!(c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER))) {
            conn_set_timer(c, c->in.len ? TL_HEADER : TL_IDLE);
            conn_process_input(c); /* a pipelined request waited behind this one */
        }
    } else if (a->render) {
        a->render(a->render_ctx, NULL); /* nobody waits for it any more */
    }
    free(a->body);
    free(a);
}

void pub_ack_forget(struct conn *c)
{
    if (c->ack) {
        c->ack->c = NULL;
        c->ack = NULL;
    }
}

/* Answers a publish request: at once, or, when the store has messages of
 * it still to confirm, once it has (the connection waits, reading nothing). */
static void ack_respond(struct conn *c, struct pub_ack *a, int status, const char *ctype,
                        const void *body, size_t len)
{
    struct server *s = c->srv;
    if (!a)
        return http_respond(c, status, ctype, NULL, body, len);
    s->pub_ack = NULL;
    a->open = false;
    a->status = status;
    a->ctype = ctype;
    if (a->pending == 0) {
        a->body = (uint8_t *)body; /* borrowed: answered right now */
        a->len = len;
        ack_answer(c, a);
        free(a);
        return;
    }
    if (len) {
        a->body = xmalloc(len);
        memcpy(a->body, body, len);
        a->len = len;
    }
    a->c = c;
    c->ack = a;
    c->state = CONN_PUBWAIT;
    conn_set_timer(c, TL_NONE); /* the store's redis-timeout bounds the wait */
}

void pub_ack_respond_render(struct conn *c, struct pub_ack *a, int status, const char *ctype,
                            pub_ack_render_fn *render, void *ctx)
{
    if (!a) {
        size_t n;
        char *text = render(ctx, &n);
        http_respond(c, status, ctype, NULL, text, n);
        free(text);
        return;
    }
    a->render = render;
    a->render_ctx = ctx;
    ack_respond(c, a, status, ctype, NULL, 0);
}

void pub_ack_fail(struct conn *c, struct pub_ack *a)
{
    a->failed = a->refused = true;
    ack_respond(c, a, 503, "text/plain", NULL, 0);
}

/* The request ended in an error before publishing: no answer waits. */
static void ack_drop(struct server *s, struct pub_ack *a)
{
    if (!a)
        return;
    s->pub_ack = NULL;
    a->open = false;
    if (a->pending == 0)
        free(a);
}

static void reply_batch(struct conn *c, int code, struct buf *out, struct pub_ack *a)
{
    if (code) {
        ack_drop(c->srv, a);
        http_respond_code(c, code, NULL);
    } else if (out->len) {
        ack_respond(c, a, 200, "application/octet-stream", out->data, out->len);
    } else {
        ack_respond(c, a, 200, "text/plain", NULL, 0);
    }
}

/* POST /bitrix/rest/?CHANNEL_ID=<priv:pub.sig>[/...]: a long-polling client
 * publishing (SDK sendMessage over long polling). */
void pub_handle_client(struct conn *c, const struct http1_request *req, const uint8_t *body,
                       size_t len)
{
    struct server *s = c->srv;
    char *list = channel_param(req);
    size_t max = (size_t)s->cfg.max_channels_per_request, n = 0;
    struct channel_ref *refs = xmalloc(max * sizeof *refs);
    int r = list ? sign_parse_channel_list(&s->keys, list, strlen(list), true, refs, max, &n)
                 : SIGN_BAD_FORMAT;
    free(list);
    uint8_t pub_id[16];
    bool has_pub = false;
    for (size_t i = 0; r == SIGN_OK && i < n && !has_pub; i++)
        if (refs[i].has_pub)
            has_pub = hex_decode(refs[i].pub, 32, pub_id, 16);
    free(refs);
    if (r != SIGN_OK) {
        s->m.signature_failures++;
        return http_respond_code(c, r == SIGN_TOO_MANY ? 4018 : 4010, NULL);
    }
    struct buf out;
    buf_init(&out);
    struct pub_ack *a = pub_ack_begin(s);
    char why[128];
    int code = pub_client_batch(c, pub_id, has_pub, body, len, &out, why, sizeof why);
    if (code == PUB_TOO_BIG || code == PUB_TOO_FAST) {
        ack_drop(s, a);
        http_respond(c, code, "text/plain", code == PUB_TOO_FAST ? "Retry-After: 1\r\n" : NULL,
                     why, strlen(why));
    } else {
        reply_batch(c, code, &out, a);
    }
    buf_deinit(&out);
}

/* ---- the trusted publish path ---- */

static bool query_is_true(const struct http1_request *req, const char *name)
{
    char v[8];
    return req->query && http1_query_get(req->query, req->query_len, name, v, sizeof v) == 1 &&
           strcmp(v, "true") == 0;
}

static void publish_text(struct conn *c, const struct http1_request *req, const uint8_t *body,
                         size_t len)
{
    struct server *s = c->srv;
    uint32_t expiry = 0;
    const struct http1_header *h = http1_find_header(req, "Message-Expiry");
    if (h) {
        uint64_t v;
        if (http1_parse_content_length(h->value, h->value_len, &v) != 0 || v > UINT32_MAX) {
            static const char msg[] = "Message-Expiry: not an integer from 0 to 4294967295";
            return http_respond(c, 400, "text/plain", NULL, msg, sizeof msg - 1);
        }
        expiry = (uint32_t)v;
    }
    if (!publish_writable(s)) {
        const char *msg = refusal(s);
        return http_respond(c, 503, "text/plain", "Retry-After: 5\r\n", msg, strlen(msg));
    }
    if (len == 0) {
        static const char msg[] = "Empty post requests are not allowed.";
        return http_respond(c, 400, "text/plain", NULL, msg, sizeof msg - 1);
    }
    char **ids;
    size_t n;
    int code = request_ids(s, req, &ids, &n);
    if (code)
        return http_respond_code(c, code, NULL);
    size_t held = s->chans.n_chans;
    if (s->hub) {
        /* the channels of every worker (a subscriber's may be elsewhere) */
        struct metrics sum;
        worker_stats(s, &sum, NULL, &held);
    }
    if (held + n > (size_t)s->cfg.max_channels) {
        bool all_exist = true;
        for (size_t i = 0; i < n && all_exist; i++) {
            unsigned subs;
            double seen;
            all_exist = chan_get(&s->chans, ids[i], strlen(ids[i]), false) != NULL ||
                        (s->hub && worker_chan_info(s, ids[i], strlen(ids[i]), &subs, &seen));
        }
        if (!all_exist) {
            free_ids(ids, n);
            s->m.drops_limit++;
            static const char msg[] = "Channel limit reached (max-channels)";
            return http_respond(c, 503, "text/plain", "Retry-After: 5\r\n", msg, sizeof msg - 1);
        }
    }
    struct pub_ack *a = pub_ack_begin(s);
    struct msg *m = publish_new_message(s, body, len, expiry);
    msg_set_channel(m, ids[0]);
    publish(s, m, ids, n);
    msg_unref(m);
    free_ids(ids, n);
    /* empty body: the site checker json-decodes "{"infos": [" + body + "]}" */
    ack_respond(c, a, 200, "text/plain", NULL, 0);
}

static void text_stats(struct conn *c, const struct http1_request *req)
{
    struct server *s = c->srv;
    char **ids;
    size_t n;
    int code = request_ids(s, req, &ids, &n);
    if (code)
        return http_respond_code(c, code, NULL);
    double now = ev_now(s->loop);
    struct buf out;
    buf_init(&out);
    buf_append_str(&out, "{\"infos\":[");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        unsigned subs = 0;
        if (!chan_online(s, ids[i], strlen(ids[i]), now, &subs))
            continue;
        /* PHP counts a channel online when subscribers > 0, so a channel
         * inside its online grace period reports at least 1 */
        buf_printf(&out, "%s{\"channel\":\"%s\",\"subscribers\":%u}", first ? "" : ",", ids[i],
                   subs ? subs : 1);
        first = false;
    }
    buf_append_str(&out, "]}");
    free_ids(ids, n);
    http_respond(c, 200, "text/plain", NULL, out.data, out.len);
    buf_deinit(&out);
}

static void delete_channels(struct conn *c, const struct http1_request *req)
{
    struct server *s = c->srv;
    char **ids;
    size_t n;
    int code = request_ids(s, req, &ids, &n);
    if (code)
        return http_respond_code(c, code, NULL);
    if (s->hub) {
        /* every worker drops them, in order with the publishes */
        worker_delete(s, ids, n);
        free_ids(ids, n);
        return http_respond(c, 200, "text/plain", NULL, NULL, 0);
    }
    s->store->delete_channels(s, ids, n);
    for (size_t i = 0; i < n; i++) {
        struct chan *ch = chan_get(&s->chans, ids[i], strlen(ids[i]), false);
        if (ch) {
            chan_clear_history(&s->chans, ch);
            chan_release_if_unused(&s->chans, ch, ev_now(s->loop));
        }
    }
    free_ids(ids, n);
    http_respond(c, 200, "text/plain", NULL, NULL, 0);
}

bool pub_must_wait(struct conn *c, const struct http1_request *req, bool whole_body)
{
    struct server *s = c->srv;
    if (!worker_fanout_behind(s))
        return false;
    /* where the channels are in the body, every request waits: what it
     * publishes is not known before it is parsed */
    if (whole_body || query_is_true(req, "binaryMode"))
        return true;
    char **ids;
    size_t n;
    if (request_ids(s, req, &ids, &n))
        return false; /* refused when served: at once */
    unsigned subs = 0;
    for (size_t i = 0; i < n && subs <= PUBLISH_WRITE_NOW; i++)
        subs += worker_local_subs(s, ids[i], strlen(ids[i]));
    free_ids(ids, n);
    return subs > PUBLISH_WRITE_NOW;
}

void pub_handle(struct conn *c, const struct http1_request *req, const uint8_t *body, size_t len)
{
    struct server *s = c->srv;
    if (req->method_len == 4 && memcmp(req->method, "POST", 4) == 0) {
        if (query_is_true(req, "binaryMode")) {
            struct buf out;
            buf_init(&out);
            struct pub_ack *a = pub_ack_begin(s);
            int code = run_batch(s, body, len, NULL, NULL, &out, NULL, 0);
            reply_batch(c, code, &out, a);
            buf_deinit(&out);
            return;
        }
        return publish_text(c, req, body, len);
    }
    if (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0)
        return text_stats(c, req);
    if (req->method_len == 6 && memcmp(req->method, "DELETE", 6) == 0)
        return delete_channels(c, req);
    s->m.http_errors++;
    http_respond(c, 405, "text/plain", "Allow: POST, GET, DELETE, OPTIONS\r\n",
                 "Method not allowed", 18);
}
