#include "first.h"

#include "worker.h"
#include "log.h"
#include "mid.h"
#include "presence.h"
#include "store.h"
#include "util.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKER_MAX 64

unsigned worker_count(const struct config *cfg)
{
    long n = cfg->workers;
    if (n == 0) {
        /* the CPUs this process may run on (taskset, cgroup cpusets), not
         * all the machine has: two loops on one pinned core only contend */
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                        : sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
            n = 1;
    }
    if (n > WORKER_MAX)
        n = WORKER_MAX;
    if (n > 1 && cfg->redis[0]) {
        log_info("workers: the Redis store runs one event loop (a cluster grows by nodes)");
        n = 1;
    }
    return (unsigned)n;
}

static void on_inbox(struct ev_loop *loop, ev_async *w, int revents);

void worker_inbox_init(struct server *s)
{
    xq_init(&s->inbox, s->loop, on_inbox, s);
}

static void on_inbox(struct ev_loop *loop, ev_async *w, int revents)
{
    /* nothing to do here: waking the loop is the point, and the inbox is
     * run by the before-sleep hook, where its deliveries are flushed */
    (void)loop;
    (void)w;
    (void)revents;
}

void worker_hub_new(struct server *home, unsigned n)
{
    struct hub *h = xcalloc(1, sizeof *h);
    h->n = n;
    h->w = xcalloc(n, sizeof *h->w);
    h->w[0] = home;
    pthread_mutex_init(&h->pub_mu, NULL);
    pthread_mutex_init(&h->stats_mu, NULL);
    h->presence = presence_new(n);
    atomic_init(&h->n_client_conns, 0);
    atomic_init(&h->announced, 0);
    for (int i = 0; i < MSG_ENC_COUNT; i++)
        atomic_init(&h->fmt_users[i], 0);
    h->snap = xcalloc(n, sizeof *h->snap);
    h->live = aligned_alloc(_Alignof(struct worker_gauges), n * sizeof *h->live);
    if (!h->live)
        abort();
    memset(h->live, 0, n * sizeof *h->live);
    h->snap_chans = xcalloc(n, sizeof *h->snap_chans);
    home->hub = h;
    home->worker = 0;
    home->chans.presence = h->presence;
    home->chans.worker = 0;
    worker_inbox_init(home);
}

void worker_hub_free(struct server *home)
{
    struct hub *h = home->hub;
    if (!h)
        return;
    presence_free(h->presence);
    pthread_mutex_destroy(&h->pub_mu);
    pthread_mutex_destroy(&h->stats_mu);
    free(h->snap);
    free(h->live);
    free(h->snap_chans);
    free(h->w);
    free(h);
    home->hub = NULL;
}

/* ---- fan-out and DELETE: one shared record, one inbox item per worker ---- */

struct bcast;

struct bcast_item {
    struct xq_item q;
    struct bcast *b;
};

struct bcast {
    atomic_uint refs; /* one per worker that has not run its item yet */
    struct hub *hub;
    size_t announced; /* added to hub->announced while in the inboxes */
    struct msg *m;    /* NULL: a DELETE */
    worker_fanout_fn *fanout;
    size_t n;
    char **ids; /* one allocation: pointers, then the strings */
    struct bcast_item items[];
};

static void bcast_release(struct bcast *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) > 1)
        return;
    atomic_fetch_sub_explicit(&b->hub->announced, b->announced, memory_order_relaxed);
    msg_unref(b->m);
    free(b->ids);
    free(b);
}

static void run_bcast(struct server *s, struct xq_item *it)
{
    struct bcast *b = container_of(it, struct bcast_item, q)->b;
    if (s && b->m) {
        b->fanout(s, b->m, b->ids, b->n);
    } else if (s) {
        double now = ev_now(s->loop);
        for (size_t i = 0; i < b->n; i++) {
            struct chan *ch = chan_get(&s->chans, b->ids[i], strlen(b->ids[i]), false);
            if (ch) {
                chan_clear_history(&s->chans, ch);
                chan_release_if_unused(&s->chans, ch, now);
            }
        }
    }
    bcast_release(b);
}

/* Appends to every inbox. Called with pub_mu held: that is what keeps the
 * order the same everywhere. */
static void broadcast(struct server *s, struct msg *m, char *const *ids, size_t n,
                      worker_fanout_fn *fanout)
{
    struct hub *h = s->hub;
    struct bcast *b = xmalloc(sizeof *b + h->n * sizeof b->items[0]);
    atomic_init(&b->refs, h->n);
    b->hub = h;
    b->announced = 0;
    for (size_t i = 0; m && i < n; i++) {
        unsigned subs = 0;
        double seen;
        if (presence_get(h->presence, ids[i], strlen(ids[i]), &subs, &seen, NULL))
            b->announced += subs;
    }
    atomic_fetch_add_explicit(&h->announced, b->announced, memory_order_relaxed);
    b->m = m ? msg_ref(m) : NULL;
    b->fanout = fanout;
    b->n = n;
    b->ids = strv_copy(ids, n);
    for (unsigned i = 0; i < h->n; i++) {
        b->items[i].q.run = run_bcast;
        b->items[i].b = b;
        /* the wake-ups wait for this worker's before-sleep hook: one per
         * loop turn for a burst of publishes, not one per message. Its own
         * inbox counts too: a publish made in that hook (a pipelined
         * request) must not wait for the next event */
        xq_push(&h->w[i]->inbox, &b->items[i].q, false);
    }
    s->wake = h->n >= 64 ? ~0ull : (1ull << h->n) - 1;
}

void worker_publish(struct server *s, struct msg *m, char *const *ids, size_t n,
                    worker_fanout_fn *fanout)
{
    struct hub *h = s->hub;
    struct server *home = s->home;
    unsigned formats = 0;
    for (int e = 0; e < MSG_ENC_COUNT; e++)
        if (atomic_load_explicit(&h->fmt_users[e], memory_order_relaxed) > 0)
            formats |= 1u << e;
    pthread_mutex_lock(&h->pub_mu);
    /* the workers' clocks differ by a little: creation times never go back */
    uint32_t created = m->created < home->tag_second ? home->tag_second : m->created;
    mid_next(home, m->mid);
    m->seq = ++home->seq;
    m->created = created;
    m->tag = mid_next_tag(home, created);
    home->store->publish(home, m, ids, n);
    msg_freeze(m, formats);
    broadcast(s, m, ids, n, fanout);
    pthread_mutex_unlock(&h->pub_mu);
    s->store_dirty = true;
}

void worker_delete(struct server *s, char *const *ids, size_t n)
{
    struct hub *h = s->hub;
    pthread_mutex_lock(&h->pub_mu);
    s->home->store->delete_channels(s->home, ids, n);
    broadcast(s, NULL, ids, n, NULL);
    pthread_mutex_unlock(&h->pub_mu);
    s->store_dirty = true;
}

static bool store_is_memory(const struct server *s)
{
    return s->store == &store_mem_ops;
}

bool worker_store_writable(struct server *s)
{
    if (store_is_memory(s))
        return true;
    pthread_mutex_lock(&s->hub->pub_mu);
    bool ok = s->home->store->writable(s->home);
    pthread_mutex_unlock(&s->hub->pub_mu);
    return ok;
}

void worker_store_lock(struct server *s)
{
    if (s->hub)
        pthread_mutex_lock(&s->hub->pub_mu);
}

void worker_store_unlock(struct server *s)
{
    if (s->hub)
        pthread_mutex_unlock(&s->hub->pub_mu);
}

/* ---- eviction ---- */

struct evict_item {
    struct xq_item q;
    worker_evict_fn *evict;
    unsigned count;
    char id[];
};

static void run_evict(struct server *s, struct xq_item *it)
{
    struct evict_item *e = container_of(it, struct evict_item, q);
    for (unsigned i = 0; s && i < e->count; i++)
        if (!e->evict(s, e->id))
            break;
    free(e);
}

void worker_enforce_limit(struct server *s, const char *id, unsigned limit,
                          worker_evict_fn *evict_oldest)
{
    struct hub *h = s->hub;
    size_t len = strlen(id);
    struct presence_slot *slots = xcalloc(h->n, sizeof *slots);
    unsigned *evict = xcalloc(h->n, sizeof *evict);
    unsigned total;
    double seen;
    if (presence_get(h->presence, id, len, &total, &seen, slots) && total >= limit) {
        /* the oldest subscriptions go, wherever they are: each worker's
         * oldest is known, its next ones are taken to follow it */
        for (unsigned k = total - limit + 1; k > 0; k--) {
            int best = -1;
            for (unsigned w = 0; w < h->n; w++)
                if (slots[w].n && (best < 0 || slots[w].head < slots[best].head))
                    best = (int)w;
            if (best < 0)
                break;
            evict[best]++;
            slots[best].n--;
        }
        for (unsigned w = 0; w < h->n; w++) {
            if (!evict[w])
                continue;
            if (w == s->worker) {
                for (unsigned k = 0; k < evict[w]; k++)
                    evict_oldest(s, id);
                continue;
            }
            struct evict_item *e = xmalloc(sizeof *e + len + 1);
            e->q.run = run_evict;
            e->evict = evict_oldest;
            e->count = evict[w];
            memcpy(e->id, id, len + 1);
            xq_push(&h->w[w]->inbox, &e->q, true);
        }
    }
    free(evict);
    free(slots);
}

/* ---- every loop turn ---- */

void worker_run_inbox(struct server *s)
{
    xq_run(&s->inbox, s);
}

void worker_store_before_sleep(struct server *s)
{
    struct hub *h = s->hub;
    if (!store_is_memory(s) && (s == s->home || s->store_dirty)) {
        /* the journal writes (and syncs) what was published before any
         * answer to it leaves, whichever worker took it */
        pthread_mutex_lock(&h->pub_mu);
        s->home->store->before_sleep(s->home);
        pthread_mutex_unlock(&h->pub_mu);
    }
    s->store_dirty = false;
}

void worker_post_stats(struct server *s)
{
    struct hub *h = s->hub;
    pthread_mutex_lock(&h->stats_mu);
    h->snap[s->worker] = s->m;
    h->snap_chans[s->worker] = s->chans.n_chans;
    pthread_mutex_unlock(&h->stats_mu);
    for (unsigned i = 0; s->wake && i < h->n; i++)
        if (s->wake & (1ull << i))
            ev_async_send(h->w[i]->loop, &h->w[i]->inbox.wake);
    s->wake = 0;
}

void worker_tick(struct server *s, double now)
{
    if (s->hub && s == s->home)
        presence_sweep(s->hub->presence, now, (double)s->cfg.online_grace);
}

/* This node's own view of a channel. */
static bool local_chan_info(struct server *s, const char *id, size_t len, unsigned *subs,
                            double *last_seen)
{
    if (s->hub)
        return presence_get(s->hub->presence, id, len, subs, last_seen, NULL);
    struct chan *ch = chan_get(&s->chans, id, len, false);
    if (!ch)
        return false;
    *subs = ch->n_subs;
    *last_seen = ch->last_seen;
    return true;
}

bool worker_fanout_behind(struct server *s)
{
    /* this worker's, up to date, and the fan-outs left for the turn's end */
    size_t queued = s->m.deliveries_queued + s->later_announced;
    if (s->hub) {
        /* and what the inboxes will add: a burst of publishes is read
         * before any worker has fanned out the first */
        queued += atomic_load_explicit(&s->hub->announced, memory_order_relaxed);
        for (unsigned i = 0; i < s->hub->n; i++)
            if (s->hub->w[i] != s)
                queued += atomic_load_explicit(&s->hub->w[i]->queued_shared, memory_order_relaxed);
    }
    return queued > (size_t)s->cfg.max_queued_deliveries;
}

unsigned worker_local_subs(struct server *s, const char *id, size_t len)
{
    unsigned subs = 0;
    double seen;
    return local_chan_info(s, id, len, &subs, &seen) ? subs : 0;
}

bool worker_chan_info(struct server *s, const char *id, size_t len, unsigned *subs,
                      double *last_seen)
{
    unsigned here = 0, there = 0;
    double seen_here = 0, seen_there = 0;
    bool known = local_chan_info(s, id, len, &here, &seen_here);
    /* with a cluster store, the other nodes' subscribers count too */
    if (s->store && s->store->chan_info) {
        worker_store_lock(s);
        known |= s->store->chan_info(s->home, id, len, &there, &seen_there);
        worker_store_unlock(s);
    }
    *subs = here + there;
    *last_seen = seen_here > seen_there ? seen_here : seen_there;
    return known;
}

static void metrics_add(struct metrics *d, const struct metrics *a)
{
#define ADD(f) d->f += a->f
    ADD(connections_total);
    ADD(messages_in);
    ADD(messages_out);
    ADD(bytes_in);
    ADD(bytes_out);
    ADD(signature_failures);
    ADD(drops_slow);
    ADD(drops_limit);
    ADD(drops_proto);
    ADD(drops_timeout);
    ADD(drops_ping);
    ADD(drops_send_timeout);
    ADD(drops_per_address);
    ADD(drops_out_memory);
    ADD(out_queued);
    ADD(deliveries_queued);
    ADD(publish_waits);
    ADD(http_requests);
    ADD(http_errors);
    ADD(client_publishes);
    ADD(rpc_requests);
    ADD(longpoll_timeouts);
    ADD(tls_handshakes);
    ADD(tls_failures);
    for (unsigned i = 0; i < TRANSPORT_MAX; i++)
        ADD(n_subs[i]);
    ADD(n_conns);
    ADD(n_client_conns);
#undef ADD
}

unsigned worker_stats(struct server *s, struct metrics *sum, struct metrics **per,
                      size_t *channels)
{
    struct hub *h = s->hub;
    unsigned n = h ? h->n : 1;
    struct metrics *v = xcalloc(n, sizeof *v);
    size_t chans = s->chans.n_chans;
    if (h) {
        pthread_mutex_lock(&h->stats_mu);
        memcpy(v, h->snap, n * sizeof *v);
        for (unsigned i = 0; i < n; i++) {
            for (unsigned t = 0; t < TRANSPORT_MAX; t++)
                v[i].n_subs[t] =
                    atomic_load_explicit(&h->live[i].subs[t], memory_order_acquire);
            v[i].n_conns = atomic_load_explicit(&h->live[i].conns, memory_order_acquire);
        }
        for (unsigned i = 0; i < n; i++)
            if (h->snap_chans[i] > chans)
                chans = h->snap_chans[i];
        pthread_mutex_unlock(&h->stats_mu);
        /* every worker holds every channel with history; those known only
         * by their subscribers are in the presence table */
        size_t known = presence_count(h->presence);
        if (known > chans)
            chans = known;
    }
    v[s->worker] = s->m; /* this one's own figures are live */
    memset(sum, 0, sizeof *sum);
    for (unsigned i = 0; i < n; i++)
        metrics_add(sum, &v[i]);
    if (per)
        *per = v;
    else
        free(v);
    *channels = chans;
    return n;
}
