/* Unit tests for server/src/chan.c: the history memory budget (the oldest
 * message of all goes first, so what is kept is always the newest run of
 * messages that fits), the age heap staying right through clears and
 * middle drops, client messages capped per channel without touching the
 * site's, and the budget derived from the machine's memory. */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/chan.c"
#include "../../../server/src/jsontext.c"
#include "../../../server/src/msg.c"
#include "../../../server/src/pb.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only registries of several workers count presence (r->presence); these
 * have none, so presence.c (whose statics clash with chan.c's) stays out. */
uint64_t presence_stamp(struct presence *p)
{
    (void)p;
    abort();
}
void presence_join(struct presence *p, unsigned w, const char *id, size_t len, uint64_t stamp)
{
    (void)p, (void)w, (void)id, (void)len, (void)stamp;
    abort();
}
void presence_leave(struct presence *p, unsigned w, const char *id, size_t len, double now,
                    uint64_t next)
{
    (void)p, (void)w, (void)id, (void)len, (void)now, (void)next;
    abort();
}

#define N_CHANS 16
#define N_MSGS 2000

static unsigned long long counter;

static struct msg *new_msg(size_t body, bool client)
{
    char mid[27], pad[4096];
    snprintf(mid, sizeof mid, "%010u%016llu", 1796000000u, ++counter);
    memset(pad, 'x', body);
    struct msg *m = msg_new(mid, counter, 1796000000u, 1, 86400, pad, body);
    if (client)
        msg_set_sender(m, MSG_SENDER_CLIENT, NULL, 0);
    return m;
}

static size_t bytes_held(struct chan_registry *r, struct chan **chans)
{
    size_t sum = 0;
    for (int c = 0; c < N_CHANS; c++)
        for (unsigned i = 0; i < chans[c]->hist_len; i++)
            sum += chan_msg_cost(hist_at(chans[c], i));
    (void)r;
    return sum;
}

/* Every heap entry is a channel with history, at its recorded place, and no
 * child is older than its parent. */
static bool heap_ok(const struct chan_registry *r)
{
    for (size_t i = 0; i < r->heap_n; i++) {
        const struct chan *ch = r->heap[i];
        if (ch->heap_pos != i + 1 || ch->hist_len == 0)
            return false;
        if (i > 0 && older(ch, r->heap[(i - 1) / 2]))
            return false;
    }
    return true;
}

static void budget_keeps_newest_run(void)
{
    struct chan_registry r;
    chan_registry_init(&r, 100000, 86400, 130);
    size_t budget = 64 * 1024;
    chan_registry_limit(&r, budget, 10);
    struct chan *chans[N_CHANS];
    char id[16];
    for (int c = 0; c < N_CHANS; c++) {
        snprintf(id, sizeof id, "c%d", c);
        chans[c] = chan_get(&r, id, strlen(id), true);
    }
    size_t *cost = calloc(N_MSGS, sizeof *cost);
    srand(7);
    bool run_ok = true, bytes_ok = true, heap_fine = true;
    unsigned long long first = counter + 1;
    for (int k = 0; k < N_MSGS; k++) {
        struct msg *m = new_msg((size_t)(rand() % 4000), false);
        cost[k] = chan_msg_cost(m);
        chan_store(&r, chans[rand() % N_CHANS], m);
        msg_unref(m);
        /* the newest run of messages whose costs fit the budget */
        size_t sum = 0;
        int from = k;
        while (from >= 0 && sum + cost[from] <= budget)
            sum += cost[from--];
        size_t kept = 0;
        for (int c = 0; c < N_CHANS; c++)
            for (unsigned i = 0; i < chans[c]->hist_len; i++) {
                unsigned long long n = strtoull(hist_at(chans[c], i)->mid + 10, NULL, 10);
                if ((long long)(n - first) <= from)
                    run_ok = false; /* an older message than the run survived */
                kept++;
            }
        if (kept != (size_t)(k - from))
            run_ok = false;
        if (r.hist_bytes != sum || bytes_held(&r, chans) != sum || sum > budget)
            bytes_ok = false;
        if (!heap_ok(&r))
            heap_fine = false;
    }
    ok(run_ok, "after each of 2000 stores into 16 channels, exactly the newest messages that fit "
               "the budget are kept");
    ok(bytes_ok, "hist_bytes is the sum of what the histories hold, never above the budget");
    ok(heap_fine, "the age heap holds every channel with history, oldest first");
    note("%llu evictions", (unsigned long long)r.hist_evicted);
    ok(r.hist_evicted > 0 && r.hist_evicted_bytes > 0, "evictions are counted");

    /* clears of random channels keep the heap and the byte count right */
    for (int c = 0; c < N_CHANS; c += 3)
        chan_clear_history(&r, chans[c]);
    ok(heap_ok(&r) && r.hist_bytes == bytes_held(&r, chans),
       "clearing channels keeps the heap and the byte count");
    /* a budget lowered at run time applies at once */
    chan_registry_limit(&r, 8 * 1024, 10);
    ok(r.hist_bytes <= 8 * 1024 && heap_ok(&r) && r.hist_bytes == bytes_held(&r, chans),
       "a lower budget evicts at once");
    free(cost);
    chan_registry_deinit(&r);
}

static void client_messages_capped(void)
{
    struct chan_registry r;
    chan_registry_init(&r, 100, 86400, 130);
    chan_registry_limit(&r, 0, 2);
    struct chan *ch = chan_get(&r, "c", 1, true);
    /* site, client, client, site, client, client, site */
    const bool client[] = {false, true, true, false, true, true, false};
    unsigned long long ids[7];
    for (int i = 0; i < 7; i++) {
        struct msg *m = new_msg(10, client[i]);
        ids[i] = counter;
        chan_store(&r, ch, m);
        msg_unref(m);
    }
    /* kept: every site message, and the two newest client ones, in order */
    const int want[] = {0, 3, 4, 5, 6};
    bool same = ch->hist_len == 5 && ch->hist_client == 2;
    for (unsigned i = 0; same && i < ch->hist_len; i++)
        same = strtoull(hist_at(ch, i)->mid + 10, NULL, 10) == ids[want[i]];
    ok(same, "with client-history-length 2, a channel keeps its site messages and the newest two "
             "client messages, in publish order");
    ok(heap_ok(&r) && r.hist_bytes == 5 * chan_msg_cost(hist_at(ch, 0)),
       "middle drops keep the heap and the byte count");
    chan_registry_limit(&r, 0, 0);
    struct msg *m = new_msg(10, true);
    chan_store(&r, ch, m);
    msg_unref(m);
    ok(ch->hist_len == 5, "with client-history-length 0, client messages are not kept");
    chan_registry_deinit(&r);
}

static void budget_from_memory(void)
{
    size_t b = chan_history_budget(0);
    note("default budget here: %zu MiB", b >> 20);
    ok(b >= (16u << 20) && b <= (4096ull << 20), "the default budget is within 16 MiB..4 GiB");
    ok(chan_history_budget(5) == 5u << 20, "history-memory 5 is 5 MiB");
}

int main(void)
{
    budget_keeps_newest_run();
    client_messages_capped();
    budget_from_memory();
    return done_testing();
}
