/* The connection gauges other workers read (gauges.c): stored by the
 * worker that owns the connections as they change. */
#ifndef PULLBOX_GAUGES_H
#define PULLBOX_GAUGES_H

#include "first.h"

struct server;

/* Stores this worker's connection gauges (s->m.n_*) where the others read them. */
void gauges_changed(struct server *s);
/* A subscriber of format fmt (enum conn_fmt) came (+1) or went (-1). */
void gauges_count_format(struct server *s, unsigned fmt, int delta);

#endif
