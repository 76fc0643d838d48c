#include "first.h"

#include "server.h"
#include "http1.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* CORS: browsers on the Bitrix site's origin call the queue server's origin */
static const char cors_headers[] = "Access-Control-Allow-Origin: *\r\n";

void http_respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len)
{
    /* the head is built on the stack and joins the output queue in one
     * piece (responses to pipelined requests share a queue segment); it is
     * written before the loop sleeps, after the store has kept what this
     * request published */
    char head[1024];
    bool keep = (c->flags & CONN_F_KEEPALIVE) && !(c->flags & CONN_F_PEER_EOF);
    bool has_body = status != 304 && status != 204;
    char clen[40] = "";
    if (has_body)
        snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", len);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s%s\r\n", status,
                     http1_reason(status), content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", cors_headers,
                     extra_headers ? extra_headers : "", clen,
                     !keep                ? "Connection: close\r\n"
                     : c->http_minor == 0 ? "Connection: keep-alive\r\n"
                                          : "");
    if (n < 0 || (size_t)n >= sizeof head) {
        /* only a caller bug makes extra_headers this long */
        static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
        outq_append(&c->out, fallback, sizeof fallback - 1);
        keep = false;
        has_body = false;
    } else {
        outq_append(&c->out, head, (size_t)n);
    }
    if (len && has_body && !(c->flags & CONN_F_HEAD))
        outq_append(&c->out, body, len);
    conn_schedule_flush(c);
    if (!keep)
        conn_close_after_write(c);
}

const char *http_code_text(int code)
{
    switch (code) {
    case 4010:
        return "Wrong Channel Id.";
    case 4011:
        return "Couldn't get last messages.";
    case 4012:
        return "Public Channel Id is Required.";
    case 4013:
        return "Wrong Request Data.";
    case 4014:
        return "Request command is not allowed.";
    case 4015:
        return "Wrong Request Command.";
    case 4016:
        return "Request exceeded the maximum number of messages.";
    case 4017:
        return "No channels found.";
    case 4018:
        return "Request exceeded the maximum number of channels.";
    case 4019:
        return "Request has an invalid channel id.";
    case 4020:
        return "Private channel is not allowed.";
    case 4021:
        return "Channel has an invalid signature.";
    case 4022:
        return "Empty request.";
    case 4026:
        return "Wrong request signature.";
    case 4029:
        return "Too many connections.";
    case 4030:
        return "Wrong ChannelStats Request.";
    case 4031:
        return "Wrong ServerStats Request.";
    case 4032:
        return "Bad JSON request.";
    case 503:
        return "The message journal cannot be written: nothing was published.";
    case 4035:
        return "Unknown command.";
    default:
        return "Error.";
    }
}

void http_respond_code(struct conn *c, int code, const char *text)
{
    int status = code < 1000 ? code : code == 4000 ? 200 : code == 4029 ? 429 : 400;
    char body[256];
    int n = snprintf(body, sizeof body, "%d: %s", code, text ? text : http_code_text(code));
    if (status >= 400)
        c->srv->m.http_errors++;
    http_respond(c, status, "text/plain", NULL, body, (size_t)n);
}

static bool path_is(const struct http1_request *req, const char *prefix)
{
    /* routes match by prefix, as Push server 1.0/2.0 do: "/bitrix/sub/x" is long polling */
    size_t n = strlen(prefix);
    return req->path_len >= n && memcmp(req->path, prefix, n) == 0;
}

static bool path_eq(const struct http1_request *req, const char *p)
{
    size_t n = strlen(p);
    return req->path_len == n && memcmp(req->path, p, n) == 0;
}

static bool method_is(const struct http1_request *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static void options_reply(struct conn *c)
{
    http_respond(c, 200, "text/plain",
                 "Access-Control-Allow-Methods: POST, GET, DELETE, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: If-Modified-Since, If-None-Match, Content-Type\r\n"
                 "Access-Control-Expose-Headers: Last-Message-Id\r\n"
                 "Access-Control-Max-Age: 86400\r\n",
                 NULL, 0);
}

static void not_found(struct conn *c)
{
    c->srv->m.http_errors++;
    http_respond(c, 404, "text/plain", NULL, NULL, 0);
}

static void method_not_allowed(struct conn *c, const char *allow)
{
    char h[96];
    snprintf(h, sizeof h, "Allow: %s\r\n", allow);
    c->srv->m.http_errors++;
    http_respond(c, 405, "text/plain", h, "Method not allowed", 18);
}

static void dispatch_subscribe_side(struct conn *c, const struct http1_request *req,
                                    const uint8_t *body, size_t len)
{
    const struct config *cfg = &c->srv->cfg;
    bool is_sub = path_is(req, cfg->path_subscribe), is_ws = path_is(req, cfg->path_subscribe_ws);
    bool is_es = path_is(req, cfg->path_eventsource);
    if (is_sub || is_ws || is_es) {
        if (method_is(req, "OPTIONS"))
            return options_reply(c);
        /* subscriptions are streams: HEAD has nothing to describe */
        if (!method_is(req, "GET"))
            return method_not_allowed(c, "GET, OPTIONS");
        const struct http1_header *up = http1_find_header(req, "Upgrade");
        bool websocket = up && http1_has_token(up->value, up->value_len, "websocket");
        const struct http1_header *acc = http1_find_header(req, "Accept");
        bool es =
            is_es || (acc && http1_has_token(acc->value, acc->value_len, "text/event-stream"));
        return sub_handle(c, req, websocket, es && !websocket);
    }
    if (path_is(req, cfg->path_publish_web) || path_is(req, cfg->path_publish_web_alt)) {
        if (method_is(req, "OPTIONS"))
            return options_reply(c);
        if (!method_is(req, "POST"))
            return method_not_allowed(c, "POST, OPTIONS");
        return pub_handle_client(c, req, body, len);
    }
    not_found(c);
}

static void dispatch_publish_side(struct conn *c, const struct http1_request *req,
                                  const uint8_t *body, size_t len)
{
    const struct config *cfg = &c->srv->cfg;
    if (path_is(req, cfg->path_publish)) {
        if (method_is(req, "OPTIONS"))
            return options_reply(c);
        return pub_handle(c, req, body, len);
    }
    if (path_is(req, cfg->path_api)) {
        if (!method_is(req, "POST"))
            return method_not_allowed(c, "POST");
        return rpc_handle_http(c, req, body, len);
    }
    if (method_is(req, "GET") || method_is(req, "HEAD")) {
        if (path_is(req, cfg->path_server_stat))
            return stats_server_stat(c);
        if (path_eq(req, "/health") || path_eq(req, "/health/"))
            return stats_health(c);
        if (path_eq(req, "/metrics"))
            return stats_metrics(c);
    }
    not_found(c);
}

void http_dispatch(struct conn *c, const struct http1_request *req, const uint8_t *body,
                   size_t body_len)
{
    c->http_minor = (uint8_t)req->minor_version;
    if (method_is(req, "HEAD"))
        c->flags |= CONN_F_HEAD;
    else
        c->flags &= (uint16_t)~CONN_F_HEAD;
    const struct http1_header *conn_hdr = http1_find_header(req, "Connection");
    bool keep = req->minor_version == 1;
    if (conn_hdr) {
        if (http1_has_token(conn_hdr->value, conn_hdr->value_len, "close"))
            keep = false;
        else if (http1_has_token(conn_hdr->value, conn_hdr->value_len, "keep-alive"))
            keep = true;
    }
    if (c->srv->shutting_down)
        keep = false;
    if (keep)
        c->flags |= CONN_F_KEEPALIVE;
    else
        c->flags &= (uint16_t)~CONN_F_KEEPALIVE;
    if (c->role == ROLE_SUBSCRIBE)
        dispatch_subscribe_side(c, req, body, body_len);
    else
        dispatch_publish_side(c, req, body, body_len);
}
