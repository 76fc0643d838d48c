/* The server: listeners, connections, the channel registry and the hooks
 * that run once per loop iteration, all on one libev loop. With several
 * workers (worker.h) there is one struct server per worker thread, each
 * touched by its own thread only; the first (`home`) also owns the store,
 * the publish port and the signals. */
#ifndef PULLBOX_SERVER_H
#define PULLBOX_SERVER_H

#include "first.h"

#include <ev.h>

#include "addrlimit.h"
#include "buf.h"
#include "chan.h"
#include "config.h"
#include "list.h"
#include "outq.h"
#include "http1.h"
#include "sign.h"
#include "xq.h"

#include <pthread.h>

struct msg;

enum conn_role { ROLE_SUBSCRIBE, ROLE_PUBLISH };
/* CONN_PUBWAIT: a publish waits for the store (Redis) to confirm it; the
 * connection reads no further request until it is answered. */
enum conn_state { CONN_HTTP, CONN_LONGPOLL, CONN_WS, CONN_SSE, CONN_PUBWAIT };
enum conn_fmt { FMT_TEXT, FMT_PB, FMT_JSONRPC, FMT_SSE };

/* Ordered timeout lists: every member of one list has the same interval, so
 * appending keeps a list sorted and the tick only looks at list heads. */
enum tlist {
    TL_NONE = -1,
    TL_IDLE,
    TL_HEADER,
    TL_HANDSHAKE,
    TL_LONGPOLL,
    TL_PING,
    TL_RPC_PING,
    TL_CLOSING,
    TL_COUNT
};

#define CONN_F_CLOSING (1u << 0)      /* on the close list; freed before the loop sleeps */
#define CONN_F_CLOSE_AFTER (1u << 1)  /* close once the output queue is written */
#define CONN_F_PEER_EOF (1u << 2)     /* the peer shut its side */
#define CONN_F_PENDING (1u << 3)      /* on the pending-flush list */
#define CONN_F_WRITING (1u << 4)      /* EV_WRITE watcher active */
#define CONN_F_PING_OUT (1u << 5)     /* ping sent, no pong yet */
#define CONN_F_REQ_STARTED (1u << 6)  /* request head partly received */
#define CONN_F_KEEPALIVE (1u << 7)    /* current HTTP request keeps the connection */
#define CONN_F_COUNTED (1u << 8)      /* counted in the per-transport gauges */
#define CONN_F_TLS_HS (1u << 9)       /* TLS handshake not finished */
#define CONN_F_HEAD (1u << 10)        /* the current request is HEAD: no body */
#define CONN_F_CATCHUP (1u << 11)     /* subscribed, the store still fetches its catch-up */
#define CONN_F_READ_PAUSED (1u << 12) /* not read until its output drains (backpressure) */

struct ws_state;
struct journal;
struct pub_ack;
struct redis_store;
struct store_ops;
struct ssl_st;
struct ssl_ctx_st;
struct hub;

struct conn {
    int fd;
    struct ssl_st *ssl; /* NULL on plain TCP */
    ev_io rio, wio;
    struct server *srv;
    uint8_t role, state, fmt;
    int8_t tlist;
    uint16_t flags;
    uint16_t n_links;
    struct list_node node;       /* server.conns */
    struct list_node timer_node; /* server.timers[tlist] */
    struct list_node flush_node; /* server.pending */
    struct list_node stall_node; /* server.stalled, while the socket takes nothing */
    double deadline;
    double stall_deadline; /* send-timeout: closed unless the peer reads by then */
    size_t out_mark;       /* queued as of the last flush or write: earlier turns, unread */
    size_t in_charged;     /* what this conn adds to srv->in_large */
    double since;          /* connected or subscribed at */
    struct buf in;
    struct outq out;
    struct sub_link *links;
    struct msg **pend; /* deliveries waiting for the next flush */
    uint32_t n_pend, cap_pend;
    size_t pend_bytes;
    uint64_t last_seq;    /* newest message queued here: one copy per fan-out */
    struct addr_key peer; /* counted in srv->home->addrs while peer_counted */
    bool peer_counted;
    char *user_id; /* V5 token subject */
    uint8_t pub_id[16];
    bool has_pub_id;
    /* client publishes: a token bucket (0 at: full, client-publish-burst) */
    double pub_tokens, pub_at;
    uint8_t http_minor;
    /* the mid the client resumed from: the 304's Last-Message-Id, and no live
     * delivery of it or anything older */
    char lp_mid[27];
    struct ws_state *ws;
    const char *close_reason;
    /* the request whose body is being read: the head is re-parsed once the
     * body is complete, since reads may move the input buffer */
    uint32_t head_len;
    uint32_t body_have; /* body bytes received (decoded, when chunked) */
    uint64_t body_need; /* Content-Length */
    bool body_chunked;
    bool in_body;
    struct http1_chunked_decoder chunked;
    /* waits on the store: both are let go before the conn is freed */
    struct pub_ack *ack; /* CONN_PUBWAIT: the publish being confirmed */
    void *store_wait;    /* CONN_F_CATCHUP: the store's fetch */
};

struct listener {
    ev_io w;
    int fd;
    enum conn_role role;
    bool tls;
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
    uint64_t http_requests;
    uint64_t http_errors;
    uint64_t client_publishes;
    uint64_t rpc_requests;
    uint64_t longpoll_timeouts;
    uint64_t tls_handshakes, tls_failures;
    unsigned n_longpoll, n_ws, n_sse, n_conns;
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
    struct list_node closing;
    struct list_node timers[TL_COUNT];
    struct list_node stalled; /* conns whose writes block, oldest stall first */
    size_t in_large;          /* input held past one read chunk per conn (max-input-memory) */
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
    char node_name[65];        /* node-name, or the host name */
    struct metrics m;
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

/* ---- server.c ---- */
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
/* Builds the next 26-digit mid. */
void server_next_mid(struct server *s, char out[27]);
/* Next push-stream tag for a message created at `created`. */
uint16_t server_next_tag(struct server *s, uint32_t created);
void server_keyring_load(struct sign_keyring *kr, const struct config *cfg);
void server_keyring_free(struct sign_keyring *kr);
/* False while the store refuses messages; the caller answers 503. */
bool server_can_publish(const struct server *s);

/* A piece of output: bytes owned by message m (kept by reference if they
 * cannot be written at once), or, with m NULL, bytes that are copied. */
struct conn_piece {
    const void *p;
    size_t len;
    struct msg *m;
};

/* ---- conn.c ---- */
/* Takes fd on as a connection of l. peer, when not NULL, is the address
 * key it was counted under in home's table (released when it closes). */
void conn_accept(struct listener *l, int fd, const struct addr_key *peer);
/* Queues bytes and schedules a flush before the loop sleeps. */
void conn_send(struct conn *c, const void *p, size_t n);
/* Writes the pieces now when nothing is queued ahead of them (one writev,
 * no copies), and queues whatever the socket did not take. */
void conn_send_pieces(struct conn *c, const struct conn_piece *v, size_t n);
void conn_schedule_flush(struct conn *c);
/* True while c has more output queued than it may have before its input is
 * read on: request and frame loops stop there, and reading resumes once the
 * peer has taken the output (backpressure). */
bool conn_output_full(const struct conn *c);
/* True when c may not hold `more` bytes of input beyond what it has: a
 * request or message larger than one read chunk, while this worker's share
 * of max-input-memory is taken (subscribe ports only). */
bool conn_input_budget_full(const struct conn *c, size_t more);
/* Closes now-ish: subscriptions go at once, memory when the loop is about
 * to sleep. reason is a static string (for the debug log). */
void conn_close(struct conn *c, const char *reason);
/* Closes after what is queued has been written (bounded by a timeout). */
void conn_close_after_write(struct conn *c);
void conn_set_timer(struct conn *c, enum tlist tl);
void conn_unsubscribe_all(struct conn *c);
/* Takes a subscriber out of the connection gauges (conn_unsubscribe_all does
 * it too): a long poll is uncounted before its answer is written. */
void conn_uncount(struct conn *c);
void conn_flush_all(struct server *s);
void conn_reap(struct server *s);
void conn_tick(struct server *s, double now);
/* Continues with buffered input (after a long poll ended, for example). */
void conn_process_input(struct conn *c);

/* ---- http.c: requests ---- */
/* Handles one parsed request; body is the complete body. */
void http_dispatch(struct conn *c, const struct http1_request *req, const uint8_t *body,
                   size_t body_len);
/* Response helpers: the standard headers (CORS, Content-Length, Connection)
 * are added here. extra_headers, if any, are complete "Name: value\r\n" lines. */
void http_respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len);
/* Bitrix error: status from the code (<1000: itself, 4000: 200, 4029: 429,
 * else 400), body "<code>: <text>". */
void http_respond_code(struct conn *c, int code, const char *text);
const char *http_code_text(int code);

/* ---- sub.c: subscriptions ---- */
void sub_handle(struct conn *c, const struct http1_request *req, bool websocket, bool eventsource);
/* Queues m for c unless it has it already from this fan-out. */
void sub_deliver(struct conn *c, struct msg *m);
/* Builds the wire data for the deliveries queued on c. */
void sub_flush(struct conn *c);
/* Closes the oldest subscriber here of channel id (4029); false if none. */
bool sub_evict_oldest(struct server *s, const char *id);
/* Long poll timed out: the 304 of Push server 2.0. */
void sub_longpoll_timeout(struct conn *c);
/* Publishes m to every channel id in ids: the store keeps it, each channel
 * stores it in its history and every subscriber gets it queued once. */
void sub_publish(struct server *s, struct msg *m, char *const *ids, size_t n);
/* The local part of a publish: each channel stores m in its history and
 * every subscriber here gets it queued once (stores that fan out call it). */
void sub_fanout(struct server *s, struct msg *m, char *const *ids, size_t n);
/* The store's catch-up for c arrived: fetched[0..n) (sorted by mid, newer
 * than c->lp_mid; references stay the caller's), or ok false when it could
 * not be read (the local histories serve instead). Merged with what arrived
 * live meanwhile, in mid order, each mid once. */
void sub_catchup_finish(struct conn *c, struct msg **fetched, size_t n, bool ok);
/* Mids of this run continue above counter (the journal's newest, replayed
 * at start): those below it count as issued. */
void sub_mids_continue(uint64_t counter);
/* Ends every subscription here so that clients resume by mid: WebSockets
 * close with `code`, long polls answer 304 with their mid. */
void sub_resume_all(struct server *s, uint16_t code, const char *reason);
struct msg *sub_new_message(struct server *s, const void *body, size_t len, uint32_t expiry);

/* ---- ws_conn.c ---- */
void wsconn_upgrade(struct conn *c, const struct http1_request *req);
void wsconn_read(struct conn *c);
void wsconn_send_frame(struct conn *c, uint8_t opcode, const void *p, size_t n);
void wsconn_close(struct conn *c, uint16_t code, const char *reason);
void wsconn_ping(struct conn *c);
void wsconn_free(struct conn *c);
/* Bytes a WebSocket holds for a message in fragments (0 for others). */
size_t wsconn_buffered(const struct conn *c);

/* ---- pub.c: publish side ---- */
void pub_handle(struct conn *c, const struct http1_request *req, const uint8_t *body, size_t len);
/* Untrusted protobuf RequestBatch from client connection c (POST
 * /bitrix/rest/ or a WebSocket binary frame). Returns 0 or a Bitrix error
 * code, or PUB_TOO_BIG / PUB_TOO_FAST with why naming the limit; out gets
 * the ResponseBatch to send back, if any. */
int pub_client_batch(struct conn *c, const uint8_t *pub_id, bool has_pub_id, const uint8_t *data,
                     size_t len, struct buf *out, char *why, size_t whylen);
/* The limits of untrusted publishes, refused as a whole: a message above
 * client-max-message-size (HTTP 413), or more than the connection's
 * publish bucket holds (client-publish-rate/-burst; HTTP 429). */
#define PUB_TOO_BIG 413
#define PUB_TOO_FAST 429
/* Checks n messages of the given body sizes that client connection c is
 * about to publish, and takes them from its bucket. Returns 0, or
 * PUB_TOO_BIG / PUB_TOO_FAST with why (< 120 bytes) naming the limit. */
int pub_client_admit(struct conn *c, const size_t *sizes, size_t n, char *why, size_t whylen);
/* A message a client publishes is kept client-message-ttl at most: caps
 * m's expiry (before it is published). */
void pub_client_expiry(const struct server *s, struct msg *m);
/* Untrusted publishes refused, by limit (PUB_TOO_BIG, PUB_TOO_FAST): for
 * /metrics, summed over every worker. */
uint64_t pub_client_refused(int limit);
void pub_handle_client(struct conn *c, const struct http1_request *req, const uint8_t *body,
                       size_t len);
/* For stores that confirm later: one more message of the request being
 * served awaits confirmation. Returns the request's ack (NULL when none is
 * being served, e.g. a WebSocket client publish: nobody waits). */
struct pub_ack *pub_ack_hold(struct server *s);
/* Starts a publish request whose answer waits for the store's
 * confirmation; NULL when the store confirms at once (no waiting). */
struct pub_ack *pub_ack_begin(struct server *s);
/* Makes an answer's body: malloc'ed text and its length; with len NULL it
 * only frees ctx (the answer is a 503, or nobody waits for it). */
typedef char *pub_ack_render_fn(void *ctx, size_t *len);
/* Answers the request of a (or at once when a is NULL) with a body made by
 * render once the store confirmed every message: the body can then hold
 * what the store assigned (a Redis cluster's mids). */
void pub_ack_respond_render(struct conn *c, struct pub_ack *a, int status, const char *ctype,
                            pub_ack_render_fn *render, void *ctx);
/* Answers the request of a with a 503 once its confirmed or lost messages
 * are settled: part of it was refused. */
void pub_ack_fail(struct conn *c, struct pub_ack *a);
/* The store kept (ok) or lost one message held with pub_ack_hold; the last
 * one answers the waiting request (503 if any was lost). */
void pub_ack_done(struct server *s, struct pub_ack *a, bool ok);
/* The waiting connection is going away: its answer is dropped. */
void pub_ack_forget(struct conn *c);

/* ---- rpc.c: V5 JSON-RPC ---- */
void rpc_handle_http(struct conn *c, const struct http1_request *req, const uint8_t *body,
                     size_t len);
/* A text frame from a V5 client. */
void rpc_handle_client_text(struct conn *c, const uint8_t *p, size_t n);

/* ---- stats.c ---- */
void stats_server_stat(struct conn *c);
void stats_health(struct conn *c);
void stats_metrics(struct conn *c);

#endif
