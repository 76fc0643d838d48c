#include "first.h"

#include "cluster.h"
#include "buf.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One node's word on one channel. */
struct cval {
    uint32_t node; /* index into cl->nodes */
    uint32_t subs;
    uint32_t seen; /* unix seconds the last subscriber left (subs == 0) */
};

struct centry {
    struct centry *next;
    uint32_t hash;
    uint16_t n, cap;
    struct cval *v;
    uint16_t id_len;
    char id[];
};

struct cnode {
    struct cluster_node_info info;
    char id[CLUSTER_ID_MAX + 1];
    char *stats;
};

struct cluster {
    char self[CLUSTER_ID_MAX + 1];
    double grace;
    struct centry **buckets;
    size_t n_buckets, n_entries;
    struct cnode *nodes;
    struct cluster_node_info *infos; /* what cluster_nodes hands out */
    size_t n_nodes, cap_nodes;
};

static uint32_t hash_id(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a, as the channel registry */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

struct cluster *cluster_new(const char *self_id, double grace)
{
    struct cluster *cl = xcalloc(1, sizeof *cl);
    snprintf(cl->self, sizeof cl->self, "%s", self_id);
    cl->grace = grace;
    cl->n_buckets = 1024;
    cl->buckets = xcalloc(cl->n_buckets, sizeof *cl->buckets);
    return cl;
}

static void free_entries(struct cluster *cl)
{
    for (size_t b = 0; b < cl->n_buckets; b++) {
        struct centry *e = cl->buckets[b];
        while (e) {
            struct centry *next = e->next;
            free(e->v);
            free(e);
            e = next;
        }
        cl->buckets[b] = NULL;
    }
    cl->n_entries = 0;
}

void cluster_reset(struct cluster *cl)
{
    free_entries(cl);
    for (size_t i = 0; i < cl->n_nodes; i++)
        free(cl->nodes[i].stats);
    cl->n_nodes = 0;
}

void cluster_free(struct cluster *cl)
{
    if (!cl)
        return;
    cluster_reset(cl);
    free(cl->buckets);
    free(cl->nodes);
    free(cl->infos);
    free(cl);
}

/* ---- frames ---- */

static void put_id(struct buf *out, uint8_t type, const char *self_id)
{
    size_t n = strnlen(self_id, CLUSTER_ID_MAX);
    buf_append_byte(out, type);
    buf_append_byte(out, (uint8_t)n);
    buf_append(out, self_id, n);
}

static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, p, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void cluster_frame_hello(struct buf *out, const char *self_id)
{
    put_id(out, 'Q', self_id);
}

void cluster_frame_heartbeat(struct buf *out, const char *self_id, const char *stats,
                             size_t stats_len)
{
    put_id(out, 'H', self_id);
    buf_append(out, stats, stats_len);
}

void cluster_frame_presence_begin(struct buf *out, const char *self_id)
{
    put_id(out, 'P', self_id);
}

void cluster_frame_presence_add(struct buf *out, const char *id, size_t len, uint32_t subs,
                                uint32_t last_seen)
{
    if (len > 255)
        return; /* channel ids are at most 80 bytes (config: max id length) */
    buf_append_byte(out, (uint8_t)len);
    buf_append(out, id, len);
    put_u32(out, subs);
    put_u32(out, last_seen);
}

/* ---- the tables ---- */

static struct cnode *node_get(struct cluster *cl, const char *id, size_t len, double now)
{
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (strlen(cl->nodes[i].id) == len && memcmp(cl->nodes[i].id, id, len) == 0)
            return &cl->nodes[i];
    if (cl->n_nodes == cl->cap_nodes) {
        cl->cap_nodes = cl->cap_nodes ? 2 * cl->cap_nodes : 4;
        cl->nodes = xrealloc(cl->nodes, cl->cap_nodes * sizeof *cl->nodes);
    }
    struct cnode *n = &cl->nodes[cl->n_nodes++];
    memset(n, 0, sizeof *n);
    memcpy(n->id, id, len);
    n->info.last_heard = now;
    log_info("cluster: node %s joined", n->id);
    return n;
}

static struct centry **entry_slot(struct cluster *cl, const char *id, size_t len, uint32_t h)
{
    struct centry **pp = &cl->buckets[h & (cl->n_buckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->id_len == len && memcmp((*pp)->id, id, len) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void grow(struct cluster *cl)
{
    size_t nb = cl->n_buckets * 2;
    struct centry **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < cl->n_buckets; i++) {
        struct centry *e = cl->buckets[i];
        while (e) {
            struct centry *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(cl->buckets);
    cl->buckets = b;
    cl->n_buckets = nb;
}

static void entry_unlink(struct cluster *cl, struct centry **slot)
{
    struct centry *e = *slot;
    *slot = e->next;
    free(e->v);
    free(e);
    cl->n_entries--;
}

static void set_value(struct cluster *cl, uint32_t node, const char *id, size_t len,
                      uint32_t subs, uint32_t seen)
{
    uint32_t h = hash_id(id, len);
    struct centry **slot = entry_slot(cl, id, len, h);
    struct centry *e = *slot;
    bool forget = subs == 0 && seen == 0;
    if (!e) {
        if (forget)
            return;
        if (cl->n_entries >= cl->n_buckets) {
            grow(cl);
            slot = entry_slot(cl, id, len, h);
        }
        e = xcalloc(1, sizeof *e + len + 1);
        e->hash = h;
        e->id_len = (uint16_t)len;
        memcpy(e->id, id, len);
        *slot = e;
        cl->n_entries++;
    }
    uint16_t i = 0;
    while (i < e->n && e->v[i].node != node)
        i++;
    if (forget) {
        if (i < e->n)
            e->v[i] = e->v[--e->n];
        if (e->n == 0)
            entry_unlink(cl, slot);
        return;
    }
    if (i == e->n) {
        if (e->n == e->cap) {
            e->cap = e->cap ? (uint16_t)(2 * e->cap) : 2;
            e->v = xrealloc(e->v, e->cap * sizeof *e->v);
        }
        e->n++;
    }
    e->v[i] = (struct cval){.node = node, .subs = subs, .seen = seen};
}

static bool take_presence(struct cluster *cl, uint32_t node, const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = p[i];
        if (n == 0 || i + 1 + n + 8 > len)
            return false;
        const char *id = (const char *)p + i + 1;
        set_value(cl, node, id, n, get_u32(p + i + 1 + n), get_u32(p + i + 1 + n + 4));
        i += 1 + n + 8;
    }
    return true;
}

bool cluster_on_frame(struct cluster *cl, const uint8_t *p, size_t len, double now)
{
    if (len < 2 || p[1] == 0 || p[1] > CLUSTER_ID_MAX || 2u + p[1] > len) {
        log_warn("cluster: a malformed frame on the feed was skipped");
        return false;
    }
    const char *id = (const char *)p + 2;
    size_t idlen = p[1];
    if (idlen == strlen(cl->self) && memcmp(id, cl->self, idlen) == 0)
        return false; /* our own, back from Redis */
    struct cnode *n = node_get(cl, id, idlen, now);
    n->info.last_heard = now;
    n->info.alive = true;
    const uint8_t *rest = p + 2 + idlen;
    size_t rest_len = len - 2 - idlen;
    switch (p[0]) {
    case 'H':
        free(n->stats);
        n->stats = xmalloc(rest_len + 1);
        memcpy(n->stats, rest, rest_len);
        n->stats[rest_len] = '\0';
        return false;
    case 'P':
        if (!take_presence(cl, (uint32_t)(n - cl->nodes), rest, rest_len))
            log_warn("cluster: a malformed presence frame from %s was cut short", n->id);
        return false;
    case 'Q':
        return true;
    default:
        log_warn("cluster: a frame of unknown type 0x%02x was skipped", p[0]);
        return false;
    }
}

bool cluster_chan_info(const struct cluster *cl, const char *id, size_t len, unsigned *subs,
                       double *last_seen)
{
    uint32_t h = hash_id(id, len);
    const struct centry *e = cl->buckets[h & (cl->n_buckets - 1)];
    while (e && !(e->hash == h && e->id_len == len && memcmp(e->id, id, len) == 0))
        e = e->next;
    if (!e)
        return false;
    unsigned total = 0;
    double seen = 0;
    for (uint16_t i = 0; i < e->n; i++) {
        const struct cval *v = &e->v[i];
        const struct cnode *n = &cl->nodes[v->node];
        if (v->subs && n->info.alive)
            total += v->subs;
        double left = v->subs ? n->info.last_heard : (double)v->seen;
        if ((!v->subs || !n->info.alive) && left > seen)
            seen = left;
    }
    *subs = total;
    *last_seen = seen;
    return true;
}

/* Drops node k: its values go, and the last node takes its index. */
static void node_remove(struct cluster *cl, size_t k)
{
    uint32_t last = (uint32_t)cl->n_nodes - 1;
    for (size_t b = 0; b < cl->n_buckets; b++) {
        struct centry **pp = &cl->buckets[b];
        while (*pp) {
            struct centry *e = *pp;
            for (uint16_t i = 0; i < e->n;) {
                if (e->v[i].node == k) {
                    e->v[i] = e->v[--e->n];
                    continue;
                }
                if (e->v[i].node == last)
                    e->v[i].node = (uint32_t)k;
                i++;
            }
            if (e->n == 0)
                entry_unlink(cl, pp);
            else
                pp = &e->next;
        }
    }
    free(cl->nodes[k].stats);
    cl->nodes[k] = cl->nodes[last];
    cl->n_nodes--;
}

void cluster_sweep(struct cluster *cl, double now)
{
    for (size_t k = cl->n_nodes; k > 0; k--) {
        struct cnode *n = &cl->nodes[k - 1];
        double quiet = now - n->info.last_heard;
        if (n->info.alive && quiet >= CLUSTER_DEAD_AFTER) {
            n->info.alive = false;
            log_warn("cluster: node %s sent nothing for %.0f s: its subscribers count as gone",
                     n->id, quiet);
        }
        if (!n->info.alive && quiet >= CLUSTER_DEAD_AFTER + cl->grace)
            node_remove(cl, k - 1);
    }
}

size_t cluster_nodes(struct cluster *cl, const struct cluster_node_info **out)
{
    cl->infos = xrealloc(cl->infos, (cl->n_nodes + 1) * sizeof *cl->infos);
    for (size_t i = 0; i < cl->n_nodes; i++) {
        cl->infos[i] = cl->nodes[i].info;
        cl->infos[i].id = cl->nodes[i].id;
        cl->infos[i].stats_json = cl->nodes[i].stats ? cl->nodes[i].stats : "";
    }
    *out = cl->infos;
    return cl->n_nodes;
}

size_t cluster_channels(const struct cluster *cl)
{
    return cl->n_entries;
}
