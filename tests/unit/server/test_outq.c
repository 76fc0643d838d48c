/* Unit tests for server/src/outq.c through a real socketpair whose peer
 * reads slowly: partial writes resume at the right byte, small pieces join
 * one segment, message-backed segments hold their reference exactly while
 * queued, peek/consume (the TLS path) agree with writev, and a write is
 * capped per call for fairness, and a trim cuts only where a frame ends. */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/jsontext.c"
#include "../../../server/src/msg.c"
#include "../../../server/src/outq.c"
#include "../../../server/src/pb.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* ok() with a printf message */
#define okf(cond, ...)                                                                             \
    do {                                                                                           \
        char what_[256];                                                                           \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                                \
        ok(cond, what_);                                                                           \
    } while (0)

static int pair[2]; /* [0] written by the queue (non-blocking), [1] read by the test */

static void open_pair(int sndbuf)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        perror("socketpair");
        exit(1);
    }
    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK);
}

static void close_pair(void)
{
    close(pair[0]);
    close(pair[1]);
}

/* Reads what is in the socket now (up to cap) into out at *got. */
static void drain(uint8_t *out, size_t cap, size_t *got)
{
    fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK);
    for (;;) {
        ssize_t r = read(pair[1], out + *got, cap - *got);
        if (r <= 0)
            break;
        *got += (size_t)r;
    }
}

/* A pattern where every offset has its own byte sequence, so a resumed
 * write at the wrong place shows. */
static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 131 + seed) ^ (i >> 8));
}

static void test_partial_writes(void)
{
    enum { N = 3 * 1024 * 1024 };
    uint8_t *want = malloc(N), *got = malloc(N);
    pattern(want, N, 7);
    open_pair(4096);
    struct outq q;
    outq_init(&q);
    /* a mix of small inline pieces and big message-backed ones */
    struct msg *m = msg_new("17959427310000000000000001", 1, 1795942731, 1, 60, want + 1000,
                            N / 2);
    outq_append(&q, want, 10);
    outq_append(&q, want + 10, 990);
    outq_append_msg(&q, m, m->body, m->body_len);
    outq_append(&q, want + 1000 + N / 2, N - 1000 - N / 2);
    okf(q.bytes == N, "queued bytes add up (%zu)", q.bytes);
    ok(atomic_load(&m->refs) == 2, "the queue holds one reference to the message");

    size_t have = 0, calls = 0, partial = 0;
    bool counted = true, capped = true;
    while (q.bytes && calls < 100000) {
        size_t before = q.bytes;
        ssize_t w = outq_write(&q, pair[0]);
        calls++;
        if (w < 0) {
            note("write error %zd", w);
            break;
        }
        counted = counted && (size_t)w == before - q.bytes;
        if (q.bytes && w > 0)
            partial++;
        capped = capped && (size_t)w <= OUTQ_MAX_WRITE;
        drain(got, N, &have);
    }
    drain(got, N, &have);
    okf(q.bytes == 0 && have == N, "everything arrived (%zu of %d bytes, %zu calls)", have, N, calls);
    ok(counted, "every return value is what left the queue");
    ok(capped, "no call writes more than OUTQ_MAX_WRITE");
    okf(partial > 10, "the socket took it in many partial writes (%zu)", partial);
    ok(memcmp(got, want, N) == 0, "byte for byte, in order: each partial write resumed in place");
    ok(atomic_load(&m->refs) == 1, "the message's reference was dropped once its bytes were out");
    msg_unref(m);
    close_pair();
    free(want);
    free(got);
}

static void test_coalescing(void)
{
    struct outq q;
    outq_init(&q);
    for (int i = 0; i < 20; i++)
        outq_append(&q, "0123456789", 10);
    int segs = 0;
    for (struct outq_seg *s = q.head; s; s = s->next)
        segs++;
    okf(segs == 1 && q.bytes == 200, "20 small pieces share one segment (%d segments)", segs);
    outq_append(&q, "", 0);
    ok(q.bytes == 200, "an empty append adds nothing");
    outq_clear(&q);
    ok(q.head == NULL && q.tail == NULL && q.bytes == 0, "clear empties the queue");
}

static void test_peek_consume(void)
{
    uint8_t data[5000], out[5000];
    pattern(data, sizeof data, 3);
    struct msg *m = msg_new("17959427310000000000000002", 2, 1795942731, 1, 60, data + 100, 4000);
    struct outq q;
    outq_init(&q);
    outq_append(&q, data, 100);
    outq_append_msg(&q, m, m->body, m->body_len);
    outq_append(&q, data + 4100, 900);
    size_t n = outq_peek(&q, out, 250);
    ok(n == 250 && memcmp(out, data, 250) == 0, "peek crosses segments without consuming");
    outq_consume(&q, 150);
    n = outq_peek(&q, out, sizeof out);
    ok(n == 4850 && memcmp(out, data + 150, n) == 0 && q.bytes == 4850,
       "consume drops exactly n bytes; peek then starts there");
    outq_consume(&q, 4850);
    ok(q.bytes == 0 && q.head == NULL && atomic_load(&m->refs) == 1,
       "consuming everything frees the segments and the message reference");
    msg_unref(m);
}

/* The memory count: a queue's own heap follows its segments, and a message
 * viewed by two queues counts once in the shared bytes, until the last view
 * goes (a consume, a trim or a clear). */
static void test_memory_count(void)
{
    uint8_t data[3000];
    pattern(data, sizeof data, 4);
    struct msg *m = msg_new("17959427310000000000000004", 4, 1795942731, 1, 60, data, 2000);
    size_t base = outq_shared_bytes(), fp = msg_footprint(m);
    ok(fp >= 2000, "a message's footprint covers its body");
    struct outq a, b;
    outq_init(&a);
    outq_init(&b);
    outq_append(&a, data, 10);
    size_t own = a.mem;
    ok(own >= 10 && outq_shared_bytes() == base, "owned bytes count in the queue's own memory");
    outq_append_msg(&a, m, m->body, 1000);
    outq_append_msg(&a, m, m->body + 1000, 1000);
    outq_append_msg(&b, m, m->body, m->body_len);
    okf(outq_shared_bytes() == base + fp, "three views of one message in two queues count it once "
        "(%zu more, its footprint %zu)", outq_shared_bytes() - base, fp);
    ok(a.mem > own && a.mem < own + 1000, "a view adds its segment, not the message's bytes");
    outq_consume(&a, 10 + 1000);
    ok(outq_shared_bytes() == base + fp && a.mem < own + 200,
       "consuming a view frees its segment; the message stays counted while viewed");
    outq_clear(&b);
    ok(outq_shared_bytes() == base + fp && b.mem == 0, "clearing one queue: still viewed by the other");
    outq_consume(&a, 1000);
    ok(outq_shared_bytes() == base && a.mem == 0 && atomic_load(&m->qrefs) == 0,
       "the last view gone, the message no longer counts");
    msg_unref(m);
}

/* Three frames, each a header then a body (the second body a message's
 * bytes): trimming while the first is half written keeps exactly the rest
 * of that frame, so the peer never sees a cut one; a unit end stops small
 * pieces from joining its segment. */
static void test_trim(void)
{
    uint8_t data[3000], out[3000];
    pattern(data, sizeof data, 4);
    struct msg *m = msg_new("17959427310000000000000003", 3, 1795942731, 1, 60, data + 1010, 1000);
    struct outq q;
    outq_init(&q);
    outq_append(&q, data, 10);
    outq_append(&q, data + 10, 1000);
    outq_end_unit(&q);
    outq_append(&q, data + 1000, 10);
    ok(q.tail->len == 10, "a piece after a unit end starts a segment of its own");
    outq_append_msg(&q, m, m->body, m->body_len);
    outq_end_unit(&q);
    outq_append(&q, data + 2010, 990);
    outq_end_unit(&q);
    outq_consume(&q, 500);
    size_t dropped = outq_trim(&q, 0);
    size_t n = outq_peek(&q, out, sizeof out);
    okf(dropped == 2000 && q.bytes == 510 && n == 510 && memcmp(out, data + 500, n) == 0,
        "trim keeps the rest of the frame being written, drops the others (%zu dropped, %zu kept)",
        dropped, q.bytes);
    ok(atomic_load(&m->refs) == 1, "the dropped message segment let its reference go");
    outq_append(&q, "x", 1);
    n = outq_peek(&q, out, sizeof out);
    ok(n == 511 && out[510] == 'x', "what is appended after a trim follows the kept frame");
    outq_clear(&q);

    outq_append(&q, data, 10);
    outq_end_unit(&q);
    outq_append_msg(&q, m, m->body, m->body_len);
    outq_end_unit(&q);
    outq_append(&q, data, 990);
    outq_end_unit(&q);
    dropped = outq_trim(&q, 500);
    ok(dropped == 990 && q.bytes == 1010, "keep: whole frames are kept up to at least that many bytes");
    ok(outq_trim(&q, 5000) == 0 && q.bytes == 1010, "no unit ends far enough: nothing is dropped");
    outq_clear(&q);
    outq_append(&q, data, 10);
    ok(outq_trim(&q, 0) == 0 && q.bytes == 10, "no unit end at all: nothing is dropped");
    outq_clear(&q);
    msg_unref(m);
}

static void test_closed_peer(void)
{
    open_pair(4096);
    close(pair[1]);
    struct outq q;
    outq_init(&q);
    outq_append(&q, "hello", 5);
    ssize_t w = outq_write(&q, pair[0]);
    okf(w == -EPIPE || w == -ECONNRESET, "a closed peer is -EPIPE, not a crash or 0 (%zd)", w);
    ok(q.bytes == 5, "nothing is consumed on an error");
    outq_clear(&q);
    close(pair[0]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    subtest("partial writes through a socketpair", test_partial_writes);
    subtest("small pieces coalesce", test_coalescing);
    subtest("peek and consume", test_peek_consume);
    subtest("trim at a unit end", test_trim);
    subtest("the memory count", test_memory_count);
    subtest("a peer that closed", test_closed_peer);
    return done_testing();
}
