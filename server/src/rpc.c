#include "first.h"

#include "rpc.h"
#include "conn.h"
#include "http_respond.h"
#include "publish.h"
#include "server.h"
#include "transport.h"
#include "pub.h"
#include "http1.h"
#include "lastseen.h"
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

/* V5 JSON-RPC 2.0 (docs/protocol.md §4.6): PHP posts batches of id-less
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

/* Makes s valid UTF-8 in place: an error text quotes what the peer sent,
 * and may have been cut inside a character by the buffer that holds it. A
 * sequence cut at the end is dropped, any other bad byte becomes '?'. */
static void utf8_clean(char *s)
{
    uint8_t *p = (uint8_t *)s;
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        size_t tail = n - i;
        if (p[i] >= 0xc2 && p[i] <= 0xf4 && tail < 4) {
            /* a lead byte whose continuation bytes all fit: cut short */
            size_t j = 1;
            while (j < tail && (p[i + j] & 0xc0) == 0x80)
                j++;
            if (j == tail) {
                p[i] = '\0';
                return;
            }
        }
        p[i++] = '?';
    }
}

/* The error object {code, message}; never NULL, whatever bytes the message
 * quotes. */
static json_t *rpc_error(int code, const char *fmt, ...) PB_PRINTF(2, 3);
static json_t *rpc_error(int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_clean(msg);
    json_t *e = json_pack("{s:i,s:s}", "code", code, "message", msg);
    if (!e)
        e = json_pack("{s:i,s:s}", "code", code, "message", "(error text unavailable)");
    if (!e)
        abort(); /* only out of memory gets here: runit restarts the daemon */
    return e;
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

/* Whether a client's messages can name their sender: the user its token
 * proved (as msg_set_sender_user takes it), or else its public channel. */
static bool client_has_identity(const struct conn *c)
{
    if (c->user_id) {
        size_t n = strlen(c->user_id);
        return n >= 1 && n <= 16 && strspn(c->user_id, "0123456789") == n;
    }
    return c->has_pub_id;
}

/* A do_* function's failure: the error object goes to *err, the result is
 * NULL. */
static json_t *fail(json_t **err, json_t *e)
{
    *err = e;
    return NULL;
}

static json_t *do_publish(struct rpc_ctx *x, json_t *params, json_t **err)
{
    struct server *s = x->s;
    json_t *body = json_object_get(params, "body");
    json_t *chans = json_object_get(params, "channelList");
    json_t *users = json_object_get(params, "userList");
    json_t *up = json_object_get(params, "user_params");
    json_t *dict = json_object_get(params, "dictionary");
    json_t *exp = json_object_get(params, "expiry");
    if (!json_is_object(body))
        return fail(err, rpc_error(RPC_PARAMS, "body: must be an object"));
    if (x->client && !json_is_string(json_object_get(body, "module_id")))
        return fail(err, rpc_error(RPC_PARAMS, "body: module_id must be a string"));
    if (!publish_writable(s)) {
        x->refused = true;
        return fail(err, rpc_error(-32000, "%s", refusal_text(s)));
    }
    if ((chans && !json_is_array(chans)) || (users && !json_is_array(users)))
        return fail(err, rpc_error(RPC_PARAMS, "channelList and userList: must be arrays"));
    if ((up && !json_is_object(up)) || (dict && !json_is_object(dict)))
        return fail(err, rpc_error(RPC_PARAMS, "user_params and dictionary: must be objects"));
    if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 0 ||
                json_integer_value(exp) > UINT32_MAX))
        return fail(err, rpc_error(RPC_PARAMS, "expiry: must be an integer from 0 to 4294967295"));
    if (x->client && json_array_size(users) && !x->client->user_id)
        return fail(
            err, rpc_error(RPC_PARAMS,
                           "userList: only a connection authenticated as a user (token with sub) "
                           "may address users"));
    if (x->client && !client_has_identity(x->client))
        return fail(err, rpc_error(RPC_PARAMS,
                                   "4012: a client publishes as the user its token names: this "
                                   "token has no sub of 1 to 16 digits"));
    size_t n = json_array_size(chans) + json_array_size(users);
    size_t max = (size_t)s->cfg.max_channels_per_request;
    if (n == 0)
        return fail(err,
                    rpc_error(RPC_PARAMS, "4017: No channels found (channelList or userList)"));
    if (n > max)
        return fail(
            err,
            rpc_error(RPC_PARAMS,
                      "4018: channelList and userList exceed max-channels-per-request (%zu)", max));
    /* the message's bytes, made once: a client's size limit is checked on
     * them, user_params and dictionary included (they are kept and sent
     * with it: left out, they carried megabytes past the limit) */
    char *text = json_dumps(body, JSON_COMPACT);
    char *up_text = up ? json_dumps(up, JSON_COMPACT) : NULL;
    char *dict_text = dict ? json_dumps(dict, JSON_COMPACT) : NULL;
    if (!text || (up && !up_text) || (dict && !dict_text))
        abort(); /* objects of valid strings: only out of memory fails */
    size_t text_len = strlen(text);
    if (x->client) {
        char why[128];
        size_t len =
            text_len + (up_text ? strlen(up_text) : 0) + (dict_text ? strlen(dict_text) : 0);
        int lim = pub_client_admit(x->client, &len, 1, why, sizeof why);
        if (lim) {
            free(text);
            free(up_text);
            free(dict_text);
            return fail(err, rpc_error(lim == PUB_TOO_BIG ? RPC_TOO_BIG : RPC_TOO_FAST, "%s%s", why,
                                       lim == PUB_TOO_BIG && (up || dict)
                                           ? " (body, user_params and dictionary together)"
                                           : ""));
        }
    }
    char **ids = xcalloc(n, sizeof *ids);
    size_t k = 0;
    json_t *e;
    size_t i;
    json_array_foreach(chans, i, e)
    {
        if (!(ids[k] = resolve_channel(x, e, err)))
            break;
        k++;
    }
    json_array_foreach(users, i, e)
    {
        if (*err)
            break;
        if (!user_id_ok(e)) {
            *err = rpc_error(RPC_PARAMS, "userList: entries are user ids (non-negative integers)");
            break;
        }
        char id[80];
        user_channel(id, sizeof id, e);
        ids[k++] = xstrdup(id);
    }
    if (!*err) {
        struct msg *m =
            publish_new_message(s, text, text_len, exp ? (uint32_t)json_integer_value(exp) : 0);
        free(text);
        if (x->client) {
            if (!(x->client->user_id && msg_set_sender_user(m, x->client->user_id)))
                msg_set_sender(m, MSG_SENDER_CLIENT, x->client->pub_id,
                               x->client->has_pub_id ? 16 : 0);
            pub_client_expiry(s, m);
        }
        m->user_params = up_text;
        m->dictionary = dict_text;
        msg_set_channel(m, ids[0]);
        publish(s, m, ids, k);
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
    free(text);
    free(up_text);
    free(dict_text);
    for (size_t j = 0; j < k; j++)
        free(ids[j]);
    free(ids);
    return NULL;
}

/* Users one last-seen request may name (either direction). */
static size_t last_seen_max(const struct server *s)
{
    return (size_t)s->cfg.max_channels_per_request * 10;
}

/* Seconds since each listed user was last seen (0: online now): what this
 * server saw itself, or else what the site reported, whichever is newer.
 * Users nobody knows are left out: the client then asks the site. */
static json_t *do_last_seen(struct rpc_ctx *x, json_t *params, json_t **err)
{
    struct server *s = x->s;
    json_t *users = json_object_get(params, "userList");
    if (!json_is_array(users))
        return fail(err, rpc_error(RPC_PARAMS, "userList: must be an array"));
    if (json_array_size(users) > last_seen_max(s))
        return fail(err, rpc_error(RPC_PARAMS, "userList: more than %zu users", last_seen_max(s)));
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
        if (worker_chan_info(s, id, strlen(id), &subs, &seen) && subs) {
            json_object_set_new(res, id + 2, json_integer(0));
            continue;
        }
        int64_t reported;
        if (lastseen_get(s->home->reported_seen, id + 2, strlen(id + 2), &reported) &&
            (double)reported > seen)
            seen = (double)reported;
        if (seen <= 0)
            continue; /* never seen */
        json_object_set_new(res, id + 2, json_integer(now > seen ? (json_int_t)(now - seen) : 0));
    }
    return res;
}

/* The site tells when users were last seen: params {"<userId>": <unix
 * time>, ...}. Checked whole before anything is kept. */
static json_t *do_update_last_seen(struct rpc_ctx *x, json_t *params, json_t **err)
{
    struct server *s = x->s;
    if (!json_is_object(params))
        return fail(err,
                    rpc_error(RPC_PARAMS, "params: must be an object {\"<userId>\": <unix time>}"));
    if (json_object_size(params) > last_seen_max(s))
        return fail(err, rpc_error(RPC_PARAMS, "params: more than %zu users", last_seen_max(s)));
    const char *user;
    json_t *t;
    json_object_foreach(params, user, t)
    {
        if (!lastseen_id_ok(user, strlen(user)))
            return fail(err, rpc_error(RPC_PARAMS,
                                       "params: key \"%.24s\" is not a user id (1 to %d digits)",
                                       user, LASTSEEN_ID_MAX));
        if (!json_is_integer(t) || json_integer_value(t) < 0)
            return fail(
                err, rpc_error(RPC_PARAMS,
                               "params: user %s: the value must be a unix time (an integer >= 0)",
                               user));
    }
    json_int_t kept = 0;
    json_object_foreach(params, user, t)
    {
        if (json_integer_value(t) > 0) { /* 0: the site has no time for this user */
            lastseen_put(s->home->reported_seen, user, strlen(user), json_integer_value(t));
            kept++;
        }
    }
    return json_pack("{s:I}", "stored", kept);
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

/* Whether the JSON string m is exactly name: the whole name, whatever
 * bytes it holds (a NUL inside stops no comparison). */
static bool method_is(json_t *m, const char *name)
{
    size_t n = strlen(name);
    return json_string_length(m) == n && memcmp(json_string_value(m), name, n) == 0;
}

/* Runs one request object; returns the response object (always one, even
 * for an id-less request: PHP needs a non-empty JSON answer), which holds
 * either a result or an error, never neither. */
static json_t *run_one(struct rpc_ctx *x, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    json_t *result = NULL, *error = NULL;
    json_t *method = json_object_get(req, "method");
    json_t *version = json_object_get(req, "jsonrpc");
    json_t *params = json_object_get(req, "params");
    /* JSON-RPC 2.0: an id is a string, a number or null; an object or an
     * array is no id a client matches its answer by, and is not echoed */
    bool bad_id = id && !json_is_string(id) && !json_is_number(id) && !json_is_null(id);
    if (bad_id)
        id = NULL;
    x->s->m.rpc_requests++;
    if (!json_is_object(req) || !json_is_string(method) || !method_is(version, "2.0"))
        error = rpc_error(RPC_INVALID, "Invalid Request: needs jsonrpc \"2.0\" and a method");
    else if (bad_id)
        error = rpc_error(RPC_INVALID, "Invalid Request: id must be a string, a number or null");
    else if (params && !json_is_object(params))
        error = rpc_error(RPC_PARAMS, "params: must be an object");
    else if (method_is(method, "publish"))
        result = do_publish(x, params, &error);
    else if (method_is(method, "getUsersLastSeen"))
        result = do_last_seen(x, params, &error);
    else if (method_is(method, "updateUsersLastSeen") && !x->client)
        result = do_update_last_seen(x, params, &error);
    else if (method_is(method, "ping"))
        result = json_pack("{s:b}", "pong", 1);
    else if (method_is(method, "listChannels"))
        result = do_list_channels(x);
    else if (method_is(method, "serverStats") && !x->client)
        result = do_server_stats(x);
    else
        error = rpc_error(RPC_NO_METHOD, "Method not found: %.64s", json_string_value(method));
    if (!error && !result)
        error = rpc_error(-32603, "Internal error: the result could not be built");
    json_t *resp = json_pack("{s:s}", "jsonrpc", "2.0");
    if (error) {
        json_decref(result);
        json_object_set_new(resp, "error", error);
    } else {
        json_object_set_new(resp, "result", result);
    }
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

/* What is sent when a reply cannot be serialised (out of memory only: its
 * strings are all valid UTF-8): still a well-formed JSON-RPC error. */
static const char internal_error_reply[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"Internal error\"},\"id\":null}";

static char *reply_text(json_t *out)
{
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    return text ? text : xstrdup(internal_error_reply);
}

static char *run_text(struct rpc_ctx *x, const uint8_t *p, size_t n, bool *parse_error)
{
    json_t *out = run_json(x, p, n, parse_error);
    char *text = reply_text(out);
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
        text = reply_text(r->out);
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
        c->tp->send(c, false, "pong", 4);
        return;
    }
    struct rpc_ctx x = {.s = c->srv, .client = c};
    bool parse_error;
    char *text = run_text(&x, p, n, &parse_error);
    c->tp->send(c, false, text, strlen(text));
    free(text);
}
