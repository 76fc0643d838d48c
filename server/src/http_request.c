/* HTTP/1.1 request framing on a connection: heads, bodies (Content-Length
 * or chunked), pipelining, and what nginx refuses before routing. A
 * complete request goes to the server's request handler (s->on_request);
 * this is the protocol a connection speaks until a transport takes it. */
#include "first.h"

#include "http_request.h"
#include "conn.h"
#include "http1.h"
#include "http_respond.h"
#include "server.h"
#include "transport.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static void reject(struct conn *c, int status, const char *text)
{
    c->srv->m.http_errors++;
    c->in.len = 0;
    c->in_body = false;
    c->flags &= (uint16_t)~CONN_F_KEEPALIVE;
    http_respond(c, status, "text/plain", NULL, text, strlen(text));
    conn_close_after_write(c);
}

/* A head past max-header-size: 414 when the request line alone is, as
 * nginx tells a long URI from too many or too long header fields. */
static void reject_too_large(struct conn *c)
{
    size_t max = (size_t)c->srv->cfg.max_header_size;
    const uint8_t *eol = memchr(c->in.data, '\n', c->in.len < max ? c->in.len : max);
    if (!eol)
        reject(c, 414, "Request line too long (max-header-size)");
    else
        reject(c, 431, "Request header fields too large (max-header-size)");
}

/* A Host value nginx would route: a name, an IPv4 address or a bracketed
 * IPv6 one, and a port; no path, no backslash, no "..". */
static bool host_valid(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == ':' || ch == '[' ||
                  ch == ']' || ch == '_';
        if (!ok || (ch == '.' && i + 1 < n && v[i + 1] == '.'))
            return false;
    }
    return true;
}

/* What nginx refuses before it routes a request is refused here too, each
 * with its own status and text. Returns false after answering. */
static bool request_acceptable(struct conn *c, const struct http1_request *req)
{
    const struct http1_header *host = http1_find_header(req, "Host");
    if (req->minor_version == 1 && !host) {
        reject(c, 400, "HTTP/1.1 request without a Host header");
        return false;
    }
    if (host && (http1_header_repeated(req, "Host") || !host_valid(host->value, host->value_len))) {
        reject(c, 400, "Duplicate or malformed Host header");
        return false;
    }
    if (req->authority &&
        (req->authority_len == 0 || !host_valid(req->authority, req->authority_len))) {
        reject(c, 400, "Malformed host in an absolute-form request target");
        return false;
    }
    if (http1_check_escapes(req->target, req->target_len) != 0) {
        reject(c, 400, "Malformed percent-encoding in the request target");
        return false;
    }
    /* HTTP/1.0 has no chunked coding: such a request is framed differently
     * by whoever forwarded it (RFC 9112 6.1) */
    if (req->minor_version == 0 && http1_find_header(req, "Transfer-Encoding")) {
        reject(c, 400, "Transfer-Encoding in an HTTP/1.0 request");
        return false;
    }
    return true;
}

/* Decides how the body of a just-parsed request is framed. Returns false
 * after answering an error. */
static bool start_body(struct conn *c, const struct http1_request *req, int head_len)
{
    const struct config *cfg = &c->srv->cfg;
    c->head_len = (uint32_t)head_len;
    c->body_have = 0;
    c->body_need = 0;
    c->body_chunked = false;
    const struct http1_header *te = http1_find_header(req, "Transfer-Encoding");
    const struct http1_header *cl = http1_find_header(req, "Content-Length");
    if (te) {
        if (cl || http1_header_repeated(req, "Transfer-Encoding") ||
            !str_ieq(te->value, te->value_len, "chunked")) {
            reject(c, te && !cl && !str_ieq(te->value, te->value_len, "chunked") ? 501 : 400,
                   "Unsupported or ambiguous Transfer-Encoding");
            return false;
        }
        c->body_chunked = true;
        http1_chunked_init(&c->chunked);
        return true;
    }
    if (cl) {
        uint64_t n;
        if (http1_header_repeated(req, "Content-Length") ||
            http1_parse_content_length(cl->value, cl->value_len, &n) != 0) {
            reject(c, 400, "Bad Content-Length");
            return false;
        }
        if (n > (uint64_t)cfg->max_body_size) {
            char msg[96];
            snprintf(msg, sizeof msg, "Request body exceeds max-body-size (%ld bytes)",
                     cfg->max_body_size);
            reject(c, 413, msg);
            return false;
        }
        c->body_need = n;
    }
    return true;
}

/* Returns true when the body is complete (body_have bytes after the head). */
static bool body_complete(struct conn *c)
{
    const struct config *cfg = &c->srv->cfg;
    size_t avail = c->in.len - c->head_len;
    if (!c->body_chunked) {
        c->body_have = (uint32_t)(avail < c->body_need ? avail : c->body_need);
        return avail >= c->body_need;
    }
    char *p = (char *)c->in.data + c->head_len + c->body_have;
    size_t len = avail - c->body_have;
    ssize_t r = http1_decode_chunked(&c->chunked, p, &len);
    if (r == -1) {
        reject(c, 400, "Malformed chunked body");
        return false;
    }
    c->body_have += (uint32_t)len;
    if (c->body_have > (uint64_t)cfg->max_body_size) {
        char msg[96];
        snprintf(msg, sizeof msg, "Request body exceeds max-body-size (%ld bytes)",
                 cfg->max_body_size);
        reject(c, 413, msg);
        return false;
    }
    if (r == -2) {
        c->in.len = c->head_len + c->body_have;
        return false;
    }
    c->in.len = c->head_len + c->body_have + (size_t)r;
    return true;
}

/* A client that sent "Expect: 100-continue" waits for this before it sends
 * the body (curl: 1 s, then it sends anyway; others wait for good): curl
 * asks for it past 1 KiB (older releases) or 1 MiB of body. Sent once
 * per request, only when the body is still to come and the head was taken
 * (a refusal such as 413 is answered instead, as nginx does); HTTP/1.0
 * clients never wait for it (RFC 9110 10.1.1). */
static void send_continue(struct conn *c, const struct http1_request *req)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const struct http1_header *e = http1_find_header(req, "Expect");
    if (req->minor_version == 1 && e && str_ieq(e->value, e->value_len, "100-continue"))
        conn_send(c, cont, sizeof cont - 1);
}

/* Parses and serves the requests waiting in c->in, in order (pipelining),
 * until one is incomplete or turns the connection into a subscription. */
static void process_input(struct conn *c)
{
    const struct config *cfg = &c->srv->cfg;
    while (c->state == CONN_HTTP && c->in.len && !conn_output_full(c) &&
           !(c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER | CONN_F_PARKED))) {
        struct http1_request req;
        int hl = http1_parse_request((const char *)c->in.data, c->in.len, &req);
        if (hl == HTTP1_ERR_INCOMPLETE) {
            if (c->in.len > (size_t)cfg->max_header_size) {
                reject_too_large(c);
                return;
            }
            if (!(c->flags & CONN_F_REQ_STARTED)) {
                c->flags |= CONN_F_REQ_STARTED;
                conn_set_timer(c, TL_HEADER);
            }
            return;
        }
        if (hl > 0 && (size_t)hl > (size_t)cfg->max_header_size) {
            reject_too_large(c);
            return;
        }
        if (hl == HTTP1_ERR_TOO_MANY_HEADERS) {
            reject(c, 431, "Too many header fields");
            return;
        }
        if (hl == HTTP1_ERR_VERSION) {
            reject(c, 505, "HTTP version not supported");
            return;
        }
        if (hl < 0) {
            reject(c, 400, "Malformed HTTP request");
            return;
        }
        bool head_new = !c->in_body;
        if (head_new) {
            if (!request_acceptable(c, &req) || !start_body(c, &req, hl))
                return;
            c->in_body = true;
        }
        if (!body_complete(c)) {
            if (head_new && !(c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER)))
                send_continue(c, &req);
            if (!(c->flags & (CONN_F_REQ_STARTED | CONN_F_CLOSE_AFTER))) {
                c->flags |= CONN_F_REQ_STARTED;
                conn_set_timer(c, TL_HEADER);
            }
            return;
        }
        /* the body may have been decoded in place: parse the head again so
         * the borrowed views point into the current buffer */
        http1_parse_request((const char *)c->in.data, c->head_len, &req);
        if (c->srv->request_waits && c->srv->request_waits(c, &req)) {
            conn_park(c); /* kept whole, body and all: served again from here */
            return;
        }
        c->in_body = false;
        c->flags &= (uint16_t)~CONN_F_REQ_STARTED;
        size_t used = c->head_len + c->body_have;
        c->srv->m.http_requests++;
        c->srv->on_request(c, &req, c->in.data + c->head_len, c->body_have);
        if (c->flags & CONN_F_CLOSING)
            return;
        buf_consume(&c->in, used);
        if (c->state == CONN_HTTP && !(c->flags & CONN_F_CLOSE_AFTER))
            conn_set_timer(c, c->in.len ? TL_HEADER : TL_IDLE);
    }
    if (c->state == CONN_SUB && c->tp->input && c->in.len && !(c->flags & CONN_F_CLOSING)) {
        /* frames that came in the same read as the upgrade request */
        c->tp->input(c);
        return;
    }
    if (c->in.len == 0)
        buf_deinit(&c->in); /* idle connections keep no input buffer */
}

static void end(struct conn *c, uint16_t status, const char *text)
{
    reject(c, status, text);
}

/* Input it may hold unhandled: a request head and body. */
static size_t input_cap(const struct conn *c)
{
    const struct config *cfg = &c->srv->cfg;
    return (size_t)cfg->max_header_size + (size_t)cfg->max_body_size + 4096;
}

const struct transport_ops http_request_ops = {
    .name = "http",
    .input = process_input,
    .end = end,
    .input_cap = input_cap,
};
