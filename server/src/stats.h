/* Observability on the publish port: /server-stat/, /health, /metrics. */
#ifndef PULLBOX_STATS_H
#define PULLBOX_STATS_H

#include "first.h"

struct buf;
struct conn;
struct server;

/* Appends the /server-stat/ JSON array: this node's object first, then
 * those the other live nodes of a cluster sent in their last heartbeat. */
void stats_json(struct server *s, struct buf *out);
/* Appends this node's /server-stat/ object alone. */
void stats_node_json(struct server *s, struct buf *out);

/* A client publish was refused by client-max-message-size (too_big) or
 * client-publish-rate: counted for /metrics. Any worker. */
void stats_client_refused(bool too_big);
/* Answers on the publish port. */
void stats_server_stat(struct conn *c);
void stats_health(struct conn *c);
void stats_metrics(struct conn *c);

#endif
