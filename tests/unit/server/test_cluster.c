/* The cluster table (server/src/cluster.c): frames round trip; other nodes'
 * subscribers add up; a channel a node left reports when; a node that goes
 * quiet counts as gone at its last heartbeat and is forgotten after the
 * grace; our own frames are ignored; malformed frames change nothing and
 * are never read out of bounds (ASan). */
#include "../../../server/src/buf.c"
#include "../../../server/src/cluster.c"
#include "../../../server/src/log.c"
#include "../../../server/src/util.c"
#include "tap.h"

/* ok() with the figures in its description */
#define okf(cond, ...)                                                                             \
    do {                                                                                           \
        bool c_ = (cond); /* first: it fills the figures the text shows */                         \
        char what_[200];                                                                           \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                                \
        ok(c_, what_);                                                                             \
    } while (0)

static void presence(struct cluster *cl, const char *node, const char *chan, uint32_t subs,
                     uint32_t seen, double now)
{
    struct buf b;
    buf_init(&b);
    cluster_frame_presence_begin(&b, node);
    cluster_frame_presence_add(&b, chan, strlen(chan), subs, seen);
    cluster_on_frame(cl, b.data, b.len, now);
    buf_deinit(&b);
}

static void heartbeat(struct cluster *cl, const char *node, const char *json, double now)
{
    struct buf b;
    buf_init(&b);
    cluster_frame_heartbeat(&b, node, json, strlen(json));
    cluster_on_frame(cl, b.data, b.len, now);
    buf_deinit(&b);
}

static void test_counts(void)
{
    struct cluster *cl = cluster_new("self#1", 5);
    unsigned subs = 99;
    double seen = -1;
    okf(!cluster_chan_info(cl, "c1", 2, &subs, &seen), "an unknown channel is not known");
    presence(cl, "b#2", "c1", 2, 0, 100);
    presence(cl, "c#3", "c1", 1, 0, 100);
    okf(cluster_chan_info(cl, "c1", 2, &subs, &seen) && subs == 3,
        "two nodes' subscribers add up (%u)", subs);
    presence(cl, "b#2", "c1", 0, 150, 151);
    presence(cl, "c#3", "c1", 0, 140, 151);
    okf(cluster_chan_info(cl, "c1", 2, &subs, &seen) && subs == 0 && seen == 150,
        "both left: 0 subscribers, last seen the later leave (%u %.0f)", subs, seen);
    presence(cl, "b#2", "c1", 0, 0, 152);
    presence(cl, "c#3", "c1", 0, 0, 152);
    okf(!cluster_chan_info(cl, "c1", 2, &subs, &seen) && cluster_channels(cl) == 0,
        "both forgot it: unknown again, nothing held");
    presence(cl, "self#1", "c2", 4, 0, 152);
    okf(!cluster_chan_info(cl, "c2", 2, &subs, &seen), "our own frames are skipped");
    cluster_free(cl);
}

static void test_death(void)
{
    struct cluster *cl = cluster_new("self#1", 5);
    heartbeat(cl, "b#2", "{\"node\":\"b\"}", 100);
    presence(cl, "b#2", "c1", 1, 0, 100);
    const struct cluster_node_info *n;
    okf(cluster_nodes(cl, &n) == 1 && n[0].alive &&
            strcmp(n[0].stats_json, "{\"node\":\"b\"}") == 0,
        "a heartbeat makes a live node with its stats");
    unsigned subs;
    double seen;
    cluster_sweep(cl, 100 + CLUSTER_DEAD_AFTER - 1);
    okf(cluster_chan_info(cl, "c1", 2, &subs, &seen) && subs == 1,
        "quiet for less than 10 s: alive");
    cluster_sweep(cl, 100 + CLUSTER_DEAD_AFTER);
    okf(cluster_nodes(cl, &n) == 1 && !n[0].alive, "quiet for 10 s: dead");
    okf(cluster_chan_info(cl, "c1", 2, &subs, &seen) && subs == 0 && seen == 100,
        "a dead node's subscriber left at its last heartbeat (%u %.0f)", subs, seen);
    heartbeat(cl, "c#3", "{}", 110);
    presence(cl, "c#3", "c2", 1, 0, 110);
    cluster_sweep(cl, 100 + CLUSTER_DEAD_AFTER + 5);
    okf(cluster_nodes(cl, &n) == 1 && strcmp(n[0].id, "c#3") == 0,
        "dead for the grace too: forgotten, the other node stays");
    okf(!cluster_chan_info(cl, "c1", 2, &subs, &seen), "with the dead node's channels");
    okf(cluster_chan_info(cl, "c2", 2, &subs, &seen) && subs == 1,
        "the remaining node's channel survives the removal (%u)", subs);
    cluster_free(cl);
}

static void test_frames(void)
{
    struct cluster *cl = cluster_new("self#1", 5);
    struct buf b;
    buf_init(&b);
    cluster_frame_hello(&b, "b#2");
    okf(cluster_on_frame(cl, b.data, b.len, 1), "a hello from another node asks for everything");
    b.len = 0;
    cluster_frame_hello(&b, "self#1");
    okf(!cluster_on_frame(cl, b.data, b.len, 1), "our own hello does not");
    /* every truncation of a presence frame: no crash, no partial entry */
    b.len = 0;
    cluster_frame_presence_begin(&b, "d#4");
    cluster_frame_presence_add(&b, "chan", 4, 7, 0);
    size_t bad = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = xmalloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        cluster_on_frame(cl, copy, cut, 2);
        free(copy);
        unsigned subs;
        double seen;
        if (cluster_chan_info(cl, "chan", 4, &subs, &seen))
            bad++;
    }
    okf(bad == 0, "no truncated presence frame adds an entry (%zu did)", bad);
    uint8_t junk[] = {'X', 3, 'a', 'b', 'c'};
    okf(!cluster_on_frame(cl, junk, sizeof junk, 3), "an unknown frame type is skipped");
    uint8_t longid[] = {'H', 200, 'a'};
    okf(!cluster_on_frame(cl, longid, sizeof longid, 3), "an id longer than the frame is skipped");
    buf_deinit(&b);
    cluster_free(cl);
}

static void test_many(void)
{
    struct cluster *cl = cluster_new("self#1", 5);
    struct buf b;
    buf_init(&b);
    cluster_frame_presence_begin(&b, "b#2");
    char id[40];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "%032x", i);
        cluster_frame_presence_add(&b, id, (size_t)n, (uint32_t)(i % 3), 1000);
    }
    cluster_on_frame(cl, b.data, b.len, 5);
    unsigned subs, total = 0;
    double seen;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "%032x", i);
        if (cluster_chan_info(cl, id, (size_t)n, &subs, &seen))
            total += subs;
    }
    okf(cluster_channels(cl) == 5000 && total == 4999,
        "5000 channels in one frame, table grown, all found (%zu, %u)", cluster_channels(cl),
        total);
    buf_deinit(&b);
    cluster_free(cl);
}

int main(void)
{
    log_level = LOG_LVL_ERR; /* the malformed frames are logged as warnings */
    subtest("counts", test_counts);
    subtest("node death", test_death);
    subtest("frames", test_frames);
    subtest("many channels", test_many);
    return done_testing();
}
