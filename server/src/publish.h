/* Publishing (publish.c): a message made, handed to the store and fanned
 * out to the local subscribers of its channels. */
#ifndef PULLBOX_PUBLISH_H
#define PULLBOX_PUBLISH_H

#include "first.h"

struct msg;
struct server;

/* A fan-out publish() left for the end of the turn. */
struct publish_later {
    struct publish_later *next;
    struct msg *m;
    char **ids; /* strv_copy */
    size_t n;
    size_t announced; /* its channels' subscribers then: in s->later_announced */
};

/* A channel with at most this many subscribers here has a message written
 * to all of them in the turn it came (most of a portal's channels: a user's
 * own, a chat's). A bigger one goes on the backlog, written a time slice
 * per loop turn, so that a fan-out to every online user does not hold up
 * the answers to the Bitrix server. */
#define PUBLISH_WRITE_NOW 256

/* False while the store refuses messages; the caller answers 503. */
bool publish_writable(const struct server *s);
struct msg *publish_new_message(struct server *s, const void *body, size_t len, uint32_t expiry);
/* Publishes m to every channel id in ids: the store keeps it, each channel
 * stores it in its history and every subscriber gets it queued once. */
void publish(struct server *s, struct msg *m, char *const *ids, size_t n);
/* The fan-outs publish() left for the end of the turn, in order (one loop
 * and a store that does not fan out itself). */
void publish_run_later(struct server *s);
/* The local part of a publish: each channel stores m in its history and
 * every subscriber here gets it queued once (stores that fan out call it,
 * through their hooks, and so does every worker for its own subscribers). */
void publish_fanout(struct server *s, struct msg *m, char *const *ids, size_t n);

#endif
