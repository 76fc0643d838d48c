#include "first.h"

#include "outq.h"
#include "msg.h"
#include "util.h"

#include <errno.h>
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
    uint8_t data[];
};

void outq_init(struct outq *q)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
}

static void seg_free(struct outq_seg *s)
{
    msg_unref(s->m);
    free(s);
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
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    q->bytes += s->len;
}

void outq_append(struct outq *q, const void *p, size_t n)
{
    if (!n)
        return;
    struct outq_seg *t = q->tail;
    if (t && t->cap && t->p + t->len + n <= t->data + t->cap) {
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
    s->cap = 0;
    s->p = p;
    s->len = n;
    push(q, s);
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
        seg_free(s);
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
