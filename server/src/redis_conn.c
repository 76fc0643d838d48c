#include "first.h"

#include "redis_conn.h"
#include "log.h"
#include "util.h"

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_BACKOFF_MIN 0.1
#define REDIS_BACKOFF_MAX 5.0
#define REDIS_DEFAULT_PORT 6379
#define REDIS_SENTINEL_PORT 26379

/* ---- the `redis` setting ---- */

static int parse_hostport(const char *s, size_t n, int def_port, struct redis_hostport *out)
{
    const char *colon = NULL, *host = s;
    size_t hlen = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        host = s + 1;
        hlen = (size_t)(close - s - 1);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        colon = memrchr(s, ':', n);
        if (colon)
            hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return -1;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = def_port;
    if (colon) {
        char port[8];
        size_t plen = (size_t)(s + n - colon - 1);
        if (plen == 0 || plen >= sizeof port)
            return -1;
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
        char *end;
        long p = strtol(port, &end, 10);
        if (*end || p < 1 || p > 65535)
            return -1;
        out->port = (int)p;
    }
    return 0;
}

int redis_addr_parse(const char *spec, struct redis_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    static const char unix_pfx[] = "unix:", sentinel_pfx[] = "sentinel:";
    if (strncmp(spec, unix_pfx, sizeof unix_pfx - 1) == 0) {
        const char *path = spec + sizeof unix_pfx - 1;
        if (path[0] != '/' || strlen(path) >= sizeof out->path) {
            snprintf(err, errlen, "redis: \"%s\": unix: needs an absolute socket path", spec);
            return -1;
        }
        out->kind = REDIS_ADDR_UNIX;
        snprintf(out->path, sizeof out->path, "%s", path);
        return 0;
    }
    if (strncmp(spec, sentinel_pfx, sizeof sentinel_pfx - 1) != 0) {
        out->kind = REDIS_ADDR_TCP;
        if (parse_hostport(spec, strlen(spec), REDIS_DEFAULT_PORT, &out->tcp) != 0) {
            snprintf(err, errlen,
                     "redis: \"%s\" is not host:port, unix:/path or sentinel:host:port,...", spec);
            return -1;
        }
        return 0;
    }
    /* "sentinel:a:1,b:2" or "sentinel:a:1, sentinel:b:2" */
    out->kind = REDIS_ADDR_SENTINEL;
    const char *p = spec;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        if (strncmp(p, sentinel_pfx, sizeof sentinel_pfx - 1) == 0)
            p += sizeof sentinel_pfx - 1;
        size_t n = strcspn(p, ", ");
        if (out->n_sentinels == REDIS_MAX_SENTINELS ||
            parse_hostport(p, n, REDIS_SENTINEL_PORT, &out->sentinels[out->n_sentinels]) != 0) {
            snprintf(err, errlen, "redis: \"%s\": at most %d Sentinels, each host:port", spec,
                     REDIS_MAX_SENTINELS);
            return -1;
        }
        out->n_sentinels++;
        p += n;
    }
    if (out->n_sentinels == 0) {
        snprintf(err, errlen, "redis: \"%s\": no Sentinel address", spec);
        return -1;
    }
    return 0;
}

/* ---- Sentinel ---- */

/* Asks each Sentinel in turn for the master's address. Blocking, bounded by
 * the timeout per Sentinel: it runs only when a connection is (re)made,
 * which the backoff spaces out, and keeps this file free of a second state
 * machine. Returns 0 with out filled, or -1 with rc->last_error. */
static int ask_sentinels(struct redis_conn *rc, struct redis_hostport *out)
{
    struct timeval tv = {.tv_sec = (time_t)rc->timeout,
                         .tv_usec = (suseconds_t)((rc->timeout - (double)(time_t)rc->timeout) * 1e6)};
    for (size_t i = 0; i < rc->addr->n_sentinels; i++) {
        const struct redis_hostport *sn = &rc->addr->sentinels[i];
        redisContext *c = redisConnectWithTimeout(sn->host, sn->port, tv);
        if (!c || c->err) {
            snprintf(rc->last_error, sizeof rc->last_error, "Sentinel %s:%d: %s", sn->host,
                     sn->port, c ? c->errstr : "out of memory");
            redisFree(c);
            continue;
        }
        redisSetTimeout(c, tv);
        if (rc->tls && redis_tls_start(rc->tls, c, sn->host, rc->tls_error) != 0) {
            snprintf(rc->last_error, sizeof rc->last_error, "Sentinel %s:%d: %s", sn->host,
                     sn->port, rc->tls_error);
            redisFree(c);
            continue;
        }
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", rc->sentinel_master);
        int ok = -1;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
            r->element[0]->len < sizeof out->host) {
            snprintf(out->host, sizeof out->host, "%s", r->element[0]->str);
            out->port = atoi(r->element[1]->str);
            ok = 0;
        } else {
            snprintf(rc->last_error, sizeof rc->last_error,
                     "Sentinel %s:%d does not know master \"%s\"%s%s", sn->host, sn->port,
                     rc->sentinel_master, r && r->type == REDIS_REPLY_ERROR ? ": " : "",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "");
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (ok == 0)
            return 0;
    }
    return -1;
}

/* ---- connection life cycle ---- */

/* What a command carries through hiredis: the caller's callback, and the
 * connection generation it was sent on (replies of an old connection must
 * not touch the counters of the new one). */
struct cmd_ctx {
    struct redis_conn *rc;
    redis_reply_fn *fn;
    void *arg;
    uint64_t gen;
};

static void connect_now(struct redis_conn *rc);

static void arm(struct redis_conn *rc, double after, double repeat)
{
    ev_timer_stop(rc->loop, &rc->timer);
    ev_timer_set(&rc->timer, after, repeat);
    ev_timer_start(rc->loop, &rc->timer);
}

static void schedule_reconnect(struct redis_conn *rc)
{
    rc->state = REDIS_DOWN;
    arm(rc, rc->backoff, 0);
    rc->backoff = rc->backoff * 2 > REDIS_BACKOFF_MAX ? REDIS_BACKOFF_MAX : rc->backoff * 2;
}

static void went_down(struct redis_conn *rc, bool was_ready)
{
    rc->pending = 0;
    log_warn("redis: %s connection lost: %s (retrying in %.1f s)", rc->name, rc->last_error,
             rc->backoff);
    rc->failing = true;
    schedule_reconnect(rc);
    if (was_ready && rc->on_lost)
        rc->on_lost(rc);
}

void redis_conn_fail(struct redis_conn *rc, const char *why)
{
    bool was_ready = rc->state == REDIS_READY;
    snprintf(rc->last_error, sizeof rc->last_error, "%s", why);
    redisAsyncContext *ac = rc->ac;
    rc->ac = NULL;
    rc->state = REDIS_DOWN;
    if (ac) {
        /* hiredis answers the pending callbacks with NULL (deferred when we
         * are inside one of its callbacks); the disconnect callback sees no
         * owner and does nothing */
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    went_down(rc, was_ready);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_conn *rc = ac->data;
    if (!rc || rc->ac != ac)
        return;
    bool was_ready = rc->state == REDIS_READY;
    rc->ac = NULL;
    rc->state = REDIS_DOWN;
    snprintf(rc->last_error, sizeof rc->last_error, "%s",
             rc->tls_error[0]     ? rc->tls_error
             : status == REDIS_OK ? "closed"
             : ac->errstr[0]      ? ac->errstr
                                  : "connection error");
    went_down(rc, was_ready);
}

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct cmd_ctx *x = privdata;
    struct redis_conn *rc = x->rc;
    if (x->gen == rc->connects && rc->pending > 0) {
        rc->pending--;
        rc->progress = ev_now(rc->loop);
    }
    redis_reply_fn *fn = x->fn;
    void *arg = x->arg;
    free(x);
    fn(rc, reply, arg);
}

static int send_argv(struct redis_conn *rc, redis_reply_fn *fn, void *arg, int argc,
                     const char **argv, const size_t *lens)
{
    struct cmd_ctx *x = xmalloc(sizeof *x);
    *x = (struct cmd_ctx){.rc = rc, .fn = fn, .arg = arg, .gen = rc->connects};
    if (redisAsyncCommandArgv(rc->ac, on_command_reply, x, argc, argv, lens) != REDIS_OK) {
        free(x);
        return -1;
    }
    if (rc->pending++ == 0)
        rc->progress = ev_now(rc->loop);
    return 0;
}

int redis_conn_command(struct redis_conn *rc, redis_reply_fn *fn, void *arg, int argc,
                       const char **argv, const size_t *lens)
{
    if (rc->state != REDIS_READY || !rc->ac)
        return -1;
    return send_argv(rc, fn, arg, argc, argv, lens);
}

/* ---- the subscribe callback: hiredis keeps one privdata per channel, so
 * the caller's function travels in a small allocation owned by rc ---- */

struct redis_sub_ctx {
    struct redis_conn *rc;
    redis_reply_fn *fn;
};

static void on_sub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct redis_sub_ctx *x = privdata;
    x->fn(x->rc, reply, NULL);
}

int redis_conn_subscribe(struct redis_conn *rc, const char *channel, redis_reply_fn *fn)
{
    if (rc->state != REDIS_READY || !rc->ac)
        return -1;
    struct redis_sub_ctx *x = rc->sub;
    if (!x) {
        x = xmalloc(sizeof *x);
        rc->sub = x;
    }
    x->rc = rc;
    x->fn = fn;
    const char *argv[2] = {"SUBSCRIBE", channel};
    size_t lens[2] = {9, strlen(channel)};
    return redisAsyncCommandArgv(rc->ac, on_sub_message, x, 2, argv, lens) == REDIS_OK ? 0 : -1;
}

static void on_hello(struct redis_conn *rc, void *reply, void *arg)
{
    (void)arg;
    redisReply *r = reply;
    if (!r)
        return; /* the connection went; its failure is handled elsewhere */
    if (r->type == REDIS_REPLY_ERROR) {
        char why[160];
        if (strncmp(r->str, "NOAUTH", 6) == 0)
            snprintf(why, sizeof why, "Redis requires a password (set redis-password): %s", r->str);
        else if (strncmp(r->str, "WRONGPASS", 9) == 0 || strstr(r->str, "password"))
            snprintf(why, sizeof why, "authentication refused (check redis-user and redis-password): %s",
                     r->str);
        else
            snprintf(why, sizeof why, "%s", r->str);
        log_err("redis: %s", why);
        redis_conn_fail(rc, why);
        return;
    }
    rc->state = REDIS_READY;
    rc->backoff = REDIS_BACKOFF_MIN;
    double check = rc->timeout / 4 < 0.05 ? 0.05 : rc->timeout / 4;
    arm(rc, check, check);
    if (rc->failing || rc->connects == 1)
        log_info("redis: %s connection ready", rc->name);
    rc->failing = false;
    if (rc->on_ready)
        rc->on_ready(rc);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct redis_conn *rc = cac->data;
    if (!rc || rc->ac != cac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        rc->ac = NULL;
        snprintf(rc->last_error, sizeof rc->last_error, "%s",
                 rc->tls_error[0] ? rc->tls_error
                 : cac->errstr[0] ? cac->errstr
                                  : "connect failed");
        went_down(rc, false);
        return;
    }
    rc->connects++;
    redisEnableKeepAlive(&rc->ac->c);
    /* AUTH [user] password, or PING without a password: either way the
     * first reply says whether this Redis takes our commands (NOAUTH,
     * WRONGPASS) */
    const char *argv[3] = {"PING", NULL, NULL};
    int argc = 1;
    if (rc->password[0]) {
        argv[0] = "AUTH";
        if (rc->user && rc->user[0])
            argv[argc++] = rc->user;
        argv[argc++] = rc->password;
    }
    size_t lens[3];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (send_argv(rc, on_hello, NULL, argc, argv, lens) != 0)
        redis_conn_fail(rc, "cannot queue AUTH");
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct redis_conn *rc = w->data;
    char why[96];
    switch (rc->state) {
    case REDIS_DOWN:
        connect_now(rc);
        break;
    case REDIS_CONNECTING:
        snprintf(why, sizeof why, "no answer within %.0f ms (redis-timeout)", rc->timeout * 1000);
        redis_conn_fail(rc, why);
        break;
    case REDIS_READY:
        if (rc->pending && ev_now(loop) - rc->progress > rc->timeout) {
            snprintf(why, sizeof why, "no reply within %.0f ms (redis-timeout)",
                     rc->timeout * 1000);
            redis_conn_fail(rc, why);
        }
        break;
    }
}

static void connect_now(struct redis_conn *rc)
{
    const struct redis_addr *a = rc->addr;
    redisAsyncContext *ac;
    struct redis_hostport hp = a->tcp;
    rc->tls_error[0] = '\0';
    if (a->kind == REDIS_ADDR_UNIX) {
        ac = redisAsyncConnectUnix(a->path);
    } else {
        if (a->kind == REDIS_ADDR_SENTINEL && ask_sentinels(rc, &hp) != 0) {
            went_down(rc, false);
            return;
        }
        ac = redisAsyncConnect(hp.host, hp.port);
    }
    if (!ac || ac->err) {
        snprintf(rc->last_error, sizeof rc->last_error, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        went_down(rc, false);
        return;
    }
    /* TLS before anything is queued: hiredis then writes every byte (AUTH
     * first) through it, once the handshake verified the certificate */
    if (rc->tls && redis_tls_start(rc->tls, &ac->c, hp.host, rc->tls_error) != 0) {
        snprintf(rc->last_error, sizeof rc->last_error, "%s", rc->tls_error);
        redisAsyncFree(ac);
        went_down(rc, false);
        return;
    }
    ac->data = rc;
    rc->ac = ac;
    rc->state = REDIS_CONNECTING;
    rc->pending = 0;
    redisLibevAttach(rc->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    arm(rc, rc->timeout, 0);
}

void redis_conn_start(struct redis_conn *rc)
{
    rc->backoff = REDIS_BACKOFF_MIN;
    ev_timer_init(&rc->timer, on_timer, 0, 0);
    rc->timer.data = rc;
    connect_now(rc);
}

void redis_conn_stop(struct redis_conn *rc)
{
    ev_timer_stop(rc->loop, &rc->timer);
    redisAsyncContext *ac = rc->ac;
    rc->ac = NULL;
    rc->state = REDIS_DOWN;
    rc->on_lost = NULL;
    rc->on_ready = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    free(rc->sub);
    rc->sub = NULL;
}
