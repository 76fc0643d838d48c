/* Who is subscribed where, across worker threads: per channel id, how many
 * subscriptions each worker holds, the stamp of each worker's oldest one,
 * and when the last one left. Each worker keeps its own channel table for
 * delivery; this table only answers the questions that span workers
 * (channel stats, online status, last seen, max-connections-per-channel).
 * It is written on subscribe and unsubscribe, never on delivery. Sharded,
 * one mutex per shard; every function is safe from any thread. */
#ifndef PULLBOX_PRESENCE_H
#define PULLBOX_PRESENCE_H

#include "first.h"

struct presence;

struct presence_slot {
    uint32_t n;    /* this worker's subscriptions to the channel */
    uint64_t head; /* stamp of its oldest one (valid when n > 0) */
};

struct presence *presence_new(unsigned n_workers);
void presence_free(struct presence *p);
/* A stamp that orders subscriptions across workers (smaller: older). */
uint64_t presence_stamp(struct presence *p);
/* Worker w gained a subscription to id. stamp: presence_stamp() of it. */
void presence_join(struct presence *p, unsigned w, const char *id, size_t len, uint64_t stamp);
/* Worker w lost one. next_head: the stamp of its oldest remaining one (when
 * it has any left). now: kept as last seen when the channel empties. */
void presence_leave(struct presence *p, unsigned w, const char *id, size_t len, double now,
                    uint64_t next_head);
/* What is known of id: false when nobody has subscribed to it within the
 * sweep horizon. slots, when not NULL, gets one entry per worker. */
bool presence_get(struct presence *p, const char *id, size_t len, unsigned *total,
                  double *last_seen, struct presence_slot *slots);
/* Forgets channels nobody has been subscribed to for `keep` seconds; looks
 * at one shard per call (call it periodically). */
void presence_sweep(struct presence *p, double now, double keep);
/* Channels in the table. */
size_t presence_count(struct presence *p);

#endif
