/* The WebSocket transport: the upgrade, frames both ways (RFC 6455), pings,
 * and deliveries as text or binary frames of a bounded size (sub.c makes
 * them: the whole queue of a flush, or parts of it). A complete message
 * from the client goes up through c->on_message. */
#include "first.h"

#include "conn.h"
#include "http1.h"
#include "http_respond.h"
#include "log.h"
#include "msg.h"
#include "server.h"
#include "transport.h"
#include "util.h"
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* WebSocket state, allocated only for WebSocket connections. A message in
 * fragments is gathered in `frag`; nothing else is kept between frames. */
struct ws_state {
    struct buf frag;
    uint8_t frag_opcode; /* 0 when no fragmented message is open */
    uint32_t utf8;
    bool close_sent;
};

/* Bytes held for a message in fragments. */
static size_t held(const struct conn *c)
{
    const struct ws_state *ws = c->tp_state;
    return ws ? ws->frag.cap : 0;
}

static void ws_free(struct conn *c)
{
    struct ws_state *ws = c->tp_state;
    if (!ws)
        return;
    buf_deinit(&ws->frag);
    free(ws);
    c->tp_state = NULL;
}

static void refuse(struct conn *c, int status, const char *extra, const char *text)
{
    c->srv->m.http_errors++;
    c->flags &= (uint16_t)~CONN_F_KEEPALIVE;
    http_respond(c, status, "text/plain", extra, text, strlen(text));
}

/* Answers the upgrade request: 101 and the connection becomes a WebSocket
 * (true), or an HTTP error and it stays HTTP (false). */
static bool upgrade(struct conn *c, const struct http1_request *req)
{
    const struct http1_header *conn_h = http1_find_header(req, "Connection");
    const struct http1_header *ver = http1_find_header(req, "Sec-WebSocket-Version");
    const struct http1_header *key = http1_find_header(req, "Sec-WebSocket-Key");
    if (req->minor_version != 1 || !conn_h ||
        !http1_has_token(conn_h->value, conn_h->value_len, "upgrade") ||
        !(req->method_len == 3 && memcmp(req->method, "GET", 3) == 0))
        return refuse(c, 400, NULL, "Bad WebSocket upgrade request"), false;
    if (!ver || !str_ieq(ver->value, ver->value_len, "13"))
        return refuse(c, 426, "Sec-WebSocket-Version: 13\r\n", "WebSocket version 13 required"),
               false;
    /* each at most once (RFC 6455 11.3): two keys or versions leave which
     * one was meant to whoever reads them */
    if (http1_header_repeated(req, "Sec-WebSocket-Key") ||
        http1_header_repeated(req, "Sec-WebSocket-Version"))
        return refuse(c, 400, NULL, "Sec-WebSocket-Key or -Version sent more than once"), false;
    if (!key || !ws_key_valid(key->value, key->value_len))
        return refuse(c, 400, NULL, "Bad Sec-WebSocket-Key"), false;
    char accept[29];
    ws_accept_key(key->value, key->value_len, accept);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    conn_send(c, head, (size_t)n);
    struct ws_state *ws = xcalloc(1, sizeof *ws);
    buf_init(&ws->frag);
    c->state = CONN_SUB;
    c->tp = &transport_websocket;
    c->tp_state = ws;
    return true;
}

static void send_frame(struct conn *c, uint8_t opcode, const void *p, size_t n)
{
    uint8_t hdr[WS_MAX_SERVER_HEADER];
    size_t hl = ws_frame_header(hdr, opcode, true, n);
    outq_append(&c->out, hdr, hl);
    outq_append(&c->out, p, n);
    conn_schedule_flush(c);
}

/* Sends a close frame and closes once it is written. */
static void ws_close(struct conn *c, uint16_t code, const char *reason)
{
    struct ws_state *ws = c->tp_state;
    if (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER))
        return;
    if (ws && !ws->close_sent) {
        uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
        size_t n = ws_close_payload(payload, code, reason);
        ws->close_sent = true;
        send_frame(c, WS_OP_CLOSE, payload, n);
    }
    conn_close_after_write(c);
}

static void send_ping(struct conn *c)
{
    c->flags |= CONN_F_PING_OUT;
    if (c->fmt == FMT_JSONRPC)
        send_frame(c, WS_OP_TEXT, "ping", 4); /* V5 pings in text */
    else
        send_frame(c, WS_OP_PING, NULL, 0);
}

/* The ping timer: a peer that has not answered the last ping is gone. */
static void ping(struct conn *c)
{
    if (c->flags & CONN_F_PING_OUT) {
        c->srv->m.drops_ping++;
        conn_close(c, "no pong");
        return;
    }
    send_ping(c);
    conn_set_timer(c, c->fmt == FMT_JSONRPC ? TL_RPC_PING : TL_PING);
}

static void start(struct conn *c)
{
    conn_set_timer(c, c->fmt == FMT_JSONRPC ? TL_RPC_PING : TL_PING);
    if (c->fmt == FMT_JSONRPC)
        send_ping(c); /* the client starts its stuck-timer on the first ping */
}

/* The deliveries as one frame: its header built on the stack. */
static void deliver(struct conn *c, struct conn_piece *v, size_t n, size_t len,
                    const struct msg *newest)
{
    (void)newest;
    uint8_t wsh[WS_MAX_SERVER_HEADER];
    size_t hl = ws_frame_header(wsh, c->fmt == FMT_PB ? WS_OP_BINARY : WS_OP_TEXT, true, len);
    v[0] = (struct conn_piece){.p = wsh, .len = hl};
    conn_send_pieces(c, v, n);
}

/* A lone message: the frame cached on it, header and all, one piece. */
static bool deliver_one(struct conn *c, struct msg *m, enum msg_enc e)
{
    size_t len;
    const uint8_t *p = msg_ws_frame(m, e, &len);
    if (!p)
        return false;
    conn_send_pieces(c, &(struct conn_piece){.p = p, .len = len, .m = m}, 1);
    return true;
}

static void ws_send(struct conn *c, bool binary, const void *p, size_t n)
{
    send_frame(c, binary ? WS_OP_BINARY : WS_OP_TEXT, p, n);
}

static void protocol_error(struct conn *c, uint16_t code, const char *reason)
{
    c->srv->m.drops_proto++;
    log_debug("websocket %d: %s", c->fd, reason);
    ws_close(c, code, reason);
}

/* A complete message from the client: handed up. */
static void on_message(struct conn *c, uint8_t opcode, uint8_t *p, size_t n)
{
    if (c->on_message)
        c->on_message(c, opcode == WS_OP_BINARY, p, n);
}

static void on_control(struct conn *c, uint8_t opcode, uint8_t *p, size_t n)
{
    switch (opcode) {
    case WS_OP_PING:
        send_frame(c, WS_OP_PONG, p, n);
        break;
    case WS_OP_PONG:
        c->flags &= (uint16_t)~CONN_F_PING_OUT;
        break;
    case WS_OP_CLOSE: {
        uint16_t code;
        if (!ws_parse_close_payload(p, n, &code))
            return protocol_error(c, code, "bad close frame");
        /* echo the code, as RFC 6455 §5.5.1 asks */
        uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
        size_t pl = code == WS_CLOSE_NO_STATUS ? 0 : ws_close_payload(payload, code, NULL);
        struct ws_state *ws = c->tp_state;
        if (!ws->close_sent) {
            ws->close_sent = true;
            send_frame(c, WS_OP_CLOSE, payload, pl);
        }
        conn_close_after_write(c);
        break;
    }
    }
}

/* Parses the frames in c->in. Payloads are unmasked in place; a frame is
 * handled only once it is complete (bounded by max-ws-frame-size). */
static void input(struct conn *c)
{
    const struct config *cfg = &c->srv->cfg;
    uint64_t max = (uint64_t)cfg->max_ws_frame_size;
    size_t off = 0;
    /* frames wait in c->in while answers to earlier ones are unread */
    while (!(c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER)) && off < c->in.len &&
           !conn_output_full(c)) {
        struct ws_frame f;
        uint16_t code = 0;
        int hl = ws_parse_frame_header(c->in.data + off, c->in.len - off, max, &f, &code);
        if (hl == -2)
            break;
        if (hl < 0) {
            char reason[64];
            snprintf(reason, sizeof reason, "%s",
                     code == WS_CLOSE_TOO_BIG ? "frame exceeds max-ws-frame-size"
                                              : "protocol error");
            if (code == WS_CLOSE_TOO_BIG)
                c->srv->m.drops_limit++;
            protocol_error(c, code, reason);
            break;
        }
        if (c->in.len - off - (size_t)hl < f.payload_len)
            break; /* wait for the whole frame */
        uint8_t *p = c->in.data + off + hl;
        size_t n = (size_t)f.payload_len;
        ws_unmask(p, n, f.mask, 0);
        off += (size_t)hl + n;
        if (ws_opcode_is_control(f.opcode)) {
            on_control(c, f.opcode, p, n);
            continue;
        }
        struct ws_state *ws = c->tp_state;
        if (f.opcode == WS_OP_CONT ? !ws->frag_opcode : ws->frag_opcode) {
            protocol_error(c, WS_CLOSE_PROTOCOL, "bad fragment sequence");
            break;
        }
        uint8_t opcode = f.opcode == WS_OP_CONT ? ws->frag_opcode : f.opcode;
        if (opcode == WS_OP_TEXT && !ws_utf8_step(&ws->utf8, p, n)) {
            protocol_error(c, WS_CLOSE_INVALID_DATA, "invalid UTF-8");
            break;
        }
        if (f.fin && !ws->frag_opcode) {
            if (opcode == WS_OP_TEXT && !ws_utf8_complete(ws->utf8)) {
                protocol_error(c, WS_CLOSE_INVALID_DATA, "invalid UTF-8");
                break;
            }
            ws->utf8 = 0;
            on_message(c, opcode, p, n);
            continue;
        }
        if (ws->frag.len + n > max) {
            c->srv->m.drops_limit++;
            protocol_error(c, WS_CLOSE_TOO_BIG, "message exceeds max-ws-frame-size");
            break;
        }
        if (ws->frag.cap - ws->frag.len < n && conn_input_budget_full(c, ws->frag.cap + n)) {
            c->srv->m.drops_limit++;
            protocol_error(c, WS_CLOSE_TRY_AGAIN, "server busy: max-input-memory, retry later");
            break;
        }
        buf_append(&ws->frag, p, n);
        ws->frag_opcode = opcode;
        if (f.fin) {
            if (opcode == WS_OP_TEXT && !ws_utf8_complete(ws->utf8)) {
                protocol_error(c, WS_CLOSE_INVALID_DATA, "invalid UTF-8");
                break;
            }
            ws->utf8 = 0;
            ws->frag_opcode = 0;
            on_message(c, opcode, ws->frag.data, ws->frag.len);
            buf_deinit(&ws->frag);
        }
    }
    if (c->flags & CONN_F_CLOSING)
        return;
    buf_consume(&c->in, off);
    if (c->in.len == 0)
        buf_deinit(&c->in);
}

static size_t input_cap(const struct conn *c)
{
    return (size_t)c->srv->cfg.max_ws_frame_size + 64;
}

static const char *path(const struct config *cfg)
{
    return cfg->path_subscribe_ws;
}

/* Any subscribe path upgrades when asked to. */
static bool claims(const struct http1_request *req, bool own_path)
{
    (void)own_path;
    const struct http1_header *up = http1_find_header(req, "Upgrade");
    return up && http1_has_token(up->value, up->value_len, "websocket");
}

const struct transport_ops transport_websocket = {
    .name = "websocket",
    .stat_key = "websockets",
    .id = 0,
    .path = path,
    .claims = claims,
    .forced_fmt = -1,
    .open = upgrade,
    .start = start,
    .deliver = deliver,
    .deliver_one = deliver_one,
    .bounded_frames = true,
    .ping = ping,
    .end = ws_close,
    .end_after_output = true,
    .input = input,
    .send = ws_send,
    .input_cap = input_cap,
    .held = held,
    .free = ws_free,
};
