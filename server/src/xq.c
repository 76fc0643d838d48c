#include "first.h"

#include "xq.h"

void xq_init(struct xq *q, struct ev_loop *loop, void (*cb)(struct ev_loop *, ev_async *, int),
             void *data)
{
    pthread_mutex_init(&q->mu, NULL);
    q->head = NULL;
    q->tail = &q->head;
    q->loop = loop;
    ev_async_init(&q->wake, cb);
    q->wake.data = data;
    ev_async_start(loop, &q->wake);
}

static struct xq_item *take_all(struct xq *q)
{
    pthread_mutex_lock(&q->mu);
    struct xq_item *list = q->head;
    q->head = NULL;
    q->tail = &q->head;
    pthread_mutex_unlock(&q->mu);
    return list;
}

void xq_deinit(struct xq *q)
{
    ev_async_stop(q->loop, &q->wake);
    for (struct xq_item *it = take_all(q), *next; it; it = next) {
        next = it->next;
        it->run(NULL, it);
    }
    pthread_mutex_destroy(&q->mu);
}

void xq_push(struct xq *q, struct xq_item *it, bool wake)
{
    it->next = NULL;
    pthread_mutex_lock(&q->mu);
    *q->tail = it;
    q->tail = &it->next;
    pthread_mutex_unlock(&q->mu);
    /* libev coalesces: many sends before the owner wakes are one wakeup */
    if (wake)
        ev_async_send(q->loop, &q->wake);
}

size_t xq_run(struct xq *q, struct server *s)
{
    size_t n = 0;
    /* items queued by the handlers themselves wait for the next round, so
     * one busy producer cannot keep the owner here forever */
    for (struct xq_item *it = take_all(q), *next; it; it = next) {
        next = it->next;
        it->run(s, it);
        n++;
    }
    return n;
}
