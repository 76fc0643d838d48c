/* One connection to Redis on the libev loop (hiredis async, attached with
 * its libev adapter). It finds the address (host:port, unix:/path, or the
 * master a Sentinel names), authenticates, and reconnects with bounded
 * exponential backoff (100 ms doubling to 5 s) when the connection fails or
 * stalls: a command without a reply for `timeout` seconds counts as a dead
 * Redis, so a stopped or overloaded Redis costs the callers one timeout, not
 * an unbounded queue. The store keeps two of these: one for commands, one
 * for the pub/sub subscription (a subscribed connection takes no other
 * command). */
#ifndef PULLBOX_REDIS_CONN_H
#define PULLBOX_REDIS_CONN_H

#include "first.h"

#include "redis_tls.h"

#include <ev.h>

#define REDIS_MAX_SENTINELS 8

struct redisAsyncContext;
struct redis_sub_ctx;

struct redis_hostport {
    char host[256];
    int port;
};

struct redis_addr {
    enum { REDIS_ADDR_TCP, REDIS_ADDR_UNIX, REDIS_ADDR_SENTINEL } kind;
    struct redis_hostport tcp; /* REDIS_ADDR_TCP */
    char path[108];            /* REDIS_ADDR_UNIX */
    struct redis_hostport sentinels[REDIS_MAX_SENTINELS];
    size_t n_sentinels;
};

enum redis_conn_state { REDIS_DOWN, REDIS_CONNECTING, REDIS_READY };

struct redis_conn;
/* Called when the connection is up and authenticated (commands may go). */
typedef void redis_conn_fn(struct redis_conn *rc);
/* A command's reply, NULL when the connection went away first. Every
 * command sent with redis_conn_command gets exactly one call. */
typedef void redis_reply_fn(struct redis_conn *rc, void *reply, void *arg);

struct redis_conn {
    struct ev_loop *loop;
    const char *name; /* "command" or "subscribe", for the log */
    const struct redis_addr *addr;
    const char *user; /* ACL user, "" for the default one */
    const char *password;
    const char *sentinel_master;
    double timeout; /* seconds: connect, and a reply once a command is out */
    struct redis_tls *tls; /* NULL: plain TCP; else every connection is TLS (borrowed) */
    struct redisAsyncContext *ac;
    enum redis_conn_state state;
    ev_timer timer;    /* connect deadline, stall check, then backoff */
    double backoff;    /* the next wait after a failure */
    unsigned pending;  /* commands sent whose reply has not come */
    double progress;   /* last reply, or when pending went from 0 to 1 */
    bool failing;      /* the last attempt failed: log recoveries once */
    uint64_t connects; /* successful connections (the first is not a reconnect) */
    char last_error[256];
    char tls_error[REDIS_TLS_ERR_LEN]; /* why the last certificate was refused */
    redis_conn_fn *on_ready;
    redis_conn_fn *on_lost; /* was ready, is down now (pending replies came as NULL) */
    struct redis_sub_ctx *sub; /* the subscribe callback's context (hiredis keeps a pointer) */
    void *data;
};

/* Parses the `redis` setting: "host:port", "[v6]:port", "host" (port
 * 6379), "unix:/path", or a comma/space list of Sentinels
 * "sentinel:host:port,host:port". Returns 0 or -1 with err. */
int redis_addr_parse(const char *spec, struct redis_addr *out, char *err, size_t errlen);
/* Starts connecting (fields above set by the caller). */
void redis_conn_start(struct redis_conn *rc);
/* Disconnects for good: pending replies come as NULL, no reconnect. */
void redis_conn_stop(struct redis_conn *rc);
/* Sends a command (binary-safe argv). Returns 0, or -1 when the connection
 * is not ready (fn is then not called). */
int redis_conn_command(struct redis_conn *rc, redis_reply_fn *fn, void *arg, int argc,
                       const char **argv, const size_t *lens);
/* Sends SUBSCRIBE channel; fn gets every pub/sub reply (the confirmation
 * and each message) until the connection goes. */
int redis_conn_subscribe(struct redis_conn *rc, const char *channel, redis_reply_fn *fn);
/* Drops the connection as failed (logs why) and schedules a reconnect. */
void redis_conn_fail(struct redis_conn *rc, const char *why);

#endif
