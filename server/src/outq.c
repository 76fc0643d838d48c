#include "first.h"

#include "outq.h"
#include "msg.h"
#include "util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Owned segments are allocated with room to spare so that the next small
 * piece (a frame header, a chunk of headers) joins the same segment. */
#define OUTQ_INLINE_MIN 256

struct outq_seg {
    struct outq_seg *next;
    struct msg *m;    /* reference held while queued, or NULL */
    const uint8_t *p; /* first unwritten byte */
    size_t len;       /* unwritten bytes */
    size_t cap;       /* inline capacity (bytes after the struct) */
    bool unit_end;    /* a whole frame or answer ends here (outq_end_unit) */
    uint8_t data[];
};

/* A message's bytes are shared by every queue that views it (a fan-out
 * queues one message to thousands): counted once, from the first view to
 * the last, across the workers. */
static atomic_size_t shared_bytes;

size_t outq_shared_bytes(void)
{
    return atomic_load_explicit(&shared_bytes, memory_order_relaxed);
}

void outq_init(struct outq *q)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
    q->mem = 0;
}

static size_t seg_mem(const struct outq_seg *s)
{
    return sizeof *s + s->cap;
}

static void seg_free(struct outq_seg *s)
{
    if (s->m && atomic_fetch_sub_explicit(&s->m->qrefs, 1, memory_order_acq_rel) == 1)
        atomic_fetch_sub_explicit(&shared_bytes, msg_footprint(s->m), memory_order_relaxed);
    msg_unref(s->m);
    free(s);
}

/* Frees s, which q no longer links. */
static void drop_seg(struct outq *q, struct outq_seg *s)
{
    q->mem -= seg_mem(s);
    seg_free(s);
}

void outq_clear(struct outq *q)
{
    struct outq_seg *s = q->head;
    while (s) {
        struct outq_seg *next = s->next;
        seg_free(s);
        s = next;
    }
    outq_init(q);
}

static void push(struct outq *q, struct outq_seg *s)
{
    s->next = NULL;
    s->unit_end = false;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    q->bytes += s->len;
    q->mem += seg_mem(s);
}

void outq_append(struct outq *q, const void *p, size_t n)
{
    if (!n)
        return;
    struct outq_seg *t = q->tail;
    if (t && t->cap && !t->unit_end && t->p + t->len + n <= t->data + t->cap) {
        memcpy((uint8_t *)t->p + t->len, p, n);
        t->len += n;
        q->bytes += n;
        return;
    }
    size_t cap = n < OUTQ_INLINE_MIN ? OUTQ_INLINE_MIN : n;
    struct outq_seg *s = xmalloc(sizeof *s + cap);
    s->m = NULL;
    s->cap = cap;
    memcpy(s->data, p, n);
    s->p = s->data;
    s->len = n;
    push(q, s);
}

void outq_append_msg(struct outq *q, struct msg *m, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    struct outq_seg *s = xmalloc(sizeof *s);
    s->m = msg_ref(m);
    if (atomic_fetch_add_explicit(&m->qrefs, 1, memory_order_acq_rel) == 0)
        atomic_fetch_add_explicit(&shared_bytes, msg_footprint(m), memory_order_relaxed);
    s->cap = 0;
    s->p = p;
    s->len = n;
    push(q, s);
}

void outq_end_unit(struct outq *q)
{
    if (q->tail)
        q->tail->unit_end = true;
}

size_t outq_trim(struct outq *q, size_t keep)
{
    size_t kept = 0;
    struct outq_seg *s = q->head;
    while (s && !(s->unit_end && kept + s->len >= keep)) {
        kept += s->len;
        s = s->next;
    }
    if (!s)
        return 0; /* no unit ends far enough: nothing can go */
    size_t dropped = 0;
    struct outq_seg *rest = s->next;
    s->next = NULL;
    q->tail = s;
    while (rest) {
        struct outq_seg *next = rest->next;
        dropped += rest->len;
        drop_seg(q, rest);
        rest = next;
    }
    q->bytes -= dropped;
    return dropped;
}

ssize_t outq_sendv(int fd, const struct iovec *iov, int n)
{
    if (n == 1)
        return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

ssize_t outq_write(struct outq *q, int fd)
{
    size_t total = 0;
    while (q->head && total < OUTQ_MAX_WRITE) {
        struct iovec iov[OUTQ_MAX_IOV];
        int n = 0;
        size_t want = 0;
        for (struct outq_seg *s = q->head; s && n < OUTQ_MAX_IOV; s = s->next) {
            iov[n].iov_base = (void *)s->p;
            iov[n].iov_len = s->len;
            want += s->len;
            n++;
        }
        ssize_t w = outq_sendv(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        total += (size_t)w;
        outq_consume(q, (size_t)w);
        if ((size_t)w < want)
            break; /* the socket buffer is full */
    }
    return (ssize_t)total;
}

void outq_consume(struct outq *q, size_t n)
{
    q->bytes -= n;
    while (n) {
        struct outq_seg *s = q->head;
        if (n < s->len) {
            s->p += n;
            s->len -= n;
            break;
        }
        n -= s->len;
        q->head = s->next;
        if (!q->head)
            q->tail = NULL;
        drop_seg(q, s);
    }
}

size_t outq_peek(const struct outq *q, uint8_t *dst, size_t cap)
{
    size_t n = 0;
    for (const struct outq_seg *s = q->head; s && n < cap; s = s->next) {
        size_t k = s->len < cap - n ? s->len : cap - n;
        memcpy(dst + n, s->p, k);
        n += k;
    }
    return n;
}
