/* What a subscriber sends on its own connection (a WebSocket today): V5
 * JSON-RPC text, and V4 protobuf publishes, which are answered with a
 * ResponseBatch or, past a limit, by ending the connection with a code
 * that names it. */
#include "first.h"

#include "client.h"
#include "buf.h"
#include "conn.h"
#include "http_respond.h"
#include "log.h"
#include "pub.h"
#include "rpc.h"
#include "server.h"
#include "transport.h"
#include "ws.h"

#include <stdio.h>

static void protocol_error(struct conn *c, uint16_t code, const char *reason)
{
    c->srv->m.drops_proto++;
    log_debug("websocket %d: %s", c->fd, reason);
    c->tp->end(c, code, reason);
}

void client_message(struct conn *c, bool binary, uint8_t *p, size_t n)
{
    if (!binary) {
        if (c->fmt == FMT_JSONRPC)
            rpc_handle_client_text(c, p, n);
        /* text from V3/V4 clients carries nothing the server acts on */
        return;
    }
    /* binary: a protobuf RequestBatch from the client (untrusted) */
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
        c->tp->send(c, true, out.data, out.len);
    buf_deinit(&out);
}
