/* Where published messages are kept beyond the channels' in-memory history.
 * One vtable per back end (nchan's store idea): the in-memory store keeps
 * nothing more (the default); the journal store appends every message to
 * disk before it is acknowledged and replays it at start. The Redis store
 * for several nodes will plug in here too. */
#ifndef PULLBOX_STORE_H
#define PULLBOX_STORE_H

#include "first.h"

struct server;
struct msg;

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
};

extern const struct store_ops store_mem_ops;
extern const struct store_ops store_journal_ops;

#endif
