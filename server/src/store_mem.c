#include "first.h"

#include "store.h"

/* The in-memory store: the channel histories are all there is, so a
 * restart starts empty. */

static int mem_open(struct server *s, char *err, size_t errlen)
{
    (void)s;
    (void)err;
    (void)errlen;
    return 0;
}

static void mem_publish(struct server *s, const struct msg *m, char *const *ids, size_t n)
{
    (void)s;
    (void)m;
    (void)ids;
    (void)n;
}

static void mem_delete(struct server *s, char *const *ids, size_t n)
{
    (void)s;
    (void)ids;
    (void)n;
}

static bool mem_writable(const struct server *s)
{
    (void)s;
    return true;
}

static void mem_noop(struct server *s)
{
    (void)s;
}

static void mem_tick(struct server *s, double now)
{
    (void)s;
    (void)now;
}

const struct store_ops store_mem_ops = {
    .name = "memory",
    .open = mem_open,
    .publish = mem_publish,
    .delete_channels = mem_delete,
    .writable = mem_writable,
    .before_sleep = mem_noop,
    .tick = mem_tick,
    .close = mem_noop,
};
