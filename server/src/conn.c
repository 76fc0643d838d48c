#include "first.h"

#include "conn.h"
#include "gauges.h"
#include "log.h"
#include "msg.h"
#include "server.h"
#include "tls.h"
#include "transport.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Bytes asked of the kernel per read: one syscall takes a typical publish. */
#define CONN_READ_CHUNK 16384

/* Output queued beyond this stops reading the connection until the peer has
 * taken it. Without it a client that sends requests or pings and never reads
 * the answers makes the server hold them all (an OPTIONS answer is nine times
 * its request). Small, since it is held per connection; it is checked before
 * each request or frame is handled, so one answer may go past it. */
#define CONN_OUT_PAUSE (16 * 1024)

/* Connections dropped at most per loop turn for max-output-memory, the
 * ones holding the most first: one pass over the connections finds them. */
#define CONN_SHED_MAX 32

/* The time one loop turn spends writing the backlog (the rest of a big
 * fan-out) before it polls again. A count would not do: a write that
 * carries a few dozen messages costs ten times one that carries one, and
 * 256 such writes held a turn for 5 ms at 5,000 subscribers, which is what
 * a publish waited for its answer. */
#define CONN_BACKLOG_BUDGET_NS 500000u

/* How often parked requests look whether they may go, in seconds. */
#define CONN_PARK_LOOK 0.001

static const char conn_err_peer[] = "peer closed";
static const char conn_err_io[] = "socket error";
static const char conn_err_timeout[] = "timeout";
static const char conn_err_send_timeout[] = "peer takes no output (send-timeout)";
static const char conn_err_out_memory[] =
    "server busy: output queued to all clients over max-output-memory, reconnect and resume";
static const char conn_err_out_buffer[] =
    "output not read: queued over max-output-buffer, reconnect and resume";

static void on_read(struct ev_loop *loop, ev_io *w, int revents);
static void on_write(struct ev_loop *loop, ev_io *w, int revents);
static void handle_input(struct conn *c);

static double tl_interval(const struct server *s, enum tlist tl)
{
    const struct config *cfg = &s->cfg;
    switch (tl) {
    case TL_IDLE:
        return (double)cfg->idle_timeout;
    case TL_HEADER:
    case TL_CLOSING:
        return (double)cfg->header_timeout;
    case TL_HANDSHAKE:
        return (double)cfg->tls_handshake_timeout;
    case TL_LONGPOLL:
        return (double)cfg->longpoll_timeout;
    case TL_PING:
        return (double)cfg->ws_ping_interval;
    case TL_RPC_PING:
        return (double)cfg->jsonrpc_ping_interval;
    default:
        return 0;
    }
}

/* Moves c to the tail of timeout list tl with a deadline one interval from
 * now (TL_NONE: no timeout). */
void conn_set_timer(struct conn *c, enum tlist tl)
{
    if (c->tlist != TL_NONE)
        list_del(&c->timer_node);
    c->tlist = (int8_t)tl;
    if (tl == TL_NONE)
        return;
    c->deadline = ev_now(c->srv->loop) + tl_interval(c->srv, tl);
    list_add_tail(&c->srv->timers[tl], &c->timer_node);
}

void conn_accept(struct listener *l, int fd, const struct addr_key *peer)
{
    struct server *s = l->srv;
    struct conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    if (peer) {
        c->peer = *peer;
        c->peer_counted = true;
    }
    c->srv = s;
    c->role = (uint8_t)l->role;
    c->state = CONN_HTTP;
    c->tp = l->proto;
    c->tlist = TL_NONE;
    c->since = ev_now(s->loop);
    buf_init(&c->in);
    outq_init(&c->out);
    list_init(&c->timer_node);
    list_init(&c->flush_node);
    list_init(&c->stall_node);
    list_add_tail(&s->conns, &c->node);
    ev_io_init(&c->rio, on_read, fd, EV_READ);
    ev_io_init(&c->wio, on_write, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    ev_io_start(s->loop, &c->rio);
    if (l->tls && s->tls_ctx) {
        c->ssl = SSL_new(s->tls_ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
            conn_close(c, "TLS setup failed");
            return;
        }
        SSL_set_accept_state(c->ssl);
        c->flags |= CONN_F_TLS_HS;
        conn_set_timer(c, TL_HANDSHAKE);
    } else {
        conn_set_timer(c, TL_IDLE);
    }
    s->m.connections_total++;
    s->m.n_conns++;
    gauges_changed(s);
    if (c->role == ROLE_SUBSCRIBE) {
        s->m.n_client_conns++;
        if (s->hub)
            atomic_fetch_add_explicit(&s->hub->n_client_conns, 1, memory_order_relaxed);
    }
}

/* Whoever schedules a flush has queued whole frames: where a transport
 * may end after queued output, that is a place its queue may be cut
 * (drop_holding). Elsewhere small pieces keep joining one segment. */
static void mark_unit_end(struct conn *c)
{
    if (c->tp && c->tp->end_after_output)
        outq_end_unit(&c->out);
}

void conn_schedule_flush(struct conn *c)
{
    mark_unit_end(c);
    if (c->flags & CONN_F_BACKLOG) {
        /* output other than a big fan-out's (an answer, a ping, a small
         * channel's message) goes this turn, and what waited with it */
        list_del(&c->flush_node);
        c->flags &= (uint16_t) ~(CONN_F_PENDING | CONN_F_BACKLOG);
    }
    if (c->flags & (CONN_F_PENDING | CONN_F_CLOSING))
        return;
    c->flags |= CONN_F_PENDING;
    /* the Bitrix server's answers go first: it counts a publish that waits
     * as an error and stops publishing after ten, and a fan-out may have
     * put hundreds of subscribers on the list before them */
    if (c->role == ROLE_PUBLISH)
        list_insert_after(&c->srv->pending, &c->flush_node);
    else
        list_add_tail(&c->srv->pending, &c->flush_node);
}

void conn_schedule_backlog(struct conn *c)
{
    mark_unit_end(c);
    if (c->flags & (CONN_F_PENDING | CONN_F_CLOSING))
        return;
    c->flags |= CONN_F_PENDING | CONN_F_BACKLOG;
    list_add_tail(&c->srv->backlog, &c->flush_node);
}

bool conn_output_full(const struct conn *c)
{
    return c->out.bytes > CONN_OUT_PAUSE;
}

/* Sets what c's peer has not taken as of the last write or flush, and the
 * worker's sum of it (what max-output-memory bounds). */
static void set_out_mark(struct conn *c, size_t n)
{
    c->srv->m.out_queued = c->srv->m.out_queued - c->out_mark + n;
    c->out_mark = n;
}

bool conn_input_budget_full(const struct conn *c, size_t more)
{
    const struct server *s = c->srv;
    if (c->role != ROLE_SUBSCRIBE)
        return false; /* the publish port faces the Bitrix server only */
    size_t share = (size_t)s->cfg.max_input_memory / (s->hub ? s->hub->n : 1);
    return s->in_large + more > share;
}

/* Charges what c holds past one read chunk (its input buffer, a message in
 * fragments) to the worker's max-input-memory count. */
static void account_input(struct conn *c)
{
    size_t now = c->in.cap > CONN_READ_CHUNK ? c->in.cap : 0;
    if (c->tp && c->tp->held)
        now += c->tp->held(c);
    c->srv->in_large = c->srv->in_large - c->in_charged + now;
    c->in_charged = now;
}

/* Growing c's input buffer would pass max-input-memory: the request (or
 * message) is refused with a status that asks to retry. */
static bool input_refused(struct conn *c)
{
    if (c->in.cap - c->in.len >= CONN_READ_CHUNK || c->in.len < CONN_READ_CHUNK ||
        !conn_input_budget_full(c, c->in.cap))
        return false;
    c->srv->m.drops_limit++;
    if (c->state == CONN_SUB) {
        c->in.len = 0;
        c->tp->end(c, 1013, "server busy: max-input-memory, retry later"); /* try again later */
    } else {
        c->tp->end(c, 503, "Server busy: requests held exceed max-input-memory, retry later");
    }
    return true;
}

void conn_send(struct conn *c, const void *p, size_t n)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    outq_append(&c->out, p, n);
    conn_schedule_flush(c);
}

/* The most one SSL_write() is given: one record's worth (the partial-write
 * mode returns after each record anyway). */
#define TLS_RECORD_MAX 16384

/* One SSL_write() of up to a record from p: bytes taken (> 0), 0 when the
 * socket is full (or the peer must be read first), -EIO on an error. */
static ssize_t tls_send(struct conn *c, const void *p, size_t n)
{
    ERR_clear_error();
    int w = SSL_write(c->ssl, p, (int)(n < TLS_RECORD_MAX ? n : TLS_RECORD_MAX));
    if (w > 0)
        return w;
    int e = SSL_get_error(c->ssl, w);
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -EIO;
}

void conn_send_pieces(struct conn *c, const struct conn_piece *v, size_t n)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    size_t done = 0;
    bool idle = c->out.bytes == 0 && !(c->flags & (CONN_F_WRITING | CONN_F_TLS_HS));
    if (idle && !c->ssl) {
        struct iovec iov[OUTQ_MAX_IOV];
        size_t k = n < OUTQ_MAX_IOV ? n : OUTQ_MAX_IOV;
        for (size_t i = 0; i < k; i++) {
            iov[i].iov_base = (void *)v[i].p;
            iov[i].iov_len = v[i].len;
        }
        ssize_t w;
        do
            w = outq_sendv(c->fd, iov, (int)k);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_close(c, conn_err_io);
            return;
        }
        if (w > 0) {
            done = (size_t)w;
            c->srv->m.bytes_out += done;
        }
    } else if (idle && n == 1) {
        /* TLS, one piece (a whole frame): encrypted from where it lies,
         * without queueing it first. What the socket does not take is
         * queued as usual, and tls_write() retries it from the queue's
         * front, as the pending record requires (the same bytes, which the
         * moving-buffer mode lets sit elsewhere) */
        ssize_t w = tls_send(c, v[0].p, v[0].len);
        if (w < 0) {
            conn_close(c, conn_err_io);
            return;
        }
        done = (size_t)w;
        c->srv->m.bytes_out += done;
    }
    for (size_t i = 0; i < n; i++) {
        if (done >= v[i].len) {
            done -= v[i].len;
            continue;
        }
        const uint8_t *p = (const uint8_t *)v[i].p + done;
        size_t len = v[i].len - done;
        done = 0;
        if (v[i].m)
            outq_append_msg(&c->out, v[i].m, p, len);
        else
            outq_append(&c->out, p, len);
    }
    if (c->out.bytes)
        conn_schedule_flush(c);
}

void conn_unsubscribe_all(struct conn *c)
{
    struct server *s = c->srv;
    double now = ev_now(s->loop);
    for (uint16_t i = 0; i < c->n_links; i++)
        chan_unsubscribe(&s->chans, &c->links[i], now);
    free(c->links);
    c->links = NULL;
    c->n_links = 0;
    for (uint32_t i = 0; i < c->n_pend; i++)
        msg_unref(c->pend[i]);
    s->m.deliveries_queued -= c->n_pend;
    free(c->pend);
    c->pend = NULL;
    c->n_pend = c->cap_pend = 0;
    /* who the subscription was: a kept-alive long-poll connection may
     * subscribe as someone else next */
    free(c->user_id);
    c->user_id = NULL;
    c->has_pub_id = false;
    conn_uncount(c);
}

void conn_uncount(struct conn *c)
{
    struct server *s = c->srv;
    if (!(c->flags & CONN_F_COUNTED))
        return;
    c->flags &= (uint16_t)~CONN_F_COUNTED;
    gauges_count_format(s, c->fmt, -1);
    if (c->state == CONN_SUB)
        s->m.n_subs[c->tp->id]--;
    gauges_changed(s);
}

/* Takes c off the parked list (its request goes, or it is closed). */
static void unpark_one(struct server *s, struct conn *c)
{
    c->flags &= (uint16_t)~CONN_F_PARKED;
    for (size_t i = 0; i < s->n_parked; i++)
        if (s->parked[i] == c) {
            s->parked[i] = s->parked[--s->n_parked];
            break;
        }
}

void conn_close(struct conn *c, const char *reason)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    struct server *s = c->srv;
    c->close_reason = reason;
    conn_unsubscribe_all(c);
    c->flags |= CONN_F_CLOSING;
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    conn_set_timer(c, TL_NONE);
    if (list_linked(&c->stall_node))
        list_del(&c->stall_node);
    if (c->flags & CONN_F_PENDING) {
        list_del(&c->flush_node);
        c->flags &= (uint16_t) ~(CONN_F_PENDING | CONN_F_BACKLOG);
    }
    if (c->flags & CONN_F_PARKED)
        unpark_one(s, c);
    list_del(&c->node);
    list_add_tail(&s->closing, &c->node);
}

void conn_close_after_write(struct conn *c)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    c->flags |= CONN_F_CLOSE_AFTER;
    /* nothing more is read: a peer that keeps sending cannot hold us */
    ev_io_stop(c->srv->loop, &c->rio);
    conn_unsubscribe_all(c);
    conn_set_timer(c, TL_CLOSING);
    conn_schedule_flush(c);
}

static void conn_free(struct conn *c)
{
    struct server *s = c->srv;
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    log_debug("connection %d closed: %s", c->fd, c->close_reason ? c->close_reason : "-");
    if (c->ssl)
        SSL_free(c->ssl);
    close(c->fd);
    if (c->tp && c->tp->free)
        c->tp->free(c);
    outq_clear(&c->out);
    buf_deinit(&c->in);
    free(c->user_id);
    s->in_large -= c->in_charged;
    set_out_mark(c, 0);
    s->m.n_conns--;
    gauges_changed(s);
    if (c->peer_counted)
        addr_table_release(s->home->addrs, &c->peer);
    if (c->role == ROLE_SUBSCRIBE) {
        s->m.n_client_conns--;
        if (s->hub)
            atomic_fetch_sub_explicit(&s->hub->n_client_conns, 1, memory_order_relaxed);
    }
    free(c);
}

/* Frees the connections closed during this iteration (never inside the
 * callback that found the error, so no caller is left holding a freed conn). */
void conn_reap(struct server *s)
{
    while (!list_empty(&s->closing)) {
        struct conn *c = list_first(&s->closing, struct conn, node);
        list_del(&c->node);
        conn_free(c);
    }
}

/* ---- transport: plain TCP or TLS ---- */

/* (Re)starts the send-timeout: the peer has until then to take some output.
 * One ordered list serves every connection, as all share the interval. */
static void stall_start(struct conn *c)
{
    struct server *s = c->srv;
    if (list_linked(&c->stall_node))
        list_del(&c->stall_node);
    c->stall_deadline = ev_now(s->loop) + (double)s->cfg.send_timeout;
    list_add_tail(&s->stalled, &c->stall_node);
}

static void want_write(struct conn *c, bool on)
{
    if (on && !(c->flags & CONN_F_WRITING)) {
        c->flags |= CONN_F_WRITING;
        ev_io_start(c->srv->loop, &c->wio);
        stall_start(c);
    } else if (!on && (c->flags & CONN_F_WRITING)) {
        c->flags &= (uint16_t)~CONN_F_WRITING;
        ev_io_stop(c->srv->loop, &c->wio);
        if (list_linked(&c->stall_node))
            list_del(&c->stall_node);
    }
}

/* Input left unhandled that reading more would only add to: a long poll or
 * event stream (which handle no input until they end) or a waiting publish
 * with a request head's worth behind it, or a full buffer in any state. */
static bool input_full(const struct conn *c)
{
    const struct config *cfg = &c->srv->cfg;
    size_t limit = (size_t)cfg->max_header_size;
    if (c->state != CONN_PUBWAIT && c->tp && c->tp->input_cap)
        limit = c->tp->input_cap(c);
    return c->in.len >= limit;
}

/* Backpressure, in one place for every state and transport: a connection
 * with too much output queued, or input it cannot handle yet, is not read
 * (its socket buffer fills and the peer's sends block) until that changes;
 * then what is already buffered is handled at once. */
static void update_reading(struct conn *c)
{
    struct ev_loop *loop = c->srv->loop;
    if (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER | CONN_F_TLS_HS))
        return;
    bool pause = conn_output_full(c) || input_full(c) || (c->flags & CONN_F_PARKED);
    if (pause && !(c->flags & CONN_F_READ_PAUSED)) {
        c->flags |= CONN_F_READ_PAUSED;
        ev_io_stop(loop, &c->rio);
    } else if (!pause && (c->flags & CONN_F_READ_PAUSED)) {
        c->flags &= (uint16_t)~CONN_F_READ_PAUSED;
        ev_io_start(loop, &c->rio);
        ev_feed_event(loop, &c->rio, EV_READ);
    }
}

/* Encrypts from the front of the queue, a record at a time. The plaintext
 * copy is unavoidable: each connection's records are its own. Returns
 * bytes written or -errno; 0 when the socket is full. */
static ssize_t tls_write(struct conn *c)
{
    uint8_t rec[TLS_RECORD_MAX];
    size_t total = 0;
    while (c->out.bytes && total < OUTQ_MAX_WRITE) {
        size_t n = outq_peek(&c->out, rec, sizeof rec);
        ssize_t w = tls_send(c, rec, n);
        if (w <= 0)
            return w < 0 ? w : (ssize_t)total;
        outq_consume(&c->out, (size_t)w);
        total += (size_t)w;
    }
    return (ssize_t)total;
}

/* Reads into dst: bytes (> 0), 0 at end of stream, -EAGAIN or -errno. */
static ssize_t io_read(struct conn *c, uint8_t *dst, size_t n)
{
    if (!c->ssl) {
        ssize_t r = read(c->fd, dst, n);
        return r < 0 ? -errno : r;
    }
    ERR_clear_error();
    int r = SSL_read(c->ssl, dst, (int)n);
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_WANT_READ:
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        want_write(c, true);
        return -EAGAIN;
    case SSL_ERROR_SYSCALL:
        return errno ? -errno : 0;
    default:
        return -EIO;
    }
}

/* A TLS port that receives plain HTTP: say so in plain HTTP, as nginx
 * does, instead of a silent reset the admin cannot read. */
static bool plain_http_on_tls(struct conn *c)
{
    uint8_t b[8];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_PEEK);
    if (n <= 0 || b[0] == 0x16) /* 0x16: a TLS handshake record */
        return false;
    static const char resp[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        "Content-Length: 52\r\n\r\nThis port speaks TLS: use https:// or wss:// here.\r\n";
    bool http = (b[0] >= 'A' && b[0] <= 'Z');
    if (http) {
        /* take in what was sent, so that closing ends with a FIN the client
         * reads the answer before, not a reset that can discard it */
        uint8_t sink[4096];
        for (int i = 0; i < 16 && read(c->fd, sink, sizeof sink) > 0; i++)
            ;
        if (write(c->fd, resp, sizeof resp - 1) > 0)
            shutdown(c->fd, SHUT_WR);
    }
    c->srv->m.tls_failures++;
    conn_close(c, http ? "plain HTTP on the TLS port" : "not TLS");
    return true;
}

/* Advances the handshake. Returns true once it is done. */
static bool tls_handshake(struct conn *c)
{
    struct server *s = c->srv;
    if (SSL_in_before(c->ssl) && plain_http_on_tls(c))
        return false;
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->flags &= (uint16_t)~CONN_F_TLS_HS;
        s->m.tls_handshakes++;
        want_write(c, c->out.bytes > 0);
        conn_set_timer(c, TL_IDLE);
        return true;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        want_write(c, false);
        return false;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        want_write(c, true);
        return false;
    }
    s->m.tls_failures++;
    log_debug("TLS handshake failed: %s", tls_last_error());
    conn_close(c, "TLS handshake failed");
    return false;
}

static void conn_write(struct conn *c)
{
    struct server *s = c->srv;
    if (c->flags & CONN_F_TLS_HS) {
        tls_handshake(c);
        return;
    }
    ssize_t w = c->ssl ? tls_write(c) : outq_write(&c->out, c->fd);
    if (w < 0) {
        conn_close(c, conn_err_io);
        return;
    }
    s->m.bytes_out += (uint64_t)w;
    set_out_mark(c, c->out.bytes);
    if (c->out.bytes) {
        /* any progress restarts the send-timeout: only a peer that takes
         * nothing at all for that long is dropped */
        if (w > 0 && (c->flags & CONN_F_WRITING))
            stall_start(c);
        want_write(c, true);
        update_reading(c);
        return;
    }
    want_write(c, false);
    update_reading(c);
    if (c->flags & CONN_F_CLOSE_AFTER) {
        /* a lingering close: tell the peer we are done, then drop */
        if (c->ssl)
            SSL_shutdown(c->ssl);
        shutdown(c->fd, SHUT_WR);
        conn_close(c, "response sent");
    }
}

/* Drops c for the output it holds (reason: a static string naming the
 * limit): a transport that can say why after its queued frames (WebSocket)
 * keeps the frame being written, loses the rest (its deliveries are in
 * history: the client resumes by mid) and ends with 1013 once that is
 * written; anything else is closed. Returns the bytes given back. */
static size_t drop_holding(struct conn *c, const char *reason)
{
    size_t held = c->out_mark;
    if (c->state == CONN_SUB && c->tp->end_after_output && !(c->flags & CONN_F_CLOSE_AFTER)) {
        /* TLS retries a record of up to 16 KiB from the queue's front:
         * keep that much, so the retry finds the same bytes */
        outq_trim(&c->out, c->ssl ? 16384 : 0);
        set_out_mark(c, c->out.bytes);
        c->tp->end(c, 1013, reason);
        /* output queued since the last write may not all be gone */
        return held > c->out_mark ? held - c->out_mark : 0;
    }
    conn_close(c, reason);
    return held;
}

/* Writes one connection taken off the pending list or the backlog. */
static void flush_one(struct server *s, struct conn *c, void (*prepare)(struct conn *c))
{
    /* slow means: what earlier turns queued is still unread, and more
     * is coming. Judged on what the last write left, before this turn's
     * data is added, so one big burst (a catch-up of large messages) is
     * written, not taken for a reader that stalled. Every connection, in
     * every state: pings and answers count as much as deliveries */
    if (c->out_mark > (size_t)s->cfg.max_output_buffer) {
        s->m.drops_slow++;
        drop_holding(c, conn_err_out_buffer);
        if (c->flags & CONN_F_CLOSING)
            return;
    }
    if (c->n_pend)
        prepare(c);
    if (c->flags & CONN_F_CLOSING)
        return;
    if (!(c->flags & CONN_F_WRITING))
        conn_write(c);
    /* input that waited (a long poll answered, output that drained) is
     * handled now: a read event fed while the loop is about to sleep
     * would wait for its next wake-up. Only what is buffered: bounded */
    if (!(c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER)) && c->in.len && !conn_output_full(c)) {
        handle_input(c);
        account_input(c);
    }
    if (!(c->flags & CONN_F_CLOSING))
        set_out_mark(c, c->out.bytes);
    update_reading(c);
}

/* max-output-memory: while this worker's share of it is exceeded by
 * output the peers have not taken since an earlier turn, the connections
 * holding the most are dropped, everyone else is served on. The bytes a
 * connection holds count a message it views in full (dropping it frees at
 * most that); what the queues take in all counts each message once, as
 * its bytes are shared: a reconnect storm hands every client the same
 * catch-up, and dropping readers then would free little and only make
 * them ask for it again. */
static void shed_output(struct server *s)
{
    size_t workers = s->hub ? s->hub->n : 1;
    size_t share = s->out_budget / workers;
    if (s->m.out_queued <= share)
        return; /* peers that take their output hold nothing past a turn */
    size_t taken = outq_shared_bytes() / workers;
    struct conn *top[CONN_SHED_MAX];
    size_t n = 0;
    for (struct list_node *node = s->conns.next; node != &s->conns; node = node->next) {
        struct conn *c = container_of(node, struct conn, node);
        taken += c->out.mem;
        /* the publish port faces the Bitrix server only: never dropped */
        if (!c->out_mark || c->role != ROLE_SUBSCRIBE ||
            (n == CONN_SHED_MAX && c->out_mark <= top[n - 1]->out_mark))
            continue;
        size_t i = n < CONN_SHED_MAX ? n++ : n - 1;
        for (; i > 0 && top[i - 1]->out_mark < c->out_mark; i--)
            top[i] = top[i - 1];
        top[i] = c;
    }
    for (size_t i = 0; i < n && taken > share; i++) {
        log_debug("connection %d holds %zu bytes of output: dropped (max-output-memory)",
                  top[i]->fd, top[i]->out_mark);
        s->m.drops_out_memory++;
        size_t freed = drop_holding(top[i], conn_err_out_memory);
        taken = freed < taken ? taken - freed : 0;
    }
}

/* Runs before the loop sleeps: turns queued deliveries into wire data
 * (with prepare, the subscription layer's) and writes every connection
 * that has output, one writev each. Everything on the pending list is
 * written; of the backlog (the rest of a big fan-out) as much as
 * CONN_BACKLOG_BUDGET_NS allows, and while some remain the loop does not
 * block, so that it polls between slices: the requests that came meanwhile
 * (a publish, a /health) are served and answered before the fan-out has
 * ended. */
void conn_flush_pending(struct server *s, void (*prepare)(struct conn *c))
{
    /* judged before this turn's output is added: what peers have not
     * taken since an earlier turn */
    shed_output(s);
    while (!list_empty(&s->pending)) {
        struct conn *c = list_first(&s->pending, struct conn, flush_node);
        list_del(&c->flush_node);
        c->flags &= (uint16_t) ~(CONN_F_PENDING | CONN_F_BACKLOG);
        flush_one(s, c, prepare);
    }
}

void conn_flush_all(struct server *s, void (*prepare)(struct conn *c))
{
    uint64_t deadline = 0;
    for (;;) {
        struct conn *c;
        if (!list_empty(&s->pending)) {
            c = list_first(&s->pending, struct conn, flush_node);
        } else if (!list_empty(&s->backlog)) {
            /* a write of a few dozen messages takes 100 us: the clock
             * (a vDSO read, 20 ns) is looked at before each */
            uint64_t now = monotonic_ns();
            if (!deadline)
                deadline = now + CONN_BACKLOG_BUDGET_NS;
            else if (now >= deadline)
                break;
            c = list_first(&s->backlog, struct conn, flush_node);
        } else {
            break;
        }
        list_del(&c->flush_node);
        c->flags &= (uint16_t) ~(CONN_F_PENDING | CONN_F_BACKLOG);
        flush_one(s, c, prepare);
    }
    if (list_empty(&s->backlog))
        ev_idle_stop(s->loop, &s->backlog_idle);
    else
        ev_idle_start(s->loop, &s->backlog_idle);
    atomic_store_explicit(&s->queued_shared, s->m.deliveries_queued, memory_order_relaxed);
}

/* Active while the backlog holds connections: its being there keeps the
 * loop from blocking; the before-sleep hook does the work. */
static void on_backlog(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Serves the parked requests once no worker's fan-outs are behind; those
 * that must wait again park again. */
static void on_park_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct server *s = w->data;
    if (s->n_parked && !s->shutting_down && s->fanout_behind(s))
        return;
    ev_timer_stop(loop, w);
    struct conn **v = s->parked;
    size_t n = s->n_parked;
    s->parked = NULL;
    s->n_parked = s->cap_parked = 0;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = v[i];
        c->flags &= (uint16_t)~CONN_F_PARKED;
        if (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER))
            continue;
        handle_input(c);
        account_input(c);
        update_reading(c);
    }
    free(v);
}

void conn_backlog_init(struct server *s)
{
    list_init(&s->backlog);
    ev_idle_init(&s->backlog_idle, on_backlog);
    ev_timer_init(&s->park_timer, on_park_timer, CONN_PARK_LOOK, CONN_PARK_LOOK);
    s->park_timer.data = s;
}

void conn_park(struct conn *c)
{
    struct server *s = c->srv;
    if (c->flags & CONN_F_PARKED)
        return;
    if (s->n_parked == s->cap_parked) {
        s->cap_parked = s->cap_parked ? s->cap_parked * 2 : 8;
        s->parked = xrealloc(s->parked, s->cap_parked * sizeof *s->parked);
    }
    s->parked[s->n_parked++] = c;
    s->m.publish_waits++;
    c->flags |= CONN_F_PARKED;
    update_reading(c);
    ev_timer_start(s->loop, &s->park_timer);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = w->data;
    conn_write(c);
}

/* Handles what is buffered, as the protocol on the connection asks: HTTP
 * requests (a publisher that writes its request and closes, PHP with
 * dont_wait_answer, still gets it processed), WebSocket frames. Long polls
 * and event streams handle input once they end; until then input_full
 * stops reading past a request head's worth. */
static void handle_input(struct conn *c)
{
    if (c->tp && c->tp->input)
        c->tp->input(c);
}

void conn_process_input(struct conn *c)
{
    handle_input(c);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = w->data;
    struct server *s = c->srv;
    if ((c->flags & CONN_F_TLS_HS) && !tls_handshake(c))
        return;
    /* each chunk is handled before the next is read, so what waits
     * unhandled when the output fills is at most one chunk */
    bool handled = false;
    for (int rounds = 0; rounds < 4; rounds++) {
        if ((c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER)) || input_full(c) ||
            conn_output_full(c))
            break;
        /* a part-request left over is topped up to one chunk, so that the
         * buffer only grows past it for a request or frame that is larger */
        size_t want = CONN_READ_CHUNK;
        if (c->in.len && c->in.len < CONN_READ_CHUNK)
            want -= c->in.len;
        if (input_refused(c))
            break;
        uint8_t *dst = buf_reserve(&c->in, want);
        ssize_t n = io_read(c, dst, want);
        if (n > 0) {
            c->in.len += (size_t)n;
            s->m.bytes_in += (uint64_t)n;
            handle_input(c);
            handled = true;
            if ((size_t)n < want)
                break;
            continue;
        }
        if (n == 0) {
            c->flags |= CONN_F_PEER_EOF;
            break;
        }
        if (n == -EINTR)
            continue;
        if (n == -EAGAIN || n == -EWOULDBLOCK)
            break;
        conn_close(c, conn_err_io);
        return;
    }
    if (c->flags & CONN_F_CLOSING)
        return;
    /* reading resumed after a pause: what waited is handled now */
    if (!handled)
        handle_input(c);
    account_input(c);
    if ((c->flags & CONN_F_PEER_EOF) && !(c->flags & CONN_F_CLOSING)) {
        if (c->state == CONN_HTTP && c->out.bytes == 0 && !(c->flags & CONN_F_PENDING))
            conn_close(c, conn_err_peer);
        else if (c->state != CONN_HTTP)
            conn_close(c, conn_err_peer);
        else
            conn_close_after_write(c);
        return;
    }
    update_reading(c);
}

/* ---- timeouts ---- */

static void expire(struct conn *c, enum tlist tl)
{
    struct server *s = c->srv;
    switch (tl) {
    case TL_IDLE:
        conn_close(c, conn_err_timeout);
        break;
    case TL_HEADER:
        s->m.drops_timeout++;
        c->tp->end(c, 408, "Request timeout (header-timeout)");
        break;
    case TL_LONGPOLL:
    case TL_PING:
    case TL_RPC_PING:
        c->tp->ping(c);
        break;
    case TL_CLOSING:
        conn_close(c, "close timeout");
        break;
    case TL_HANDSHAKE:
        s->m.tls_failures++;
        conn_close(c, "TLS handshake timeout");
        break;
    default:
        break;
    }
}

void conn_tick(struct server *s, double now)
{
    for (int n = 0; n < 10000 && !list_empty(&s->stalled); n++) {
        struct conn *c = list_first(&s->stalled, struct conn, stall_node);
        if (c->stall_deadline > now)
            break;
        list_del(&c->stall_node);
        s->m.drops_send_timeout++;
        conn_close(c, conn_err_send_timeout);
    }
    for (int tl = 0; tl < TL_COUNT; tl++) {
        struct list_node *head = &s->timers[tl];
        /* bounded per tick so a mass expiry cannot stall the loop */
        for (int n = 0; n < 10000 && !list_empty(head); n++) {
            struct conn *c = list_first(head, struct conn, timer_node);
            if (c->deadline > now)
                break;
            list_del(&c->timer_node);
            c->tlist = TL_NONE;
            expire(c, (enum tlist)tl);
        }
    }
}
