/* Publishing: a message is made, the store keeps it, and every local
 * subscriber of its channels gets it queued once (with workers, every
 * worker does that for its own subscribers, from its inbox). */
#include "first.h"

#include "publish.h"
#include "chan.h"
#include "conn.h"
#include "mid.h"
#include "msg.h"
#include "server.h"
#include "store.h"
#include "sub.h"
#include "util.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

struct msg *publish_new_message(struct server *s, const void *body, size_t len, uint32_t expiry)
{
    uint32_t now = (uint32_t)ev_now(s->loop);
    uint32_t ttl = (uint32_t)s->cfg.message_ttl;
    /* no expiry given: keep it for the message TTL, so a long-poll client
     * that reconnects with its mid still finds it */
    uint32_t eff = (expiry == 0 || expiry > ttl) ? ttl : expiry;
    if (s->hub) /* mid, seq and tag are given in publish order by worker_publish */
        return msg_new("00000000000000000000000000", 0, now, 0, eff, body, len);
    char mid[27];
    mid_next(s, mid);
    uint32_t created = mid_tag_time(s, now);
    return msg_new(mid, ++s->seq, created, mid_next_tag(s, created), eff, body, len);
}

bool publish_writable(const struct server *s)
{
    if (s->hub)
        return worker_store_writable((struct server *)s);
    return s->store->writable(s);
}

void publish(struct server *s, struct msg *m, char *const *ids, size_t n)
{
    s->m.messages_in++;
    if (s->hub) {
        worker_publish(s, m, ids, n, publish_fanout);
        return mid_note_issued(s, m->mid); /* before the answer that may name it */
    }
    s->store->publish(s, m, ids, n);
    if (s->store->fans_out)
        return;
    /* fanned out before the loop sleeps, after the turn's answers have
     * gone (as the workers' inboxes are): a publish is answered without
     * waiting for the fan-outs read with it, and they stay in order */
    struct publish_later *l = xmalloc(sizeof *l);
    l->next = NULL;
    l->m = msg_ref(m);
    l->ids = strv_copy(ids, n);
    l->n = n;
    l->announced = 0;
    for (size_t i = 0; i < n; i++) {
        struct chan *ch = chan_get(&s->chans, ids[i], strlen(ids[i]), false);
        l->announced += ch ? ch->n_subs : 0;
    }
    s->later_announced += l->announced;
    *s->later_tail = l;
    s->later_tail = &l->next;
}

void publish_run_later(struct server *s)
{
    while (s->later) {
        struct publish_later *l = s->later;
        s->later = l->next;
        if (!s->later)
            s->later_tail = &s->later;
        s->later_announced -= l->announced;
        publish_fanout(s, l->m, l->ids, l->n);
        msg_unref(l->m);
        free(l->ids);
        free(l);
    }
}

void publish_fanout(struct server *s, struct msg *m, char *const *ids, size_t n)
{
    double now = ev_now(s->loop);
    if (s->hub)
        mid_note_issued(s, m->mid);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        bool room = s->chans.n_chans < (size_t)s->cfg.max_channels;
        struct chan *ch = chan_get(&s->chans, ids[i], len, room);
        if (!ch) {
            s->m.drops_limit++;
            continue;
        }
        chan_store(&s->chans, ch, m);
        /* queued for everyone now, so each subscriber's messages stay in
         * order; with the references taken in one go */
        bool later = ch->n_subs > PUBLISH_WRITE_NOW;
        unsigned spare = ch->n_subs;
        msg_ref_n(m, spare);
        struct list_node *pos, *tmp;
        list_for_each_safe(pos, tmp, &ch->subs)
        {
            struct sub_link *l = container_of(pos, struct sub_link, chan_node);
            if (!spare)
                sub_deliver(l->c, m, later);
            else if (sub_deliver_held(l->c, m, later))
                spare--;
        }
        msg_unref_n(m, spare);
        chan_release_if_unused(&s->chans, ch, now);
    }
}
