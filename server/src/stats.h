/* Observability on the publish port: /server-stat/, /health, /metrics. */
#ifndef PULLBOX_STATS_H
#define PULLBOX_STATS_H

#include "first.h"

struct buf;
struct server;

/* Appends the /server-stat/ JSON array (one object: this process). */
void stats_json(struct server *s, struct buf *out);

#endif
