/* The long-poll transport: a GET that waits for messages and is answered
 * once, with everything queued (then the client polls again with its mid),
 * or with a 304 naming the mid to resume from when nothing came in time.
 * The connection then speaks HTTP again (keep-alive). */
#include "first.h"

#include "chan.h"
#include "conn.h"
#include "http_request.h"
#include "http_respond.h"
#include "msg.h"
#include "server.h"
#include "store.h"
#include "transport.h"

#include <stdio.h>
#include <string.h>

/* The Expires value the Bitrix clients look for before they read
 * Last-Message-Id from a 304 (docs/protocol.md §7.3). */
static const char magic_expires[] = "Thu, 01 Jan 1973 11:11:01 GMT";

/* The poll is over: the connection speaks HTTP again. */
static void back_to_http(struct conn *c)
{
    conn_unsubscribe_all(c);
    c->state = CONN_HTTP;
    c->tp = &http_request_ops;
}

static void start(struct conn *c)
{
    conn_set_timer(c, TL_LONGPOLL);
}

static void deliver(struct conn *c, struct conn_piece *v, size_t n, size_t len,
                    const struct msg *newest)
{
    struct server *s = c->srv;
    char date[30], head[512];
    msg_http_date(newest->created, date);
    bool keep = (c->flags & CONN_F_KEEPALIVE) && !(c->flags & CONN_F_PEER_EOF) && !s->shutting_down;
    /* push-stream cursor headers too, for V1/V2 clients that send them back */
    int hl = snprintf(
        head, sizeof head,
        "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
        "Access-Control-Allow-Origin: *\r\nCache-Control: no-cache\r\n"
        "Last-Modified: %s\r\nEtag: %u\r\nContent-Length: %zu\r\n%s\r\n",
        c->fmt == FMT_PB ? "application/octet-stream" : "text/plain", date, newest->tag, len,
        keep ? (c->http_minor ? "" : "Connection: keep-alive\r\n") : "Connection: close\r\n");
    v[0] = (struct conn_piece){.p = head, .len = (size_t)hl};
    conn_uncount(c); /* whoever has the answer must not see it still counted */
    conn_send_pieces(c, v, n);
    if (c->flags & CONN_F_CLOSING)
        return;
    /* a long poll delivers once; the client polls again with its mid */
    back_to_http(c);
    if (keep)
        conn_set_timer(c, TL_IDLE);
    else
        conn_close_after_write(c);
}

/* Deliveries already queued for c (the rest of a big fan-out waits on
 * the backlog for its slice) are its answer, written this turn: a 304
 * naming the newest stored mid would make the client skip them. */
static bool answer_queued(struct conn *c)
{
    if (!c->n_pend || (c->flags & CONN_F_CATCHUP))
        return false;
    conn_schedule_flush(c);
    return true;
}

/* Nothing came in time (or the subscription must end): the 304 of Push
 * server 2.0, with the mid the next poll starts after. */
static void timeout(struct conn *c)
{
    struct server *s = c->srv;
    char mid[27] = "";
    if ((c->flags & CONN_F_CATCHUP) && s->store->forget)
        s->store->forget(s, c);
    c->flags &= (uint16_t)~CONN_F_CATCHUP;
    if (c->lp_mid[0]) {
        memcpy(mid, c->lp_mid, sizeof mid);
    } else {
        /* the newest stored message, so the next poll starts after it */
        double now = ev_now(s->loop);
        for (uint16_t i = 0; i < c->n_links; i++) {
            struct msg *m = c->links[i].ch ? chan_newest(c->links[i].ch, now) : NULL;
            if (m && strcmp(m->mid, mid) > 0)
                memcpy(mid, m->mid, sizeof mid);
        }
    }
    s->m.longpoll_timeouts++;
    back_to_http(c);
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "Access-Control-Expose-Headers: Last-Message-Id\r\nLast-Message-Id: %s\r\n"
             "Expires: %s\r\n",
             mid, magic_expires);
    http_respond(c, 304, "text/plain", hdr, NULL, 0);
    if (!(c->flags & CONN_F_CLOSE_AFTER))
        conn_set_timer(c, TL_IDLE);
}

/* Bitrix codes (4029: evicted) are answered as errors and close; "try
 * again later" is a 503; anything else (going away, resume) is the 304
 * the client resumes from, without keep-alive when the server goes away. */
static void end(struct conn *c, uint16_t code, const char *reason)
{
    if (code >= 4000) {
        back_to_http(c);
        c->flags &= (uint16_t)~CONN_F_KEEPALIVE;
        http_respond_code(c, code, NULL);
        conn_close_after_write(c);
        return;
    }
    if (code == 1013) {
        back_to_http(c);
        http_request_ops.end(c, 503, reason);
        return;
    }
    if (code == 1001)
        c->flags &= (uint16_t)~CONN_F_KEEPALIVE;
    if (!answer_queued(c))
        timeout(c);
}

/* The poll's timer: its 304, unless deliveries wait for their slice. */
static void expire(struct conn *c)
{
    if (!answer_queued(c))
        timeout(c);
}

static const char *path(const struct config *cfg)
{
    return cfg->path_subscribe;
}

const struct transport_ops transport_longpoll = {
    .name = "longpoll",
    .stat_key = "pollings",
    .id = 1,
    .path = path,
    .claims = NULL, /* what no other transport claims */
    .forced_fmt = -1,
    .start = start,
    .deliver = deliver,
    .ping = expire,
    .end = end,
};
