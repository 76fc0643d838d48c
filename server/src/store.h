/* Where published messages are kept beyond the channels' in-memory history.
 * One vtable per back end (nchan's store idea): the in-memory store keeps
 * nothing more (the default); the journal store appends every message to
 * disk before it is acknowledged and replays it at start; the Redis store
 * makes several nodes one server (store_redis.c). */
#ifndef PULLBOX_STORE_H
#define PULLBOX_STORE_H

#include "first.h"

struct server;
struct msg;
struct conn;
struct cluster_node_info;
struct pub_ack;

/* The store's way back up: what a store that fans out, fetches or confirms
 * later calls when it has something (server.c hands these down in
 * s->store_hooks), so that no store calls the layers above by name. */
struct store_hooks {
    /* deliver m to the local subscribers of ids[0..n) */
    void (*fanout)(struct server *s, struct msg *m, char *const *ids, size_t n);
    /* the catch-up fetched for c (see sub_catchup_finish) */
    void (*catchup_finish)(struct conn *c, struct msg **fetched, size_t n, bool ok);
    /* every subscriber here resumes by mid (a gap in the fan-out) */
    void (*resume_all)(struct server *s, uint16_t code, const char *reason);
    /* one more message of the request being served awaits confirmation
     * (see pub_ack_hold), and its confirmation came (pub_ack_done) */
    struct pub_ack *(*ack_hold)(struct server *s);
    void (*ack_done)(struct server *s, struct pub_ack *a, bool ok);
};

/* What /server-stat/ and /metrics show of a store that has more to say. */
struct store_stats {
    bool cluster;           /* several nodes share this store */
    bool connected;         /* the command connection is up */
    bool subscribed;        /* the fan-out subscription is up */
    unsigned inflight;      /* publishes sent, not yet confirmed */
    unsigned inflight_max;  /* beyond it publishes answer 503 */
    uint64_t reconnects;    /* connections made after the first, both kinds */
    uint64_t failures;      /* publishes refused or lost */
    uint64_t fetches;       /* catch-ups read from the store */
    uint64_t gaps;          /* fan-out gaps that made subscribers resume */
    const char *last_error; /* "" when none */
};

struct store_ops {
    const char *name;
    /* Loads what the store holds into the channel histories at start.
     * Returns 0 or -1 with err. */
    int (*open)(struct server *s, char *err, size_t errlen);
    /* A message is about to be delivered to the channels ids[0..n). */
    void (*publish)(struct server *s, const struct msg *m, char *const *ids, size_t n);
    /* The channels' history was dropped (DELETE). */
    void (*delete_channels)(struct server *s, char *const *ids, size_t n);
    /* False while the store cannot take messages (publishes answer 503). */
    bool (*writable)(const struct server *s);
    /* Before the loop sleeps, i.e. before any acknowledgement is written. */
    void (*before_sleep)(struct server *s);
    /* About four times a second. */
    void (*tick)(struct server *s, double now);
    void (*close)(struct server *s);
    /* The store delivers what is published itself, once it has it (Redis:
     * every node, the publishing one too, delivers from the cluster feed),
     * so publish() leaves the local fan-out to it (hooks->fanout). */
    bool fans_out;
    /* The 503 body while writable() is false. */
    const char *refusal;
    /* Optional. Catch-up by mid beyond what the local histories hold:
     * returns true when the store fetches it; the connection then waits
     * (CONN_F_CATCHUP) until the store calls hooks->catchup_finish. */
    bool (*fetch)(struct server *s, struct conn *c, const char *mid);
    /* Optional. c stops waiting for a fetch (it closes, or its poll ended). */
    void (*forget)(struct server *s, struct conn *c);
    /* Optional. */
    void (*stats)(const struct server *s, struct store_stats *st);
    /* Optional. What the other nodes know of a channel: their subscribers
     * and when the last one left (cluster-wide online status). False when
     * none of them knows it. */
    bool (*chan_info)(struct server *s, const char *id, size_t len, unsigned *subs,
                      double *last_seen);
    /* Optional. The other nodes (cluster.h); their number. */
    size_t (*nodes)(struct server *s, const struct cluster_node_info **out);
};

extern const struct store_ops store_mem_ops;
extern const struct store_ops store_journal_ops;
extern const struct store_ops store_redis_ops;

#endif
