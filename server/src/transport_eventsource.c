/* The EventSource transport: a text/event-stream answer that stays open,
 * each message an event (with its mid as the event id, so the browser
 * resumes with Last-Event-ID), comment lines as keep-alives. */
#include "first.h"

#include "conn.h"
#include "http1.h"
#include "server.h"
#include "transport.h"

static void start(struct conn *c)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n"
                               "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n"
                               "retry: 2000\n\n";
    conn_send(c, head, sizeof head - 1);
    conn_set_timer(c, TL_PING);
}

/* The messages' event blocks as they are: no head. */
static void deliver(struct conn *c, struct conn_piece *v, size_t n, size_t len,
                    const struct msg *newest)
{
    (void)len;
    (void)newest;
    conn_send_pieces(c, v + 1, n - 1);
}

static void ping(struct conn *c)
{
    /* a comment line keeps proxies from timing the stream out */
    conn_send(c, ":\n\n", 3);
    conn_set_timer(c, TL_PING);
}

/* A stream has no way to say why it ends: it closes (and the browser
 * reconnects); when the server goes away, after what is queued. */
static void end(struct conn *c, uint16_t code, const char *reason)
{
    if (code == 1001 && (c->out.bytes || (c->flags & CONN_F_PENDING)))
        conn_close_after_write(c);
    else
        conn_close(c, reason);
}

static const char *path(const struct config *cfg)
{
    return cfg->path_eventsource;
}

/* Its own path, or any subscribe path asked for an event stream. */
static bool claims(const struct http1_request *req, bool own_path)
{
    const struct http1_header *acc = http1_find_header(req, "Accept");
    return own_path || (acc && http1_has_token(acc->value, acc->value_len, "text/event-stream"));
}

const struct transport_ops transport_eventsource = {
    .name = "eventsource",
    .stat_key = "eventsources",
    .id = 2,
    .path = path,
    .claims = claims,
    .forced_fmt = FMT_SSE,
    .start = start,
    .deliver = deliver,
    .ping = ping,
    .end = end,
};
