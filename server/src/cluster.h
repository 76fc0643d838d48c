/* What this node knows of the other nodes of a Redis cluster: who is alive,
 * their /server-stat/ figures, and which channels they have subscribers on.
 *
 * Nodes tell each other over the cluster feed (store_redis.c sends and
 * receives; this file keeps the table and encodes/decodes the frames):
 *   'H' heartbeat, every CLUSTER_HEARTBEAT s: the sender's id, then its
 *       /server-stat/ object (JSON text);
 *   'P' presence: the sender's id, then per changed channel its subscriber
 *       count and, when that is 0, when the last one left; count and time
 *       both 0 mean the sender forgot the channel;
 *   'Q' hello: a node (re)joined the feed and knows nothing: everyone sends
 *       it their whole presence.
 * Values are absolute, not deltas, and one node's frames arrive in the order
 * it sent them, so a frame can be resent or repeated without harm.
 *
 * Channel stats and last-seen questions are then answered from memory on
 * every node (PHP asks "who of these is online" on many requests; a Redis
 * round trip each would put Redis on that path). A node that stops sending
 * heartbeats for CLUSTER_DEAD_AFTER s is dead: its subscribers count as
 * having left at its last heartbeat, and it is forgotten after online-grace
 * more. A restarted node has a new id, so nothing it said before lingers. */
#ifndef PULLBOX_CLUSTER_H
#define PULLBOX_CLUSTER_H

#include "first.h"

struct buf;
struct cluster;

#define CLUSTER_HEARTBEAT 2.0   /* seconds between heartbeats */
#define CLUSTER_DEAD_AFTER 10.0 /* seconds without one: the node is gone */
#define CLUSTER_ID_MAX 64       /* a node id's bytes (the frames give it a u8 length) */

/* What one other node last said about itself. */
struct cluster_node_info {
    const char *id;
    const char *stats_json; /* its /server-stat/ object, "" before its first heartbeat */
    double last_heard;
    bool alive;
};

/* self_id: this node's id (its own frames come back on the feed and are
 * skipped). grace: online-grace in seconds. */
struct cluster *cluster_new(const char *self_id, double grace);
void cluster_free(struct cluster *cl);
/* Forgets every other node (the feed was interrupted: say hello again). */
void cluster_reset(struct cluster *cl);

/* Takes one frame from the feed (its first byte is 'H', 'P' or 'Q').
 * Returns true when the sender asked for everyone's presence (a hello from
 * another node); false otherwise, also for a malformed frame (logged). */
bool cluster_on_frame(struct cluster *cl, const uint8_t *p, size_t len, double now);

/* Frames this node sends. A presence frame is begun, gets entries, and is
 * sent when it reaches CLUSTER_FRAME_MAX or the batch ends. */
#define CLUSTER_FRAME_MAX 65536
void cluster_frame_hello(struct buf *out, const char *self_id);
void cluster_frame_heartbeat(struct buf *out, const char *self_id, const char *stats,
                             size_t stats_len);
void cluster_frame_presence_begin(struct buf *out, const char *self_id);
void cluster_frame_presence_add(struct buf *out, const char *id, size_t len, uint32_t subs,
                                uint32_t last_seen);

/* The other nodes' view of a channel: subscribers on live nodes, and when
 * the last one left anywhere (dead nodes' subscribers left at their last
 * heartbeat). False when no other node knows it. */
bool cluster_chan_info(const struct cluster *cl, const char *id, size_t len, unsigned *subs,
                       double *last_seen);

/* Marks nodes dead and forgets the long dead; call about once a second. */
void cluster_sweep(struct cluster *cl, double now);

/* The other nodes, in the order they were first heard; valid until the
 * next call into cl. Returns their number. */
size_t cluster_nodes(struct cluster *cl, const struct cluster_node_info **out);
/* Channels known on other nodes (for tests and /metrics). */
size_t cluster_channels(const struct cluster *cl);

#endif
