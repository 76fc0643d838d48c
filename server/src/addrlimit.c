#include "first.h"

#include "addrlimit.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct addr_entry {
    struct addr_entry *next;
    struct addr_key key;
    unsigned count;
};

struct addr_table {
    pthread_mutex_t mu;
    struct addr_entry **b;
    size_t n_buckets; /* a power of two */
    size_t n;
    uint64_t seed; /* random: a client picks its addresses, not their buckets */
};

bool addr_key_of(const struct sockaddr *sa, struct addr_key *k)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        k->a = 0;
        k->b = (uint64_t)1 << 32 | ntohl(s4->sin_addr.s_addr);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *p = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(p, mapped, sizeof mapped) == 0) {
        k->a = 0;
        k->b = (uint64_t)1 << 32 | (uint64_t)p[12] << 24 | (uint64_t)p[13] << 16 |
               (uint64_t)p[14] << 8 | p[15];
        return true;
    }
    uint64_t prefix = 0;
    for (int i = 0; i < 8; i++)
        prefix = prefix << 8 | p[i];
    k->a = prefix;
    k->b = 0;
    return true;
}

bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

void addr_key_format(const struct addr_key *k, char out[64])
{
    if (k->b) {
        struct in_addr a4 = {htonl((uint32_t)k->b)};
        inet_ntop(AF_INET, &a4, out, 64);
        return;
    }
    struct in6_addr a6;
    memset(&a6, 0, sizeof a6);
    for (int i = 0; i < 8; i++)
        a6.s6_addr[i] = (uint8_t)(k->a >> (56 - 8 * i));
    char h[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a6, h, sizeof h);
    snprintf(out, 64, "%s/64", h);
}

static uint64_t mix(uint64_t x)
{
    /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static size_t bucket_of(const struct addr_table *t, const struct addr_key *k)
{
    return (size_t)(mix(k->a ^ t->seed) ^ mix(k->b + t->seed)) & (t->n_buckets - 1);
}

struct addr_table *addr_table_new(void)
{
    struct addr_table *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->n_buckets = 256;
    t->b = xcalloc(t->n_buckets, sizeof *t->b);
    if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed)
        t->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
    return t;
}

void addr_table_free(struct addr_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct addr_entry *e = t->b[i];
        while (e) {
            struct addr_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->b);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct addr_entry **find(struct addr_table *t, const struct addr_key *k)
{
    struct addr_entry **pp = &t->b[bucket_of(t, k)];
    while (*pp && ((*pp)->key.a != k->a || (*pp)->key.b != k->b))
        pp = &(*pp)->next;
    return pp;
}

/* Doubles the buckets once there are more entries than buckets, so that a
 * chain stays short however many addresses are connected. */
static void grow(struct addr_table *t)
{
    struct addr_entry **old = t->b;
    size_t n_old = t->n_buckets;
    t->n_buckets *= 2;
    t->b = xcalloc(t->n_buckets, sizeof *t->b);
    for (size_t i = 0; i < n_old; i++) {
        struct addr_entry *e = old[i];
        while (e) {
            struct addr_entry *next = e->next;
            size_t j = bucket_of(t, &e->key);
            e->next = t->b[j];
            t->b[j] = e;
            e = next;
        }
    }
    free(old);
}

bool addr_table_acquire(struct addr_table *t, const struct addr_key *k, unsigned limit)
{
    pthread_mutex_lock(&t->mu);
    struct addr_entry **pp = find(t, k);
    bool ok = true;
    if (*pp) {
        ok = (*pp)->count < limit;
        if (ok)
            (*pp)->count++;
    } else if (limit > 0) {
        struct addr_entry *e = xcalloc(1, sizeof *e);
        e->key = *k;
        e->count = 1;
        *pp = e;
        if (++t->n > t->n_buckets)
            grow(t);
    } else {
        ok = false;
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void addr_table_release(struct addr_table *t, const struct addr_key *k)
{
    pthread_mutex_lock(&t->mu);
    struct addr_entry **pp = find(t, k);
    struct addr_entry *e = *pp;
    if (e && --e->count == 0) {
        *pp = e->next;
        free(e);
        t->n--;
    }
    pthread_mutex_unlock(&t->mu);
}

unsigned addr_table_count(struct addr_table *t, const struct addr_key *k)
{
    pthread_mutex_lock(&t->mu);
    struct addr_entry *e = *find(t, k);
    unsigned n = e ? e->count : 0;
    pthread_mutex_unlock(&t->mu);
    return n;
}
