/* Unit tests for server/src/mid.c's push-stream tags: more than 65535
 * messages in one second go on in the next second (tags never wrap), so
 * (time, tag) grows with every publish and a cursor at any message gives
 * exactly the messages published after it; creation times never go back. */
#include "../../../server/src/first.h"

#include "../../../server/src/mid.c"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stamp {
    uint32_t created;
    uint16_t tag;
};

/* A publish as worker_publish stamps it: its clock, never before the last
 * creation time. */
static struct stamp publish_worker(struct server *s, uint32_t now)
{
    uint32_t created = now < s->tag_second ? s->tag_second : now;
    return (struct stamp){created, mid_next_tag(s, created)};
}

/* A publish as the single loop (publish.c) and the Redis store stamp it. */
static struct stamp publish_single(struct server *s, uint32_t now)
{
    uint32_t created = mid_tag_time(s, now);
    return (struct stamp){created, mid_next_tag(s, created)};
}

/* A push-stream cursor's rule (sub.c): after (since, tag). */
static bool after(struct stamp m, struct stamp cursor)
{
    return m.created > cursor.created || (m.created == cursor.created && m.tag > cursor.tag);
}

#define T0 1800000000u
#define N (3 * 65535 + 100)

static void many_in_one_second(struct stamp (*publish)(struct server *, uint32_t))
{
    struct server s = {0};
    struct stamp *v = malloc((N + 2) * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = publish(&s, T0);
    bool in_range = true, grows = true;
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        if (v[i].tag == 0 && in_range) {
            in_range = false;
            bad = i;
        }
        if (i && !after(v[i], v[i - 1]) && grows) {
            grows = false;
            bad = i;
        }
    }
    ok(in_range, "every tag is 1..65535");
    ok(grows, "(time, tag) grows with every publish");
    if (!in_range || !grows)
        note("message %zu: time %u tag %u after time %u tag %u", bad, v[bad].created, v[bad].tag,
             bad ? v[bad - 1].created : 0, bad ? v[bad - 1].tag : 0);
    note("the 65536th message: time +%u, tag %u; the last of %d: time +%u, tag %u",
         v[65535].created - T0, v[65535].tag, N, v[N - 1].created - T0, v[N - 1].tag);
    ok(v[65534].created == T0 && v[65534].tag == 65535 && v[65535].created == T0 + 1 &&
           v[65535].tag == 1,
       "the 65536th message of a second is the next second's first");
    ok(v[N - 1].created == T0 + 3 && v[N - 1].tag == 100, "three seconds on, the 100th");

    /* the clock catches up with the moved-on second, then passes it */
    v[N] = publish(&s, T0 + 1);
    ok(v[N].created == T0 + 3 && v[N].tag == 101,
       "a publish whose clock is behind the moved-on second joins it");
    v[N + 1] = publish(&s, T0 + 10);
    ok(v[N + 1].created == T0 + 10 && v[N + 1].tag == 1, "a later second starts at tag 1");

    /* a cursor at message k (what a client resumes from) is followed by
     * exactly the messages after k, around each second's end */
    size_t ks[] = {0, 65533, 65534, 65535, 65536, 2 * 65535 - 1, 2 * 65535, N - 1, N};
    bool exact = true;
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
        size_t k = ks[j], wrong = 0;
        for (size_t i = 0; i < N + 2; i++)
            if (after(v[i], v[k]) != (i > k))
                wrong++;
        if (wrong) {
            exact = false;
            note("cursor at message %zu (time +%u, tag %u): %zu messages on the wrong side", k,
                 v[k].created - T0, v[k].tag, wrong);
        }
    }
    ok(exact, "a cursor at any message leaves out exactly those up to it");
    free(v);
}

static void as_worker(void)
{
    many_in_one_second(publish_worker);
}

static void as_single(void)
{
    many_in_one_second(publish_single);
}

static void clock_back(void)
{
    struct server s = {0};
    struct stamp a = publish_single(&s, T0 + 5);
    struct stamp b = publish_single(&s, T0); /* the clock stepped back */
    ok(b.created == T0 + 5 && b.tag == a.tag + 1 && after(b, a),
       "a clock that steps back: the message is stamped in the newest second, after the last");
}

int main(void)
{
    subtest("more than 65535 publishes in a second, stamped as workers do", as_worker);
    subtest("the same stamped as the single loop and the Redis store do", as_single);
    subtest("creation times never go back", clock_back);
    return done_testing();
}
