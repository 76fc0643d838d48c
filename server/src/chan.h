/* The channel registry: channels by id, each with its subscribers (links
 * owned by the subscribing connection) and a bounded history of messages for
 * catch-up by mid. A channel lives while it has subscribers, history, or a
 * recent subscriber (for online status), and is freed by chan_sweep. */
#ifndef PULLBOX_CHAN_H
#define PULLBOX_CHAN_H

#include "first.h"
#include "buf.h"
#include "list.h"

struct msg;
struct conn;
struct presence;

struct chan {
    struct chan *hnext; /* hash chain */
    uint32_t hash;
    struct list_node subs; /* struct sub_link.chan_node, oldest first */
    unsigned n_subs;
    struct msg **hist; /* ring of history_length slots, allocated on first message */
    unsigned hist_head, hist_len, hist_cap;
    unsigned hist_client; /* of them published by clients (client_history_length) */
    unsigned heap_pos;    /* 1 + index in the registry's age heap; 0: no history */
    double last_seen; /* when the last subscriber left; 0 = never subscribed */
    uint64_t published;
    struct list_node pres_node;  /* on the registry's pres_dirty list when pres_dirty */
    uint32_t pres_subs, pres_seen; /* what the cluster was last told (chan_presence_drain) */
    bool pres_dirty;
    uint16_t id_len;
    char id[];
};

/* A subscription: one per (connection, channel), on both sides' lists. */
struct sub_link {
    struct list_node chan_node;
    struct chan *ch;
    struct conn *c;
    uint64_t stamp; /* with workers: orders subscriptions across them (presence.h) */
};

struct chan_registry {
    struct chan **buckets;
    size_t n_buckets; /* power of two */
    size_t n_chans;
    size_t sweep_pos; /* next bucket chan_sweep looks at */
    unsigned history_length;
    unsigned client_history_length; /* client-published messages kept per channel */
    uint32_t message_ttl;
    /* The memory budget of all histories: the bytes of the messages they
     * hold (a message in two channels counts twice, so the figure is an
     * upper bound). Beyond the budget the channel whose oldest message is
     * the oldest of all gives it up, found at the top of a min-heap of the
     * channels with history, ordered by the mid of their oldest message.
     * With workers every registry holds the same histories (each stores
     * every message, sharing it), so each applies the whole budget and they
     * evict the same messages. */
    size_t hist_budget; /* 0: none */
    size_t hist_bytes;
    uint64_t hist_evicted, hist_evicted_bytes; /* by the budget (/metrics) */
    struct chan **heap;
    size_t heap_n, heap_cap;
    double online_grace;
    struct presence *presence; /* with workers: subscriptions are also counted there */
    unsigned worker;           /* this registry's worker, for presence */
    /* with a cluster store: channels whose subscriber count changed since the
     * last chan_presence_drain, and the ids of those freed meanwhile */
    bool track_presence;
    struct list_node pres_dirty;
    struct buf pres_gone; /* (u8 length, id) each */
};

/* Called by chan_presence_drain per channel whose state the cluster should
 * learn: subscribers, and when it is 0 the unix second the last one left;
 * 0 and 0 for a channel forgotten here. */
typedef void chan_presence_fn(void *arg, const char *id, size_t len, uint32_t subs,
                              uint32_t last_seen);

void chan_registry_init(struct chan_registry *r, unsigned history_length, uint32_t message_ttl,
                        double online_grace);
void chan_registry_deinit(struct chan_registry *r);
/* Finds a channel; with create, makes it when missing. NULL when absent. */
struct chan *chan_get(struct chan_registry *r, const char *id, size_t len, bool create);
/* Appends a subscriber link (fills link->ch). */
void chan_subscribe(struct chan_registry *r, struct chan *ch, struct sub_link *link,
                    struct conn *c);
/* Moves a subscriber link to new memory, keeping its place in the channel. */
void chan_move_link(struct sub_link *to, struct sub_link *from);
/* Removes a link; records last_seen when the last subscriber leaves. */
void chan_unsubscribe(struct chan_registry *r, struct sub_link *link, double now);
/* Sets the history memory budget (bytes, 0: none; applied at once) and how
 * many client-published messages a channel keeps. */
void chan_registry_limit(struct chan_registry *r, size_t budget, unsigned client_history_length);
/* The history budget for the history-memory setting (memory_budget). */
size_t chan_history_budget(long mib);
/* What a message held in one history counts against the budget. */
size_t chan_msg_cost(const struct msg *m);
/* Stores a message reference in the channel's history: drops the channel's
 * oldest when it is full (or its oldest client message, for one from a
 * client beyond client_history_length), then the oldest of all histories
 * while the budget is exceeded (possibly m itself: it was delivered live). */
void chan_store(struct chan_registry *r, struct chan *ch, struct msg *m);
/* Drops the channel's history. */
void chan_clear_history(struct chan_registry *r, struct chan *ch);
/* True when a subscriber is connected or left within online_grace. */
bool chan_is_online(const struct chan_registry *r, const struct chan *ch, double now);
/* Calls fn for each message of the history newer than mid (NULL = none),
 * oldest first, at most max of the newest ones; skips expired messages. */
void chan_history_after(const struct chan *ch, const char *mid, unsigned max, double now,
                        void (*fn)(struct msg *m, void *arg), void *arg);
/* The newest unexpired message, or NULL. */
struct msg *chan_newest(const struct chan *ch, double now);
/* Looks at up to `budget` buckets: drops expired history and frees channels
 * with nothing left. Call periodically. */
void chan_sweep(struct chan_registry *r, double now, size_t budget);
/* Gives dst (a new worker's registry) the histories of src, sharing the
 * messages (which are frozen for it: see msg_freeze). */
void chan_copy_histories(struct chan_registry *dst, const struct chan_registry *src);
/* Frees ch now if nothing keeps it. */
void chan_release_if_unused(struct chan_registry *r, struct chan *ch, double now);
/* With track_presence: reports what changed since the last call (only
 * channels whose told state differs) and forgets the changes. */
void chan_presence_drain(struct chan_registry *r, chan_presence_fn *fn, void *arg);
/* Marks every channel with subscribers or a last-seen time as changed, so
 * the next drain reports the whole state (a node joined the cluster). */
void chan_presence_mark_all(struct chan_registry *r);

#endif
