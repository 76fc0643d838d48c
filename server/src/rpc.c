#include "first.h"

#include "server.h"
#include "http1.h"
#include "log.h"
#include "msg.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "ws.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* V5 JSON-RPC 2.0 (PROTOCOL.md §4.6): PHP posts batches of id-less
 * `publish` and `getUsersLastSeen` requests to /bitrix/api/, signed over the
 * body; V5 clients send `ping`, `publish`, `getUsersLastSeen` and
 * `listChannels` as text frames. Users are channels named "u:<userId>". */

enum { RPC_PARSE = -32700, RPC_INVALID = -32600, RPC_NO_METHOD = -32601, RPC_PARAMS = -32602 };
/* a client publish over a limit (server-defined range) */
enum { RPC_TOO_BIG = -32013, RPC_TOO_FAST = -32029 };

/* A publish result whose mid the store assigns (a Redis cluster): filled
 * in when the answer is made, after Redis ran the script. */
struct rpc_held {
    struct msg *m;
    json_t *result;
};

struct rpc_ctx {
    struct server *s;
    struct conn *client; /* NULL for the trusted PHP side */
    bool hold;           /* the answer waits for the store: results get their mid later */
    bool refused;        /* the store took nothing: the HTTP answer is a 503 */
    struct rpc_held *held;
    size_t n_held;
};

static json_t *rpc_error(int code, const char *fmt, ...) PB_PRINTF(2, 3);
static json_t *rpc_error(int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:i,s:s}", "code", code, "message", msg);
}

static void user_channel(char *out, size_t n, json_t *u)
{
    if (json_is_integer(u))
        snprintf(out, n, "u:%lld", (long long)json_integer_value(u));
    else if (json_is_string(u))
        snprintf(out, n, "u:%.60s", json_string_value(u));
    else
        out[0] = '\0';
}

static bool user_id_ok(json_t *u)
{
    if (json_is_integer(u))
        return json_integer_value(u) >= 0;
    if (!json_is_string(u))
        return false;
    const char *p = json_string_value(u);
    size_t n = strlen(p);
    if (n == 0 || n > 60)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Resolves one channelList entry to a channel id; NULL with *err set. */
static char *resolve_channel(struct rpc_ctx *x, json_t *e, json_t **err)
{
    struct server *s = x->s;
    char pub[33];
    if (json_is_object(e)) {
        const char *id = json_string_value(json_object_get(e, "publicId"));
        const char *sig = json_string_value(json_object_get(e, "signature"));
        char ref[200];
        if (!id || !sig || snprintf(ref, sizeof ref, "%s.%s", id, sig) >= (int)sizeof ref) {
            *err = rpc_error(RPC_PARAMS, "channelList: an object needs publicId and signature");
            return NULL;
        }
        if (sign_parse_public_ref(&s->keys, ref, strlen(ref), pub) != SIGN_OK) {
            s->m.signature_failures++;
            *err = rpc_error(RPC_PARAMS, "channelList: 4021: Channel has an invalid signature.");
            return NULL;
        }
        return xstrdup(pub);
    }
    const char *v = json_string_value(e);
    if (!v) {
        *err = rpc_error(RPC_PARAMS, "channelList: entries are strings or objects");
        return NULL;
    }
    size_t n = strlen(v);
    if (x->client) {
        /* clients address others only by signed public ids */
        if (sign_parse_public_ref(&s->keys, v, n, pub) != SIGN_OK) {
            s->m.signature_failures++;
            *err = rpc_error(RPC_PARAMS, "channelList: 4021: Channel has an invalid signature.");
            return NULL;
        }
        return xstrdup(pub);
    }
    struct channel_ref ref;
    if (sign_parse_channel(&s->keys, v, n, false, &ref) == SIGN_OK)
        return xstrdup(ref.priv);
    if (n == 0 || n > (size_t)s->cfg.max_channel_id_length ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n) {
        *err = rpc_error(RPC_PARAMS, "channelList: 4019: Request has an invalid channel id.");
        return NULL;
    }
    return xstrdup(v);
}

static const char *refusal_text(const struct server *s)
{
    return s->store->refusal ? s->store->refusal
                             : "The message journal cannot be written: nothing was published";
}

static json_t *do_publish(struct rpc_ctx *x, json_t *params)
{
    struct server *s = x->s;
    json_t *body = json_object_get(params, "body");
    json_t *chans = json_object_get(params, "channelList");
    json_t *users = json_object_get(params, "userList");
    json_t *up = json_object_get(params, "user_params");
    json_t *dict = json_object_get(params, "dictionary");
    json_t *exp = json_object_get(params, "expiry");
    if (!json_is_object(body))
        return rpc_error(RPC_PARAMS, "body: must be an object");
    if (!server_can_publish(s)) {
        x->refused = true;
        return rpc_error(-32000, "%s", refusal_text(s));
    }
    if ((chans && !json_is_array(chans)) || (users && !json_is_array(users)))
        return rpc_error(RPC_PARAMS, "channelList and userList: must be arrays");
    if ((up && !json_is_object(up)) || (dict && !json_is_object(dict)))
        return rpc_error(RPC_PARAMS, "user_params and dictionary: must be objects");
    if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 0 ||
                json_integer_value(exp) > UINT32_MAX))
        return rpc_error(RPC_PARAMS, "expiry: must be an integer from 0 to 4294967295");
    if (x->client && json_array_size(users) && !x->client->user_id)
        return rpc_error(RPC_PARAMS,
                         "userList: only a connection authenticated as a user (token with sub) "
                         "may address users");
    size_t n = json_array_size(chans) + json_array_size(users);
    size_t max = (size_t)s->cfg.max_channels_per_request;
    if (n == 0)
        return rpc_error(RPC_PARAMS, "4017: No channels found (channelList or userList)");
    if (n > max)
        return rpc_error(RPC_PARAMS,
                         "4018: channelList and userList exceed max-channels-per-request (%zu)",
                         max);
    if (x->client) {
        char *text = json_dumps(body, JSON_COMPACT), why[128];
        size_t len = strlen(text);
        free(text);
        int lim = pub_client_admit(x->client, &len, 1, why, sizeof why);
        if (lim)
            return rpc_error(lim == PUB_TOO_BIG ? RPC_TOO_BIG : RPC_TOO_FAST, "%s", why);
    }
    char **ids = xcalloc(n, sizeof *ids);
    size_t k = 0;
    json_t *err = NULL, *e;
    size_t i;
    json_array_foreach(chans, i, e)
    {
        if (!(ids[k] = resolve_channel(x, e, &err)))
            break;
        k++;
    }
    json_array_foreach(users, i, e)
    {
        if (err)
            break;
        if (!user_id_ok(e)) {
            err = rpc_error(RPC_PARAMS, "userList: entries are user ids (non-negative integers)");
            break;
        }
        char id[80];
        user_channel(id, sizeof id, e);
        ids[k++] = xstrdup(id);
    }
    if (!err) {
        char *text = json_dumps(body, JSON_COMPACT);
        struct msg *m =
            sub_new_message(s, text, strlen(text), exp ? (uint32_t)json_integer_value(exp) : 0);
        free(text);
        if (x->client) {
            msg_set_sender(m, MSG_SENDER_CLIENT, x->client->pub_id, x->client->has_pub_id ? 16 : 0);
            pub_client_expiry(s, m);
        }
        if (up)
            m->user_params = json_dumps(up, JSON_COMPACT);
        if (dict)
            m->dictionary = json_dumps(dict, JSON_COMPACT);
        msg_set_channel(m, ids[0]);
        sub_publish(s, m, ids, k);
        if (x->client)
            s->m.client_publishes++;
        json_t *res;
        if (x->hold) {
            res = json_object(); /* the mid comes once the store confirms */
            x->held = xrealloc(x->held, (x->n_held + 1) * sizeof *x->held);
            x->held[x->n_held++] = (struct rpc_held){.m = msg_ref(m), .result = json_incref(res)};
        } else if (s->store->fans_out) {
            res = json_object(); /* a WebSocket answer cannot wait: the cluster mid is unknown */
        } else {
            res = json_pack("{s:s}", "mid", m->mid);
        }
        msg_unref(m);
        for (size_t j = 0; j < k; j++)
            free(ids[j]);
        free(ids);
        return res;
    }
    for (size_t j = 0; j < k; j++)
        free(ids[j]);
    free(ids);
    return err;
}

static json_t *do_last_seen(struct rpc_ctx *x, json_t *params)
{
    struct server *s = x->s;
    json_t *users = json_object_get(params, "userList");
    if (!json_is_array(users))
        return rpc_error(RPC_PARAMS, "userList: must be an array");
    if (json_array_size(users) > (size_t)s->cfg.max_channels_per_request * 10)
        return rpc_error(RPC_PARAMS, "userList: more than %ld users",
                         s->cfg.max_channels_per_request * 10);
    double now = ev_now(s->loop);
    json_t *res = json_object();
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        if (!user_id_ok(u))
            continue;
        char id[80];
        user_channel(id, sizeof id, u);
        unsigned subs = 0;
        double seen = 0;
        if (!worker_chan_info(s, id, strlen(id), &subs, &seen) || (!subs && seen <= 0))
            continue; /* never seen: the client asks PHP instead */
        long long ago = subs ? 0 : (long long)(now - seen);
        json_object_set_new(res, id + 2, json_integer(ago));
    }
    return res;
}

static json_t *do_list_channels(struct rpc_ctx *x)
{
    json_t *list = json_array();
    if (x->client)
        for (uint16_t i = 0; i < x->client->n_links; i++)
            if (x->client->links[i].ch)
                json_array_append_new(list, json_string(x->client->links[i].ch->id));
    return json_pack("{s:o}", "channels", list);
}

/* Every worker's figures summed. */
static json_t *do_server_stats(struct rpc_ctx *x)
{
    struct metrics sum;
    size_t chans;
    worker_stats(x->s, &sum, NULL, &chans);
    return json_pack("{s:i,s:i}", "channels", (int)chans, "connections", (int)sum.n_conns);
}

/* Runs one request object; returns the response object (always one, even
 * for an id-less request: PHP needs a non-empty JSON answer). */
static json_t *run_one(struct rpc_ctx *x, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    json_t *result = NULL, *error = NULL;
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *params = json_object_get(req, "params");
    x->s->m.rpc_requests++;
    if (!json_is_object(req) || !method || !json_is_string(json_object_get(req, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(req, "jsonrpc")), "2.0") != 0)
        error = rpc_error(RPC_INVALID, "Invalid Request: needs jsonrpc \"2.0\" and a method");
    else if (params && !json_is_object(params))
        error = rpc_error(RPC_PARAMS, "params: must be an object");
    else if (strcmp(method, "publish") == 0)
        result = do_publish(x, params ? params : json_object());
    else if (strcmp(method, "getUsersLastSeen") == 0)
        result = do_last_seen(x, params);
    else if (strcmp(method, "ping") == 0)
        result = json_pack("{s:b}", "pong", 1);
    else if (strcmp(method, "listChannels") == 0)
        result = do_list_channels(x);
    else if (strcmp(method, "serverStats") == 0 && !x->client)
        result = do_server_stats(x);
    else
        error = rpc_error(RPC_NO_METHOD, "Method not found: %.64s", method);
    if (result && json_object_get(result, "code") && json_object_get(result, "message") &&
        json_object_size(result) == 2) {
        error = result; /* do_* report errors in the same shape */
        result = NULL;
    }
    json_t *resp = json_pack("{s:s}", "jsonrpc", "2.0");
    if (error)
        json_object_set_new(resp, "error", error);
    else
        json_object_set_new(resp, "result", result ? result : json_null());
    json_object_set(resp, "id", id ? id : json_null());
    return resp;
}

/* Runs a request or a batch; returns the reply (caller decrefs). */
static json_t *run_json(struct rpc_ctx *x, const uint8_t *p, size_t n, bool *parse_error)
{
    json_error_t jerr;
    json_t *in = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    json_t *out;
    *parse_error = !in;
    if (!in) {
        json_t *resp = json_pack("{s:s,s:n}", "jsonrpc", "2.0", "id");
        json_object_set_new(
            resp, "error",
            rpc_error(RPC_PARSE, "Parse error at byte %d: %s", jerr.position, jerr.text));
        out = resp;
    } else if (json_is_array(in)) {
        size_t max = (size_t)x->s->cfg.max_messages_per_request;
        if (json_array_size(in) == 0 || json_array_size(in) > max) {
            out = json_pack("{s:s,s:n}", "jsonrpc", "2.0", "id");
            json_object_set_new(
                out, "error",
                rpc_error(RPC_INVALID, "batch: 1 to %zu requests (max-messages-per-request)", max));
        } else {
            out = json_array();
            size_t i;
            json_t *r;
            json_array_foreach(in, i, r) json_array_append_new(out, run_one(x, r));
        }
    } else {
        out = run_one(x, in);
    }
    json_decref(in);
    return out;
}

static char *run_text(struct rpc_ctx *x, const uint8_t *p, size_t n, bool *parse_error)
{
    json_t *out = run_json(x, p, n, parse_error);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

struct rpc_reply {
    json_t *out;
    struct rpc_held *held;
    size_t n_held;
};

static char *render_reply(void *ctx, size_t *len)
{
    struct rpc_reply *r = ctx;
    char *text = NULL;
    for (size_t i = 0; i < r->n_held; i++) {
        if (len)
            json_object_set_new(r->held[i].result, "mid", json_string(r->held[i].m->mid));
        msg_unref(r->held[i].m);
        json_decref(r->held[i].result);
    }
    if (len) {
        text = json_dumps(r->out, JSON_COMPACT);
        *len = strlen(text);
    }
    json_decref(r->out);
    free(r->held);
    free(r);
    return text;
}

void rpc_handle_http(struct conn *c, const struct http1_request *req, const uint8_t *body,
                     size_t len)
{
    struct server *s = c->srv;
    char sig[160];
    if (!req->query ||
        http1_query_get(req->query, req->query_len, "signature", sig, sizeof sig) != 1 ||
        !sign_check_hex(&s->keys, (const char *)body, len, sig, strlen(sig))) {
        s->m.signature_failures++;
        return http_respond_code(c, 4026, NULL);
    }
    /* with Redis, PHP's answer waits until the cluster has every message */
    struct pub_ack *a = pub_ack_begin(s);
    struct rpc_ctx x = {.s = s, .client = NULL, .hold = a != NULL};
    bool parse_error;
    struct rpc_reply *r = xmalloc(sizeof *r);
    r->out = run_json(&x, body, len, &parse_error);
    r->held = x.held;
    r->n_held = x.n_held;
    if (x.refused) {
        /* PHP reads any 200 as delivered: a publish the store refused must
         * not look like one */
        render_reply(r, NULL);
        if (a)
            pub_ack_fail(c, a);
        else
            http_respond(c, 503, "text/plain", "Retry-After: 5\r\n", refusal_text(s),
                         strlen(refusal_text(s)));
        return;
    }
    pub_ack_respond_render(c, a, parse_error ? 400 : 200, "application/json", render_reply, r);
}

void rpc_handle_client_text(struct conn *c, const uint8_t *p, size_t n)
{
    if (n == 4 && memcmp(p, "pong", 4) == 0) {
        c->flags &= (uint16_t)~CONN_F_PING_OUT;
        return;
    }
    if (n >= 5 && memcmp(p, "mack:", 5) == 0)
        return; /* delivery acks: history already holds the message for catch-up */
    if (n == 4 && memcmp(p, "ping", 4) == 0) {
        wsconn_send_frame(c, WS_OP_TEXT, "pong", 4);
        return;
    }
    struct rpc_ctx x = {.s = c->srv, .client = c};
    bool parse_error;
    char *text = run_text(&x, p, n, &parse_error);
    wsconn_send_frame(c, WS_OP_TEXT, text, strlen(text));
    free(text);
}
