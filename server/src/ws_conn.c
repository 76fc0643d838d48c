#include "first.h"

#include "server.h"
#include "http1.h"
#include "log.h"
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

size_t wsconn_buffered(const struct conn *c)
{
    return c->ws ? c->ws->frag.cap : 0;
}

void wsconn_free(struct conn *c)
{
    if (!c->ws)
        return;
    buf_deinit(&c->ws->frag);
    free(c->ws);
    c->ws = NULL;
}

static void refuse(struct conn *c, int status, const char *extra, const char *text)
{
    c->srv->m.http_errors++;
    c->flags &= (uint16_t)~CONN_F_KEEPALIVE;
    http_respond(c, status, "text/plain", extra, text, strlen(text));
}

/* Answers the upgrade request: 101 and the connection becomes a WebSocket
 * (c->state = CONN_WS), or an HTTP error and it stays HTTP. */
void wsconn_upgrade(struct conn *c, const struct http1_request *req)
{
    const struct http1_header *conn_h = http1_find_header(req, "Connection");
    const struct http1_header *ver = http1_find_header(req, "Sec-WebSocket-Version");
    const struct http1_header *key = http1_find_header(req, "Sec-WebSocket-Key");
    if (req->minor_version != 1 || !conn_h ||
        !http1_has_token(conn_h->value, conn_h->value_len, "upgrade") ||
        !(req->method_len == 3 && memcmp(req->method, "GET", 3) == 0))
        return refuse(c, 400, NULL, "Bad WebSocket upgrade request");
    if (!ver || !str_ieq(ver->value, ver->value_len, "13"))
        return refuse(c, 426, "Sec-WebSocket-Version: 13\r\n", "WebSocket version 13 required");
    if (!key || !ws_key_valid(key->value, key->value_len))
        return refuse(c, 400, NULL, "Bad Sec-WebSocket-Key");
    char accept[29];
    ws_accept_key(key->value, key->value_len, accept);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    conn_send(c, head, (size_t)n);
    c->state = CONN_WS;
    c->ws = xcalloc(1, sizeof *c->ws);
    buf_init(&c->ws->frag);
}

void wsconn_send_frame(struct conn *c, uint8_t opcode, const void *p, size_t n)
{
    uint8_t hdr[WS_MAX_SERVER_HEADER];
    size_t hl = ws_frame_header(hdr, opcode, true, n);
    outq_append(&c->out, hdr, hl);
    outq_append(&c->out, p, n);
    conn_schedule_flush(c);
}

/* Sends a close frame and closes once it is written. */
void wsconn_close(struct conn *c, uint16_t code, const char *reason)
{
    if (c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER))
        return;
    if (c->ws && !c->ws->close_sent) {
        uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
        size_t n = ws_close_payload(payload, code, reason);
        c->ws->close_sent = true;
        wsconn_send_frame(c, WS_OP_CLOSE, payload, n);
    }
    conn_close_after_write(c);
}

void wsconn_ping(struct conn *c)
{
    if (c->state == CONN_SSE) {
        /* a comment line keeps proxies from timing the stream out */
        conn_send(c, ":\n\n", 3);
        return;
    }
    if (c->state != CONN_WS)
        return;
    c->flags |= CONN_F_PING_OUT;
    if (c->fmt == FMT_JSONRPC)
        wsconn_send_frame(c, WS_OP_TEXT, "ping", 4); /* V5 pings in text (§4.6) */
    else
        wsconn_send_frame(c, WS_OP_PING, NULL, 0);
}

static void protocol_error(struct conn *c, uint16_t code, const char *reason)
{
    c->srv->m.drops_proto++;
    log_debug("websocket %d: %s", c->fd, reason);
    wsconn_close(c, code, reason);
}

/* A complete message from the client. */
static void on_message(struct conn *c, uint8_t opcode, uint8_t *p, size_t n)
{
    if (opcode == WS_OP_TEXT) {
        if (c->fmt == FMT_JSONRPC)
            rpc_handle_client_text(c, p, n);
        /* text from V3/V4 clients carries nothing the server acts on */
        return;
    }
    /* binary: a protobuf RequestBatch from the client (§4.3, untrusted) */
    struct buf out;
    buf_init(&out);
    char why[128];
    int code = pub_client_batch(c, c->pub_id, c->has_pub_id, p, n, &out, why, sizeof why);
    if (code == PUB_TOO_BIG || code == PUB_TOO_FAST) {
        /* V4 clients get no answer to a publish: the close names the limit */
        buf_deinit(&out);
        return protocol_error(c, code == PUB_TOO_BIG ? WS_CLOSE_TOO_BIG : WS_CLOSE_POLICY, why);
    }
    if (code == 503) {
        /* the store is failing: the client is not at fault, keep it */
        buf_deinit(&out);
        log_debug("websocket %d: client publish refused: journal unavailable", c->fd);
        return;
    }
    if (code) {
        char reason[96];
        snprintf(reason, sizeof reason, "%d: %s", code, http_code_text(code));
        buf_deinit(&out);
        return protocol_error(c, (uint16_t)code, reason);
    }
    if (out.len)
        wsconn_send_frame(c, WS_OP_BINARY, out.data, out.len);
    buf_deinit(&out);
}

static void on_control(struct conn *c, uint8_t opcode, uint8_t *p, size_t n)
{
    switch (opcode) {
    case WS_OP_PING:
        wsconn_send_frame(c, WS_OP_PONG, p, n);
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
        if (!c->ws->close_sent) {
            c->ws->close_sent = true;
            wsconn_send_frame(c, WS_OP_CLOSE, payload, pl);
        }
        conn_close_after_write(c);
        break;
    }
    }
}

/* Parses the frames in c->in. Payloads are unmasked in place; a frame is
 * handled only once it is complete (bounded by max-ws-frame-size). */
void wsconn_read(struct conn *c)
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
        struct ws_state *ws = c->ws;
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
