/* The request router: which module serves a request, by port and path. */
#include "first.h"

#include "http.h"
#include "client.h"
#include "conn.h"
#include "http1.h"
#include "http_respond.h"
#include "pub.h"
#include "rpc.h"
#include "server.h"
#include "stats.h"
#include "sub.h"
#include "transport.h"

#include <stdio.h>
#include <string.h>

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
    const struct transport_ops *tp = transport_for(cfg, req);
    if (tp) {
        if (method_is(req, "OPTIONS"))
            return options_reply(c);
        /* subscriptions are streams: HEAD has nothing to describe */
        if (!method_is(req, "GET"))
            return method_not_allowed(c, "GET, OPTIONS");
        return sub_handle(c, req, tp, client_message);
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

bool http_request_waits(struct conn *c, const struct http1_request *req)
{
    const struct config *cfg = &c->srv->cfg;
    if (c->role != ROLE_PUBLISH || !method_is(req, "POST"))
        return false;
    if (path_is(req, cfg->path_publish))
        return pub_must_wait(c, req, false);
    return path_is(req, cfg->path_api) && pub_must_wait(c, req, true);
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
