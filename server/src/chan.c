#include "first.h"

#include "chan.h"
#include "msg.h"
#include "presence.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_id(const char *s, size_t n)
{
    /* FNV-1a: ids are random hex or small user ids, so a simple hash spreads them */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

void chan_registry_init(struct chan_registry *r, unsigned history_length, uint32_t message_ttl,
                        double online_grace)
{
    memset(r, 0, sizeof *r);
    r->n_buckets = 1024;
    r->buckets = xcalloc(r->n_buckets, sizeof *r->buckets);
    r->history_length = history_length;
    r->message_ttl = message_ttl;
    r->online_grace = online_grace;
    list_init(&r->pres_dirty);
    buf_init(&r->pres_gone);
}

/* ---- the age heap: channels with history by their oldest message ---- */

static struct msg *hist_at(const struct chan *ch, unsigned i)
{
    return ch->hist[(ch->hist_head + i) % ch->hist_cap];
}

static bool older(const struct chan *a, const struct chan *b)
{
    return strcmp(hist_at(a, 0)->mid, hist_at(b, 0)->mid) < 0;
}

static void heap_put(struct chan_registry *r, size_t i, struct chan *ch)
{
    r->heap[i] = ch;
    ch->heap_pos = (unsigned)i + 1;
}

static void heap_up(struct chan_registry *r, size_t i)
{
    struct chan *ch = r->heap[i];
    while (i > 0 && older(ch, r->heap[(i - 1) / 2])) {
        heap_put(r, i, r->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(r, i, ch);
}

static void heap_down(struct chan_registry *r, size_t i)
{
    struct chan *ch = r->heap[i];
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= r->heap_n)
            break;
        if (k + 1 < r->heap_n && older(r->heap[k + 1], r->heap[k]))
            k++;
        if (!older(r->heap[k], ch))
            break;
        heap_put(r, i, r->heap[k]);
        i = k;
    }
    heap_put(r, i, ch);
}

static void heap_add(struct chan_registry *r, struct chan *ch)
{
    if (r->heap_n == r->heap_cap) {
        r->heap_cap = r->heap_cap ? r->heap_cap * 2 : 64;
        r->heap = xrealloc(r->heap, r->heap_cap * sizeof *r->heap);
    }
    heap_put(r, r->heap_n++, ch);
    heap_up(r, r->heap_n - 1);
}

static void heap_remove(struct chan_registry *r, struct chan *ch)
{
    size_t i = ch->heap_pos - 1;
    ch->heap_pos = 0;
    struct chan *last = r->heap[--r->heap_n];
    if (last == ch)
        return;
    heap_put(r, i, last);
    heap_up(r, i);
    heap_down(r, last->heap_pos - 1);
}

/* ---- history slots ---- */

size_t chan_msg_cost(const struct msg *m)
{
    /* a V5 message's user_params and dictionary travel with it (set before
     * it is stored, never after): they are kept as long as its body */
    return sizeof *m + m->body_len + (m->user_params ? strlen(m->user_params) : 0) +
           (m->dictionary ? strlen(m->dictionary) : 0);
}

static void hist_forget(struct chan_registry *r, struct chan *ch, struct msg *m)
{
    r->hist_bytes -= chan_msg_cost(m);
    if (m->sender_type == MSG_SENDER_CLIENT)
        ch->hist_client--;
    msg_unref(m);
}

/* Drops the i-th oldest message of ch's history. */
static void hist_drop(struct chan_registry *r, struct chan *ch, unsigned i)
{
    hist_forget(r, ch, hist_at(ch, i));
    if (i == 0) {
        ch->hist_head = (ch->hist_head + 1) % ch->hist_cap;
    } else {
        /* a client message from the middle: the newer ones move up */
        for (unsigned k = i; k + 1 < ch->hist_len; k++)
            ch->hist[(ch->hist_head + k) % ch->hist_cap] = hist_at(ch, k + 1);
    }
    ch->hist_len--;
    if (ch->hist_len == 0)
        heap_remove(r, ch);
    else if (i == 0)
        heap_down(r, ch->heap_pos - 1); /* its oldest is newer now */
}

static void enforce_budget(struct chan_registry *r)
{
    while (r->hist_budget && r->hist_bytes > r->hist_budget && r->heap_n) {
        struct chan *ch = r->heap[0];
        r->hist_evicted++;
        r->hist_evicted_bytes += chan_msg_cost(hist_at(ch, 0));
        hist_drop(r, ch, 0);
    }
}

void chan_registry_limit(struct chan_registry *r, size_t budget, unsigned client_history_length)
{
    r->hist_budget = budget;
    r->client_history_length = client_history_length;
    enforce_budget(r);
}

size_t chan_history_budget(long mib)
{
    return memory_budget(mib);
}

static void chan_free(struct chan_registry *r, struct chan *ch)
{
    chan_clear_history(r, ch);
    free(ch->hist);
    free(ch);
}

void chan_registry_deinit(struct chan_registry *r)
{
    for (size_t i = 0; i < r->n_buckets; i++) {
        struct chan *ch = r->buckets[i];
        while (ch) {
            struct chan *next = ch->hnext;
            chan_free(r, ch);
            ch = next;
        }
    }
    free(r->buckets);
    free(r->heap);
    buf_deinit(&r->pres_gone);
    memset(r, 0, sizeof *r);
}

static void grow(struct chan_registry *r)
{
    size_t nb = r->n_buckets * 2;
    struct chan **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < r->n_buckets; i++) {
        struct chan *ch = r->buckets[i];
        while (ch) {
            struct chan *next = ch->hnext;
            size_t j = ch->hash & (nb - 1);
            ch->hnext = b[j];
            b[j] = ch;
            ch = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->n_buckets = nb;
    r->sweep_pos = 0;
}

struct chan *chan_get(struct chan_registry *r, const char *id, size_t len, bool create)
{
    uint32_t h = hash_id(id, len);
    for (struct chan *ch = r->buckets[h & (r->n_buckets - 1)]; ch; ch = ch->hnext)
        if (ch->hash == h && ch->id_len == len && memcmp(ch->id, id, len) == 0)
            return ch;
    if (!create)
        return NULL;
    if (r->n_chans >= r->n_buckets)
        grow(r);
    struct chan *ch = xcalloc(1, sizeof *ch + len + 1);
    ch->hash = h;
    ch->id_len = (uint16_t)len;
    memcpy(ch->id, id, len);
    list_init(&ch->subs);
    size_t b = h & (r->n_buckets - 1);
    ch->hnext = r->buckets[b];
    r->buckets[b] = ch;
    r->n_chans++;
    return ch;
}

static void unlink_chan(struct chan_registry *r, struct chan *ch)
{
    struct chan **pp = &r->buckets[ch->hash & (r->n_buckets - 1)];
    while (*pp != ch)
        pp = &(*pp)->hnext;
    *pp = ch->hnext;
    r->n_chans--;
}

static void presence_changed(struct chan_registry *r, struct chan *ch)
{
    if (r->track_presence && !ch->pres_dirty) {
        ch->pres_dirty = true;
        list_add_tail(&r->pres_dirty, &ch->pres_node);
    }
}

void chan_subscribe(struct chan_registry *r, struct chan *ch, struct sub_link *link,
                    struct conn *c)
{
    link->ch = ch;
    link->c = c;
    list_add_tail(&ch->subs, &link->chan_node);
    ch->n_subs++;
    presence_changed(r, ch);
    if (r->presence) {
        link->stamp = presence_stamp(r->presence);
        presence_join(r->presence, r->worker, ch->id, ch->id_len, link->stamp);
    }
}

void chan_move_link(struct sub_link *to, struct sub_link *from)
{
    *to = *from;
    to->chan_node.prev->next = &to->chan_node;
    to->chan_node.next->prev = &to->chan_node;
}

void chan_unsubscribe(struct chan_registry *r, struct sub_link *link, double now)
{
    struct chan *ch = link->ch;
    if (!ch)
        return;
    list_del(&link->chan_node);
    link->ch = NULL;
    if (r->presence) {
        uint64_t next = list_empty(&ch->subs)
                            ? 0
                            : list_first(&ch->subs, struct sub_link, chan_node)->stamp;
        presence_leave(r->presence, r->worker, ch->id, ch->id_len, now, next);
    }
    presence_changed(r, ch);
    if (--ch->n_subs == 0) {
        ch->last_seen = now;
        chan_release_if_unused(r, ch, now);
    }
}

void chan_store(struct chan_registry *r, struct chan *ch, struct msg *m)
{
    ch->published++;
    bool client = m->sender_type == MSG_SENDER_CLIENT;
    if (r->history_length == 0 || m->expiry == 0 || (client && r->client_history_length == 0))
        return;
    if (!ch->hist) {
        ch->hist_cap = r->history_length;
        ch->hist = xcalloc(ch->hist_cap, sizeof *ch->hist);
    }
    if (client && ch->hist_client >= r->client_history_length) {
        unsigned i = 0;
        while (hist_at(ch, i)->sender_type != MSG_SENDER_CLIENT)
            i++;
        hist_drop(r, ch, i);
    }
    if (ch->hist_len == ch->hist_cap)
        hist_drop(r, ch, 0);
    ch->hist[(ch->hist_head + ch->hist_len) % ch->hist_cap] = msg_ref(m);
    ch->hist_len++;
    ch->hist_client += client;
    r->hist_bytes += chan_msg_cost(m);
    if (ch->hist_len == 1)
        heap_add(r, ch);
    enforce_budget(r);
}

void chan_clear_history(struct chan_registry *r, struct chan *ch)
{
    while (ch->hist_len)
        hist_drop(r, ch, ch->hist_len - 1);
    ch->hist_head = 0;
}

static bool expired(const struct msg *m, double now)
{
    return (double)m->created + m->expiry <= now;
}

bool chan_is_online(const struct chan_registry *r, const struct chan *ch, double now)
{
    return ch->n_subs > 0 || (ch->last_seen > 0 && now - ch->last_seen < r->online_grace);
}

void chan_history_after(const struct chan *ch, const char *mid, unsigned max, double now,
                        void (*fn)(struct msg *m, void *arg), void *arg)
{
    /* history is in publish order, so mids ascend: find the first newer one */
    unsigned first = ch->hist_len;
    while (first > 0 && strcmp(hist_at(ch, first - 1)->mid, mid) > 0)
        first--;
    unsigned n = ch->hist_len - first;
    if (n > max)
        first = ch->hist_len - max;
    for (unsigned i = first; i < ch->hist_len; i++) {
        struct msg *m = hist_at(ch, i);
        if (!expired(m, now))
            fn(m, arg);
    }
}

struct msg *chan_newest(const struct chan *ch, double now)
{
    for (unsigned i = ch->hist_len; i > 0; i--) {
        struct msg *m = hist_at(ch, i - 1);
        if (!expired(m, now))
            return m;
    }
    return NULL;
}

static void drop_expired(struct chan_registry *r, struct chan *ch, double now)
{
    while (ch->hist_len && expired(hist_at(ch, 0), now))
        hist_drop(r, ch, 0);
    if (ch->hist_len == 0 && ch->hist) {
        /* an idle channel gives its ring back */
        free(ch->hist);
        ch->hist = NULL;
        ch->hist_cap = ch->hist_head = 0;
    }
}

void chan_copy_histories(struct chan_registry *dst, const struct chan_registry *src)
{
    for (size_t b = 0; b < src->n_buckets; b++)
        for (const struct chan *ch = src->buckets[b]; ch; ch = ch->hnext) {
            if (!ch->hist_len)
                continue;
            struct chan *d = chan_get(dst, ch->id, ch->id_len, true);
            for (unsigned i = 0; i < ch->hist_len; i++) {
                struct msg *m = hist_at(ch, i);
                msg_freeze(m, 0);
                chan_store(dst, d, m);
            }
            d->published = ch->published;
        }
}

void chan_release_if_unused(struct chan_registry *r, struct chan *ch, double now)
{
    if (ch->n_subs || ch->hist_len || chan_is_online(r, ch, now))
        return;
    if (ch->pres_dirty)
        list_del(&ch->pres_node);
    if (r->track_presence && (ch->pres_subs || ch->pres_seen)) {
        buf_append_byte(&r->pres_gone, (uint8_t)ch->id_len);
        buf_append(&r->pres_gone, ch->id, ch->id_len);
    }
    unlink_chan(r, ch);
    chan_free(r, ch);
}

void chan_presence_drain(struct chan_registry *r, chan_presence_fn *fn, void *arg)
{
    for (size_t i = 0; i < r->pres_gone.len; i += 1u + r->pres_gone.data[i])
        fn(arg, (const char *)r->pres_gone.data + i + 1, r->pres_gone.data[i], 0, 0);
    r->pres_gone.len = 0;
    while (!list_empty(&r->pres_dirty)) {
        struct chan *ch = list_first(&r->pres_dirty, struct chan, pres_node);
        list_del(&ch->pres_node);
        ch->pres_dirty = false;
        uint32_t subs = ch->n_subs;
        /* a channel that never had a subscriber here says 1 s, not "forget" */
        uint32_t seen = subs ? 0 : (ch->last_seen >= 1 ? (uint32_t)ch->last_seen : 1);
        if (subs == ch->pres_subs && seen == ch->pres_seen)
            continue; /* a long poll that came back before the drain */
        ch->pres_subs = subs;
        ch->pres_seen = seen;
        fn(arg, ch->id, ch->id_len, subs, seen);
    }
}

void chan_presence_mark_all(struct chan_registry *r)
{
    for (size_t b = 0; b < r->n_buckets; b++)
        for (struct chan *ch = r->buckets[b]; ch; ch = ch->hnext)
            if (ch->n_subs || ch->last_seen > 0) {
                ch->pres_subs = UINT32_MAX; /* differs from anything: sent again */
                presence_changed(r, ch);
            }
}

void chan_sweep(struct chan_registry *r, double now, size_t budget)
{
    for (size_t k = 0; k < budget && k < r->n_buckets; k++) {
        size_t b = r->sweep_pos++ & (r->n_buckets - 1);
        struct chan *ch = r->buckets[b];
        while (ch) {
            struct chan *next = ch->hnext;
            drop_expired(r, ch, now);
            chan_release_if_unused(r, ch, now);
            ch = next;
        }
    }
}
