#include "first.h"

#include "presence.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* 64 shards: two workers subscribing at once rarely meet on one mutex */
#define PRESENCE_SHARDS 64

struct pentry {
    struct pentry *next;
    uint32_t hash;
    uint32_t total;
    double last_seen;
    uint16_t id_len;
    char *id; /* after the slots, same allocation */
    struct presence_slot slots[];
};

struct pshard {
    pthread_mutex_t mu;
    struct pentry **buckets;
    size_t n_buckets, n;
};

struct presence {
    unsigned n_workers;
    atomic_uint_fast64_t stamp;
    atomic_size_t count;
    atomic_uint sweep_pos;
    struct pshard shards[PRESENCE_SHARDS];
};

struct presence *presence_new(unsigned n_workers)
{
    struct presence *p = xcalloc(1, sizeof *p);
    p->n_workers = n_workers;
    atomic_init(&p->stamp, 0);
    atomic_init(&p->count, 0);
    atomic_init(&p->sweep_pos, 0);
    for (int i = 0; i < PRESENCE_SHARDS; i++) {
        pthread_mutex_init(&p->shards[i].mu, NULL);
        p->shards[i].n_buckets = 64;
        p->shards[i].buckets = xcalloc(64, sizeof *p->shards[i].buckets);
    }
    return p;
}

void presence_free(struct presence *p)
{
    if (!p)
        return;
    for (int i = 0; i < PRESENCE_SHARDS; i++) {
        struct pshard *sh = &p->shards[i];
        for (size_t b = 0; b < sh->n_buckets; b++)
            for (struct pentry *e = sh->buckets[b], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    free(p);
}

uint64_t presence_stamp(struct presence *p)
{
    return atomic_fetch_add_explicit(&p->stamp, 1, memory_order_relaxed) + 1;
}

static struct pshard *shard_of(struct presence *p, uint32_t h)
{
    /* the top bits pick the shard, the low bits the bucket inside it */
    return &p->shards[h >> 26];
}

static struct pentry **find(struct pshard *sh, uint32_t h, const char *id, size_t len)
{
    struct pentry **pp = &sh->buckets[h & (sh->n_buckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->id_len == len && memcmp((*pp)->id, id, len) == 0)
            break;
    return pp;
}

static void grow(struct pshard *sh)
{
    size_t nb = sh->n_buckets * 2;
    struct pentry **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < sh->n_buckets; i++)
        for (struct pentry *e = sh->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(sh->buckets);
    sh->buckets = b;
    sh->n_buckets = nb;
}

void presence_join(struct presence *p, unsigned w, const char *id, size_t len, uint64_t stamp)
{
    uint32_t h = fnv1a32(id, len);
    struct pshard *sh = shard_of(p, h);
    pthread_mutex_lock(&sh->mu);
    struct pentry **pp = find(sh, h, id, len);
    struct pentry *e = *pp;
    if (!e) {
        if (sh->n >= sh->n_buckets) {
            grow(sh);
            pp = find(sh, h, id, len);
        }
        size_t slots = p->n_workers * sizeof(struct presence_slot);
        e = xcalloc(1, sizeof *e + slots + len + 1);
        e->hash = h;
        e->id_len = (uint16_t)len;
        e->id = (char *)e->slots + slots;
        memcpy(e->id, id, len);
        *pp = e;
        sh->n++;
        atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
    }
    if (e->slots[w].n++ == 0)
        e->slots[w].head = stamp;
    e->total++;
    pthread_mutex_unlock(&sh->mu);
}

void presence_leave(struct presence *p, unsigned w, const char *id, size_t len, double now,
                    uint64_t next_head)
{
    uint32_t h = fnv1a32(id, len);
    struct pshard *sh = shard_of(p, h);
    pthread_mutex_lock(&sh->mu);
    struct pentry *e = *find(sh, h, id, len);
    if (e && e->slots[w].n) {
        if (--e->slots[w].n)
            e->slots[w].head = next_head;
        if (--e->total == 0)
            e->last_seen = now;
    }
    pthread_mutex_unlock(&sh->mu);
}

bool presence_get(struct presence *p, const char *id, size_t len, unsigned *total,
                  double *last_seen, struct presence_slot *slots)
{
    uint32_t h = fnv1a32(id, len);
    struct pshard *sh = shard_of(p, h);
    pthread_mutex_lock(&sh->mu);
    struct pentry *e = *find(sh, h, id, len);
    if (e) {
        *total = e->total;
        *last_seen = e->last_seen;
        if (slots)
            memcpy(slots, e->slots, p->n_workers * sizeof *slots);
    }
    pthread_mutex_unlock(&sh->mu);
    return e != NULL;
}

void presence_sweep(struct presence *p, double now, double keep)
{
    unsigned i = atomic_fetch_add_explicit(&p->sweep_pos, 1, memory_order_relaxed);
    struct pshard *sh = &p->shards[i % PRESENCE_SHARDS];
    pthread_mutex_lock(&sh->mu);
    for (size_t b = 0; b < sh->n_buckets; b++)
        for (struct pentry **pp = &sh->buckets[b]; *pp;) {
            struct pentry *e = *pp;
            if (e->total == 0 && now - e->last_seen >= keep) {
                *pp = e->next;
                free(e);
                sh->n--;
                atomic_fetch_sub_explicit(&p->count, 1, memory_order_relaxed);
            } else {
                pp = &e->next;
            }
        }
    pthread_mutex_unlock(&sh->mu);
}

size_t presence_count(struct presence *p)
{
    return atomic_load_explicit(&p->count, memory_order_relaxed);
}
