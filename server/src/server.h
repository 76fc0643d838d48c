/* The server: listeners, connections, the channel registry and the hooks
 * that run once per loop iteration, all on one libev loop. This header is
 * also the type every module of the upper layer is handed (struct server);
 * the functions here are server.c's. With several
 * workers (worker.h) there is one struct server per worker thread, each
 * touched by its own thread only; the first (`home`) also owns the store,
 * the publish port and the signals. */
#ifndef PULLBOX_SERVER_H
#define PULLBOX_SERVER_H

#include <stdatomic.h>
#include "first.h"

#include <ev.h>

#include "addrlimit.h"
#include "chan.h"
#include "config.h"
#include "conn.h"
#include "list.h"
#include "sign.h"
#include "transport.h"
#include "xq.h"

#include <pthread.h>

struct conn;
struct http1_request;
struct journal;
struct pub_ack;
struct publish_later;
struct redis_store;
struct store_hooks;
struct store_ops;
struct ssl_ctx_st;
struct hub;
struct transport_ops;
struct worker_gauges;

struct listener {
    ev_io w;
    int fd;
    enum conn_role role;
    bool tls;
    const struct transport_ops *proto; /* what its connections speak first (HTTP) */
    char *addr;
    struct server *srv;
};

struct metrics {
    uint64_t connections_total;
    uint64_t messages_in;  /* accepted publishes (one per message) */
    uint64_t messages_out; /* deliveries to subscribers */
    uint64_t bytes_in, bytes_out;
    uint64_t signature_failures;
    uint64_t drops_slow, drops_limit, drops_proto, drops_timeout, drops_ping;
    uint64_t drops_send_timeout;
    uint64_t drops_per_address; /* refused by max-connections-per-address */
    uint64_t drops_out_memory;  /* dropped, holding the most, past max-output-memory */
    size_t deliveries_queued;   /* queued to connections, not yet made wire data */
    uint64_t publish_waits;     /* publish requests that waited for the fan-outs */
    uint64_t out_queued;        /* output the peers have not taken (gauge) */
    uint64_t http_requests;
    uint64_t http_errors;
    uint64_t client_publishes;
    uint64_t rpc_requests;
    uint64_t longpoll_timeouts;
    uint64_t tls_handshakes, tls_failures;
    unsigned n_subs[TRANSPORT_MAX]; /* subscribers by transport (transport_ops.id) */
    unsigned n_conns;
    unsigned n_client_conns; /* on subscribe listeners: what max-connections limits */
};

struct server {
    struct ev_loop *loop;
    struct config cfg;
    char *config_path;
    struct sign_keyring keys;
    struct ssl_ctx_st *tls_ctx; /* NULL when no TLS listener is configured */
    struct listener *listeners;
    size_t n_listeners;
    struct chan_registry chans;
    struct list_node conns;
    struct list_node pending;
    struct list_node backlog; /* conns with a big fan-out's deliveries: a slice per turn */
    ev_idle backlog_idle;     /* active while the backlog holds any */
    /* m.deliveries_queued at the end of each turn, for the publish port's
     * worker (worker_fanout_behind) */
    _Atomic size_t queued_shared;
    struct conn **parked; /* conns whose request waits for the backlog (conn_park) */
    size_t n_parked, cap_parked;
    ev_timer park_timer; /* while any is parked: looks whether they may go */
    struct list_node closing;
    struct list_node timers[TL_COUNT];
    struct list_node stalled; /* conns whose writes block, oldest stall first */
    size_t in_large;          /* input held past one read chunk per conn (max-input-memory) */
    size_t out_budget;        /* max-output-memory in bytes, all workers together */
    ev_prepare before_sleep;
    ev_timer tick;
    ev_signal sigterm, sigint, sighup;
    ev_timer shutdown_timer;
    bool shutting_down;
    double started;
    uint32_t start_time;  /* the mid prefix */
    uint64_t mid_counter; /* the mid suffix */
    uint64_t seq;         /* fan-out sequence */
    uint32_t tag_second;  /* push-stream tag: counter within one second */
    uint16_t tag;
    char unique_id[17];
    const struct store_ops *store;
    struct journal *journal;   /* the journal store's state */
    ev_timer sync_timer;       /* batched journal-sync */
    struct redis_store *redis; /* the Redis store's state */
    struct pub_ack *pub_ack;   /* the publish request being served, if it waits for acks */
    struct publish_later *later, **later_tail; /* fan-outs for the turn's end */
    size_t later_announced; /* the deliveries they will queue */
    char node_name[65];        /* node-name, or the host name */
    struct metrics m;
    /* what the layers above hand down, so that those below never call up:
     * the request router (http_request.c calls it) and the store's way
     * back into fan-out, catch-up and acknowledgements */
    void (*on_request)(struct conn *c, const struct http1_request *req, const uint8_t *body,
                       size_t len);
    /* whether a complete request must wait for the fan-outs before it,
     * and whether they are behind (parked requests wait while they are) */
    bool (*request_waits)(struct conn *c, const struct http1_request *req);
    bool (*fanout_behind)(struct server *s);
    const struct store_hooks *store_hooks;
    /* workers (worker.h): hub is NULL with one, and home is this server */
    struct hub *hub;
    struct server *home;            /* the first worker: store, mids, publish port, signals */
    struct addr_table *addrs;       /* home's: connections per client address, all workers */
    struct lastseen *reported_seen; /* home's: last-seen times the site reported (V5) */
    unsigned worker;                /* index in hub->w */
    struct xq inbox;                /* work from the other workers (fan-out, DELETE, reload...) */
    bool store_dirty;               /* published this turn: the store writes before any answer */
    uint64_t wake;                  /* workers whose inbox got work this turn (bit per worker) */
    pthread_t thread;
};

int server_init(struct server *s, struct ev_loop *loop, struct config *cfg, char *err,
                size_t errlen);
void server_deinit(struct server *s);
/* Applies a reloaded config (takes ownership of cfg on success). */
void server_reload(struct server *s, struct config *cfg);
void server_shutdown(struct server *s);
/* Sets up worker `id` (not the first) to mirror home: a config copy, its own
 * loop, the histories shared by reference, and its own listening sockets on
 * home's subscribe addresses. Main thread, before the workers run. */
int server_init_worker(struct server *s, struct server *home, unsigned id, char *err,
                       size_t errlen);
/* Applies a config that home already checked: ctx (a reference the callee
 * takes, or NULL) replaces the TLS context. Each worker, on its thread. */
void server_apply_config(struct server *s, struct config *cfg, struct ssl_ctx_st *ctx);
/* Creates workers 1..n-1 and starts their threads. Main thread, after
 * server_init of home and before privileges are dropped (their listening
 * sockets join home's ports). Returns 0 or -1 with err. */
int server_start_workers(struct server *home, char *err, size_t errlen);
/* After home's loop has ended: waits for the other workers (each stops
 * once its connections are closed or its shutdown timeout passes), then
 * frees them and the hub. */
void server_stop_workers(struct server *home);

void server_keyring_load(struct sign_keyring *kr, const struct config *cfg);
void server_keyring_free(struct sign_keyring *kr);

#endif
