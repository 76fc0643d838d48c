/* The connection gauges other workers read: each worker stores its own as
 * they change (see struct worker_gauges). */
#include "first.h"

#include "gauges.h"
#include "msg.h"
#include "server.h"
#include "transport.h"
#include "worker.h"

void gauges_changed(struct server *s)
{
    if (!s->hub)
        return;
    struct worker_gauges *g = &s->hub->live[s->worker];
    /* release: a reader that sees a subscriber counted finds it registered */
    for (unsigned i = 0; i < TRANSPORT_MAX; i++)
        atomic_store_explicit(&g->subs[i], s->m.n_subs[i], memory_order_release);
    atomic_store_explicit(&g->conns, s->m.n_conns, memory_order_release);
}

void gauges_count_format(struct server *s, unsigned fmt, int delta)
{
    if (s->hub && fmt < MSG_ENC_COUNT)
        atomic_fetch_add_explicit(&s->hub->fmt_users[fmt], delta, memory_order_relaxed);
}
