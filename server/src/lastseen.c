#include "first.h"

#include "lastseen.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* Entries live in one array filled in order; once it is full the next
 * slot to reuse goes round it, so the victim is always the user stored
 * longest ago (an update keeps its slot). 40 bytes a user. */
struct lsentry {
    int64_t when;
    uint32_t next; /* bucket chain, index into entries */
    uint8_t len;
    char id[LASTSEEN_ID_MAX];
};

struct lastseen {
    pthread_mutex_t mu;
    size_t cap;
    struct lsentry *entries;
    size_t n, n_alloc;
    size_t victim; /* the slot replaced next once n == cap */
    uint32_t *buckets;
    size_t n_buckets; /* a power of two >= cap, allocated on first use */
};

struct lastseen *lastseen_new(size_t cap)
{
    struct lastseen *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->cap = cap ? cap : 1;
    if (t->cap > NONE - 1)
        t->cap = NONE - 1;
    return t;
}

void lastseen_free(struct lastseen *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t->entries);
    free(t->buckets);
    free(t);
}

bool lastseen_id_ok(const char *user, size_t len)
{
    if (len == 0 || len > LASTSEEN_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (user[i] < '0' || user[i] > '9')
            return false;
    return true;
}

static uint32_t *chain_of(struct lastseen *t, const char *user, size_t len)
{
    return &t->buckets[fnv1a32(user, len) & (t->n_buckets - 1)];
}

static uint32_t find(struct lastseen *t, const char *user, size_t len)
{
    if (!t->buckets)
        return NONE;
    for (uint32_t i = *chain_of(t, user, len); i != NONE; i = t->entries[i].next)
        if (t->entries[i].len == len && memcmp(t->entries[i].id, user, len) == 0)
            return i;
    return NONE;
}

static void unlink_entry(struct lastseen *t, uint32_t idx)
{
    struct lsentry *e = &t->entries[idx];
    for (uint32_t *pp = chain_of(t, e->id, e->len); *pp != NONE; pp = &t->entries[*pp].next)
        if (*pp == idx) {
            *pp = e->next;
            return;
        }
}

/* A slot for a new user: the next unused one, or the oldest one's. */
static uint32_t take_slot(struct lastseen *t)
{
    if (!t->buckets) {
        t->n_buckets = 16;
        while (t->n_buckets < t->cap)
            t->n_buckets *= 2;
        t->buckets = xmalloc(t->n_buckets * sizeof *t->buckets);
        memset(t->buckets, 0xff, t->n_buckets * sizeof *t->buckets);
    }
    if (t->n < t->cap) {
        if (t->n == t->n_alloc) {
            size_t na = t->n_alloc ? t->n_alloc * 2 : 64;
            if (na > t->cap)
                na = t->cap;
            t->entries = xrealloc(t->entries, na * sizeof *t->entries);
            t->n_alloc = na;
        }
        return (uint32_t)t->n++;
    }
    uint32_t idx = (uint32_t)t->victim;
    t->victim = (t->victim + 1) % t->cap;
    unlink_entry(t, idx);
    return idx;
}

void lastseen_put(struct lastseen *t, const char *user, size_t len, int64_t when)
{
    if (!lastseen_id_ok(user, len))
        return;
    pthread_mutex_lock(&t->mu);
    uint32_t idx = find(t, user, len);
    if (idx != NONE) {
        if (when > t->entries[idx].when)
            t->entries[idx].when = when;
    } else {
        idx = take_slot(t);
        struct lsentry *e = &t->entries[idx];
        e->when = when;
        e->len = (uint8_t)len;
        memcpy(e->id, user, len);
        uint32_t *head = chain_of(t, user, len);
        e->next = *head;
        *head = idx;
    }
    pthread_mutex_unlock(&t->mu);
}

bool lastseen_get(struct lastseen *t, const char *user, size_t len, int64_t *when)
{
    if (!lastseen_id_ok(user, len))
        return false;
    pthread_mutex_lock(&t->mu);
    uint32_t idx = find(t, user, len);
    if (idx != NONE)
        *when = t->entries[idx].when;
    pthread_mutex_unlock(&t->mu);
    return idx != NONE;
}

size_t lastseen_count(struct lastseen *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}
