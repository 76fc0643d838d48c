/* Worker threads: one libev loop per core, each with its own subscribe
 * sockets (SO_REUSEPORT), connections, timers, channel table and history.
 *
 * The first worker (home) keeps what must be one: the store, mid
 * assignment, the publish port, the signals. A publish made on any worker
 * takes the hub's publish mutex for a few microseconds: it gets its mid,
 * goes to the store, is encoded in every format a subscriber uses (then it
 * is frozen: read-only from there on, see msg_freeze) and is appended to
 * every worker's inbox, its own included. Because every inbox is filled
 * under that one mutex, every worker sees the messages in mid order and
 * keeps the same history. A worker drains its inbox once per loop turn, so
 * a burst of publishes is one flush per subscriber; delivery takes no lock.
 *
 * Questions that span workers go to shared, lock-protected tables touched
 * only on subscribe/unsubscribe (presence.h) or once per loop turn (the
 * stats snapshots), never on delivery. */
#ifndef PULLBOX_WORKER_H
#define PULLBOX_WORKER_H

#include "first.h"

#include "msg.h"
#include "server.h"
#include "transport.h"

#include <pthread.h>
#include <stdatomic.h>

struct presence;

/* A worker's connection gauges, stored by that worker as they change and read
 * by whoever answers /server-stat/: the counters in snap are a turn old, and
 * a client that has just had its answer must not still be counted. One
 * cache line each, so the stores do not bounce between CPUs. */
struct worker_gauges {
    _Alignas(64) atomic_uint subs[TRANSPORT_MAX]; /* by transport_ops.id */
    atomic_uint conns;
};

struct hub {
    unsigned n;
    struct server **w; /* w[0] is home */
    /* one publish (or DELETE) at a time: mids, the store, inbox order */
    pthread_mutex_t pub_mu;
    struct presence *presence;
    /* deliveries the fan-outs in the inboxes will queue (their channels'
     * subscribers when published), until every worker has run them */
    atomic_size_t announced;
    atomic_uint n_client_conns;            /* max-connections counts all workers */
    atomic_int fmt_users[MSG_ENC_COUNT];   /* subscribers per wire format */
    struct worker_gauges *live;            /* each worker's gauges, as they change */
    pthread_mutex_t stats_mu;              /* guards snap */
    struct metrics *snap;                  /* each worker's figures, as of its last turn */
    size_t *snap_chans;
};

/* Workers for cfg: its `workers` key, 0 meaning one per CPU the process may use; 1 with
 * the Redis store (one feed subscription and one command connection per
 * node: a cluster grows by nodes). */
unsigned worker_count(const struct config *cfg);
/* Makes the hub for n workers with home as the first (before home opens
 * its listeners and store). */
void worker_hub_new(struct server *home, unsigned n);
/* Sets up s's inbox on its loop (every worker, home too). */
void worker_inbox_init(struct server *s);
/* Frees the hub: home's server_deinit, once every worker has stopped. */
void worker_hub_free(struct server *home);

/* How a worker delivers a message to its own subscribers of ids[0..n). */
typedef void worker_fanout_fn(struct server *s, struct msg *m, char *const *ids, size_t n);
/* Closes the oldest subscriber of channel id on worker s; false if none. */
typedef bool worker_evict_fn(struct server *s, const char *id);

/* Whether the fan-outs queued on the workers are behind: more deliveries
 * wait to be written, in all, than a fraction of a second writes. */
bool worker_fanout_behind(struct server *s);
/* Subscribers of channel id on this node's workers (none: 0). */
unsigned worker_local_subs(struct server *s, const char *id, size_t len);
/* Publishes m (its mid, seq and tag are given here) to ids[0..n): the
 * store keeps it and every worker delivers it with fanout. Borrows m and
 * ids. */
void worker_publish(struct server *s, struct msg *m, char *const *ids, size_t n,
                    worker_fanout_fn *fanout);
/* DELETE: the store and every worker drop the channels' histories. */
void worker_delete(struct server *s, char *const *ids, size_t n);
/* The store's writable(), asked under the publish mutex. */
bool worker_store_writable(struct server *s);
void worker_store_lock(struct server *s);
void worker_store_unlock(struct server *s);
/* Before the loop sleeps, first: lets the store write what this worker
 * published (before any answer goes out). */
void worker_store_before_sleep(struct server *s);
/* Then, once the answers are out: runs the inbox (the fan-outs). */
void worker_run_inbox(struct server *s);
/* Last thing before the loop sleeps: posts this worker's figures for the
 * stats, as they stay while it sleeps, and wakes the workers it gave work. */
void worker_post_stats(struct server *s);
/* Home, four times a second: forgets channels long left. */
void worker_tick(struct server *s, double now);
/* Channel id across every worker: false when unknown; else its
 * subscribers and when the last one left (0: never). */
bool worker_chan_info(struct server *s, const char *id, size_t len, unsigned *subs,
                      double *last_seen);
/* Makes room on channel id for one more subscriber under limit, closing
 * the oldest ones (with evict), on whichever worker they are. */
void worker_enforce_limit(struct server *s, const char *id, unsigned limit,
                          worker_evict_fn *evict);
/* The figures of every worker (this one's live, the others' as of their
 * last loop turn): per[0..n) when not NULL (caller frees), the sum in sum,
 * and the channels held. Returns the number of workers. */
unsigned worker_stats(struct server *s, struct metrics *sum, struct metrics **per,
                      size_t *channels);

#endif
