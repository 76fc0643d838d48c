/* A connection's output: a queue of segments, each either bytes owned by the
 * queue (status lines, headers, frame headers: small pieces are coalesced
 * into one segment) or a view of a message's cached encoding, which holds a
 * reference to the message. Written with send/sendmsg, at most OUTQ_MAX_IOV
 * segments and OUTQ_MAX_WRITE bytes per call for fairness. */
#ifndef PULLBOX_OUTQ_H
#define PULLBOX_OUTQ_H

#include "first.h"

#include <sys/types.h>

struct msg;

#define OUTQ_MAX_IOV 64
#define OUTQ_MAX_WRITE (256 * 1024)

struct outq_seg;

struct outq {
    struct outq_seg *head, *tail;
    size_t bytes; /* not yet written */
    size_t mem;   /* heap the queue holds itself: segments and the bytes they own */
};

void outq_init(struct outq *q);
/* Drops every segment (and the message references they hold). */
void outq_clear(struct outq *q);
/* Copies n bytes onto the queue. */
void outq_append(struct outq *q, const void *p, size_t n);
/* Queues n bytes at p that live inside message m (takes a new reference). */
void outq_append_msg(struct outq *q, struct msg *m, const uint8_t *p, size_t n);
/* Marks the end of what is queued so far as the end of a whole unit (a
 * frame, an answer): nothing appended later joins its segment, so that
 * outq_trim can cut there. */
void outq_end_unit(struct outq *q);
/* Drops what is queued after the first unit end that keeps at least keep
 * bytes (the unit being written is never cut, so the peer's stream stays
 * well-formed). Returns the bytes dropped, 0 when no unit ends there. */
size_t outq_trim(struct outq *q, size_t keep);
/* The footprint (msg_footprint) of every message some queue of this process
 * views, each counted once however many queues view it: with each queue's
 * mem, what all output takes. Any thread. */
size_t outq_shared_bytes(void);
struct iovec;
/* Sends n buffers on socket fd: send() for one (no iovec for the kernel to
 * walk), sendmsg() for more; neither goes through the VFS write path as
 * writev() does. Returns what send()/sendmsg() return. */
ssize_t outq_sendv(int fd, const struct iovec *iov, int n);
/* Writes as much as the socket takes. Returns bytes written (>= 0), or
 * -errno on a socket error (-EAGAIN is mapped to 0). */
ssize_t outq_write(struct outq *q, int fd);

/* Copies up to cap bytes from the front of the queue into dst without
 * consuming them (for TLS, which encrypts one record at a time). */
size_t outq_peek(const struct outq *q, uint8_t *dst, size_t cap);
/* Drops n written bytes from the front of the queue. */
void outq_consume(struct outq *q, size_t n);

#endif
