#include "first.h"

#include "store.h"
#include "journal.h"
#include "log.h"
#include "mid.h"
#include "msg.h"
#include "server.h"
#include "util.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

/* The journal store: every message goes to the journal before the publish
 * is acknowledged (records are written, and in `always` mode synced, in the
 * before-sleep hook, which runs before any response is written). At start
 * the journal is replayed into the channel histories, expired messages
 * skipped, and mids continue above the newest one. */

struct replay_ctx {
    struct server *s;
    uint32_t now;
    char max_mid[27];
    uint64_t loaded;
};

static void on_record(void *arg, const struct journal_rec *r)
{
    struct replay_ctx *x = arg;
    struct server *s = x->s;
    const uint8_t *c = r->channels;
    if (r->type == JOURNAL_REC_DELETE) {
        for (uint16_t i = 0; i < r->n_channels; i++, c += 1u + c[0]) {
            struct chan *ch = chan_get(&s->chans, (const char *)c + 1, c[0], false);
            if (ch)
                chan_clear_history(&s->chans, ch);
        }
        return;
    }
    if (memcmp(r->mid, x->max_mid, 26) > 0) {
        memcpy(x->max_mid, r->mid, 26);
        x->max_mid[26] = '\0';
    }
    if (r->created + r->expiry <= x->now)
        return; /* expired while we were down */
    char mid[27];
    memcpy(mid, r->mid, 26);
    mid[26] = '\0';
    struct msg *m = msg_new(mid, ++s->seq, r->created, r->tag, r->expiry, r->body, r->body_len);
    msg_set_sender(m, r->sender_type, r->sender_id, r->sender_id_len);
    if (r->user_params)
        m->user_params = xstrndup(r->user_params, r->user_params_len);
    if (r->dictionary)
        m->dictionary = xstrndup(r->dictionary, r->dictionary_len);
    for (uint16_t i = 0; i < r->n_channels; i++, c += 1u + c[0]) {
        char id[256];
        memcpy(id, c + 1, c[0]);
        id[c[0]] = '\0';
        if (i == 0)
            msg_set_channel(m, id);
        struct chan *ch = chan_get(&s->chans, id, c[0], true);
        chan_store(&s->chans, ch, m);
    }
    x->loaded++;
    msg_unref(m);
}

static void on_sync_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct server *s = w->data;
    worker_store_lock(s); /* with workers, any of them appends to the journal */
    journal_sync(s->journal);
    worker_store_unlock(s);
}

static int journal_store_open(struct server *s, char *err, size_t errlen)
{
    const struct config *cfg = &s->cfg;
    s->journal = xcalloc(1, sizeof *s->journal);
    if (journal_open(s->journal, cfg->journal_path, cfg->journal_sync == 0,
                     (uint64_t)cfg->journal_segment_size << 20,
                     (uint64_t)cfg->journal_max_size << 20, err, errlen) != 0)
        return -1;
    if (cfg->journal_sync > 0) {
        double every = (double)cfg->journal_sync / 1000.0;
        ev_timer_init(&s->sync_timer, on_sync_timer, every, every);
        s->sync_timer.data = s;
        ev_timer_start(s->loop, &s->sync_timer);
    }
    struct replay_ctx x = {.s = s, .now = (uint32_t)ev_now(s->loop)};
    struct journal_replay_stats st;
    if (journal_replay(s->journal, on_record, &x, &st, err, errlen) != 0)
        return -1;
    if (x.max_mid[0]) {
        /* mids continue above the newest one, even if the clock went back */
        char prefix[11];
        memcpy(prefix, x.max_mid, 10);
        prefix[10] = '\0';
        uint32_t p = (uint32_t)strtoul(prefix, NULL, 10);
        if (p >= s->start_time) {
            s->start_time = p;
            s->mid_counter = strtoull(x.max_mid + 10, NULL, 10);
            mid_continue(s->mid_counter);
        }
    }
    log_info("journal %s: %llu records in %llu segments, %llu messages restored, "
             "%llu bytes of damaged tail dropped; sync %s",
             cfg->journal_path, (unsigned long long)st.records, (unsigned long long)st.segments,
             (unsigned long long)x.loaded, (unsigned long long)st.torn_bytes,
             cfg->journal_sync == 0 ? "always" : "batched");
    return 0;
}

static void journal_store_publish(struct server *s, const struct msg *m, char *const *ids, size_t n)
{
    /* channel list as the record stores it: (u8 length, bytes) */
    uint8_t stack[2048];
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += 1 + strlen(ids[i]);
    uint8_t *list = need <= sizeof stack ? stack : xmalloc(need);
    uint8_t *p = list;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        *p++ = (uint8_t)len;
        memcpy(p, ids[i], len);
        p += len;
    }
    struct journal_rec r = {
        .type = JOURNAL_REC_MSG,
        .mid = m->mid,
        .created = m->created,
        .expiry = m->expiry,
        .tag = m->tag,
        .sender_type = m->sender_type,
        .sender_id_len = m->sender_id_len,
        .sender_id = m->sender_id,
        .n_channels = (uint16_t)n,
        .channels = list,
        .body = m->body,
        .body_len = (uint32_t)m->body_len,
        .user_params = m->user_params,
        .user_params_len = m->user_params ? (uint32_t)strlen(m->user_params) : 0,
        .dictionary = m->dictionary,
        .dictionary_len = m->dictionary ? (uint32_t)strlen(m->dictionary) : 0,
    };
    journal_add_msg(s->journal, &r);
    if (list != stack)
        free(list);
}

static void journal_store_delete(struct server *s, char *const *ids, size_t n)
{
    journal_add_delete(s->journal, ids, n);
}

static bool journal_store_writable(const struct server *s)
{
    return !s->journal->failed;
}

static void journal_store_before_sleep(struct server *s)
{
    journal_flush(s->journal);
}

static void journal_store_tick(struct server *s, double now)
{
    journal_maintain(s->journal, (uint32_t)now);
}

static void journal_store_close(struct server *s)
{
    if (!s->journal)
        return;
    ev_timer_stop(s->loop, &s->sync_timer);
    journal_close(s->journal);
    free(s->journal);
    s->journal = NULL;
}

const struct store_ops store_journal_ops = {
    .name = "journal",
    .open = journal_store_open,
    .publish = journal_store_publish,
    .delete_channels = journal_store_delete,
    .writable = journal_store_writable,
    .before_sleep = journal_store_before_sleep,
    .tick = journal_store_tick,
    .close = journal_store_close,
};
