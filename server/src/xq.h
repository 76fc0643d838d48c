/* The cross-thread queue: how one worker hands work to another. Any thread
 * appends (a mutex around two pointer writes, then ev_async_send to wake the
 * owner); only the owning worker takes, the whole list at once, so that
 * everything that arrived during one loop turn is run in one batch and the
 * deliveries it queues leave in one flush. */
#ifndef PULLBOX_XQ_H
#define PULLBOX_XQ_H

#include "first.h"

#include <ev.h>
#include <pthread.h>

struct server;
struct xq_item;

/* Runs on the owning worker; the handler owns (and frees) the item. With s
 * NULL the worker is gone: the handler only frees. */
typedef void xq_fn(struct server *s, struct xq_item *it);

struct xq_item {
    struct xq_item *next;
    xq_fn *run;
};

struct xq {
    pthread_mutex_t mu;
    struct xq_item *head, **tail;
    struct ev_loop *loop; /* the owner's loop, woken by ev_async_send */
    ev_async wake;
};

/* Sets up q for the worker whose loop is `loop`; cb is the ev_async callback
 * (it calls xq_run). Starts the watcher. */
void xq_init(struct xq *q, struct ev_loop *loop, void (*cb)(struct ev_loop *, ev_async *, int),
             void *data);
/* Stops the watcher and frees what is still queued (their handlers run with
 * s NULL). Only once no other thread pushes. */
void xq_deinit(struct xq *q);
/* Appends it (ownership passes to the queue). wake: also wake the owner
 * (false when the caller is the owner and drains before it sleeps). Any
 * thread. */
void xq_push(struct xq *q, struct xq_item *it, bool wake);
/* Runs everything queued so far, in order. Owner only. Returns the count. */
size_t xq_run(struct xq *q, struct server *s);

#endif
