/* Message ids: 10-digit start time + 16-digit counter (the Push server
 * 1.0/2.0 layout), so ids sort by string and a restart a second later sorts
 * after; and push-stream tags, a counter within one second. */
#include "first.h"

#include "mid.h"
#include "server.h"
#include "store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With workers: the counter of the newest mid this run has issued. It is
 * raised after a publish is given its mid and before any worker delivers
 * it, so it covers every mid a client can hold, and subscribers check
 * resume mids against it without taking the publish lock (which the
 * journal holds while it syncs). */
static atomic_uint_least64_t issued_counter;

void mid_next(struct server *s, char out[27])
{
    snprintf(out, 27, "%010u%016llu", s->start_time, (unsigned long long)++s->mid_counter);
}

uint32_t mid_tag_time(const struct server *s, uint32_t now)
{
    return now < s->tag_second ? s->tag_second : now;
}

uint16_t mid_next_tag(struct server *s, uint32_t created)
{
    if (created != s->tag_second) {
        s->tag_second = created;
        s->tag = 0;
    }
    uint16_t tag = ++s->tag;
    /* The second's last tag: the next message is the first of the next
     * second (its creation time moves on with tag_second), so that (time,
     * tag) grows with every publish and a push-stream cursor neither skips
     * nor repeats a message. A tag wrapped to 0 would do both: the cursor
     * after 65535 would leave out the second's later messages, the one
     * after 5 would send its first 65530 again. */
    if (tag == UINT16_MAX) {
        s->tag_second++;
        s->tag = 0;
    }
    return tag;
}

void mid_note_issued(const struct server *s, const char *mid)
{
    char prefix[11];
    snprintf(prefix, sizeof prefix, "%010u", s->start_time);
    if (memcmp(mid, prefix, 10) != 0)
        return; /* a mid of an earlier run (the journal's) */
    uint64_t n = strtoull(mid + 10, NULL, 10);
    uint64_t cur = atomic_load_explicit(&issued_counter, memory_order_relaxed);
    while (cur < n && !atomic_compare_exchange_weak_explicit(
                          &issued_counter, &cur, n, memory_order_relaxed, memory_order_relaxed))
        ;
}

void mid_continue(uint64_t counter)
{
    atomic_store_explicit(&issued_counter, counter, memory_order_relaxed);
}

/* Mids are the start time and a counter, and the journal store continues
 * above the newest replayed one, so every mid given out so far sorts at or
 * below the next one's predecessor. A client holding a higher mid got it
 * from somewhere else (a forged message body, another cluster): resuming
 * after it would hide every real message, so it is treated as unknown. The
 * Redis store issues mids cluster-wide and checks them itself (its fetch). */
bool mid_issued(const struct server *s, const char *mid)
{
    if (s->store->fans_out)
        return true;
    uint64_t counter =
        s->hub ? atomic_load_explicit(&issued_counter, memory_order_relaxed) : s->mid_counter;
    char top[27];
    snprintf(top, sizeof top, "%010u%016llu", s->start_time, (unsigned long long)counter);
    return strcmp(mid, top) <= 0;
}
