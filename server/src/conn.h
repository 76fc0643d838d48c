/* A connection: its socket (plain or TLS), input buffer, output queue,
 * write scheduling (the pending list, and the backlog a big fan-out is
 * written from a slice per loop turn), timeouts and deferred close. What
 * its bytes mean is the protocol's business (c->tp: HTTP requests first,
 * then maybe a subscriber transport), and this layer calls it only through
 * that table. */
#ifndef PULLBOX_CONN_H
#define PULLBOX_CONN_H

#include "first.h"

#include <ev.h>

#include "addrlimit.h"
#include "buf.h"
#include "http1.h"
#include "list.h"
#include "outq.h"

struct msg;

enum conn_role { ROLE_SUBSCRIBE, ROLE_PUBLISH };
/* CONN_SUB: a subscriber transport (c->tp) owns the connection.
 * CONN_PUBWAIT: a publish waits for the store (Redis) to confirm it; the
 * connection reads no further request until it is answered. */
enum conn_state { CONN_HTTP, CONN_SUB, CONN_PUBWAIT };
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
#define CONN_F_BACKLOG (1u << 13)     /* (with PENDING) on the backlog: a big fan-out's rest */
#define CONN_F_PARKED (1u << 14)      /* a request waits for the fan-outs before it (conn_park) */

struct listener;
struct pub_ack;
struct server;
struct sub_link;
struct ssl_st;
struct transport_ops;

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
    struct list_node flush_node; /* server.pending or server.backlog */
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
    /* the subscriber transport (CONN_SUB; a WebSocket also while it closes
     * after a refused subscription) and its own state */
    const struct transport_ops *tp;
    void *tp_state;
    /* what a transport with input hands up: a complete message from the
     * client (set by whoever subscribed it) */
    void (*on_message)(struct conn *c, bool binary, uint8_t *p, size_t n);
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

/* A piece of output: bytes owned by message m (kept by reference if they
 * cannot be written at once), or, with m NULL, bytes that are copied. */
struct conn_piece {
    const void *p;
    size_t len;
    struct msg *m;
};

/* Takes fd on as a connection of l. peer, when not NULL, is the address
 * key it was counted under in home's table (released when it closes). */
void conn_accept(struct listener *l, int fd, const struct addr_key *peer);
/* Queues bytes and schedules a flush before the loop sleeps. */
void conn_send(struct conn *c, const void *p, size_t n);
/* Writes the pieces now when nothing is queued ahead of them (one writev,
 * no copies), and queues whatever the socket did not take. */
void conn_send_pieces(struct conn *c, const struct conn_piece *v, size_t n);
void conn_schedule_flush(struct conn *c);
/* Schedules a flush on the backlog, which is written a slice per loop
 * turn after everything else (the rest of a big fan-out); anything that
 * schedules c the usual way meanwhile takes it off the backlog. */
void conn_schedule_backlog(struct conn *c);
/* Sets up s's backlog (before the loop runs). */
void conn_backlog_init(struct server *s);
/* The request at the front of c's input waits, unread, until the fan-outs
 * queued before it have caught up (s->fanout_behind): then it is served as
 * if it had just come. */
void conn_park(struct conn *c);
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
/* Before the loop sleeps: prepare(c) turns c's queued deliveries into
 * output (the subscription layer's sub_flush), then every pending
 * connection is written. */
void conn_flush_all(struct server *s, void (*prepare)(struct conn *c));
/* The turn's first flush, before conn_flush_all: drops the connections
 * holding the most past max-output-memory, then writes the pending list
 * only (the answers, before the turn's fan-outs are queued). */
void conn_flush_pending(struct server *s, void (*prepare)(struct conn *c));
void conn_reap(struct server *s);
void conn_tick(struct server *s, double now);
/* Continues with buffered input (after a long poll ended, for example). */
void conn_process_input(struct conn *c);

#endif
