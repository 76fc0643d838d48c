#include "first.h"

#include "server.h"
#include "stats.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void stats_json(struct server *s, struct buf *out)
{
    double now = ev_now(s->loop);
    buf_printf(out,
               "[{\"pid\":%d,\"date\":%.0f,\"processUniqueId\":\"%s\",\"version\":\"%s\","
               "\"uptime\":%.0f,\"clusterMode\":false,\"channels\":%zu,\"websockets\":%u,"
               "\"pollings\":%u,\"eventsources\":%u,\"connections\":%u,"
               "\"messagesIn\":%llu,\"messagesOut\":%llu,"
               "\"limits\":{\"maxPayload\":%ld,\"maxConnPerChannel\":%ld,"
               "\"maxMessagesPerRequest\":%ld,\"maxChannelsPerRequest\":%ld}}]",
               (int)getpid(), now * 1000, s->unique_id, PULLBOX_VERSION, now - s->started,
               s->chans.n_chans, s->m.n_ws, s->m.n_longpoll, s->m.n_sse, s->m.n_conns,
               (unsigned long long)s->m.messages_in, (unsigned long long)s->m.messages_out,
               s->cfg.max_body_size, s->cfg.max_connections_per_channel,
               s->cfg.max_messages_per_request, s->cfg.max_channels_per_request);
}

void stats_server_stat(struct conn *c)
{
    struct buf out;
    buf_init(&out);
    stats_json(c->srv, &out);
    http_respond(c, 200, "application/json", NULL, out.data, out.len);
    buf_deinit(&out);
}

void stats_health(struct conn *c)
{
    struct server *s = c->srv;
    /* ready: listening and not shutting down */
    if (s->shutting_down) {
        static const char body[] = "{\"live\":true,\"ready\":false}";
        http_respond(c, 503, "application/json", NULL, body, sizeof body - 1);
        return;
    }
    static const char body[] = "{\"live\":true,\"ready\":true}";
    http_respond(c, 200, "application/json", NULL, body, sizeof body - 1);
}

static void metric(struct buf *b, const char *name, const char *type, const char *help,
                   const char *labels, double v)
{
    if (help)
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    buf_printf(b, "%s%s %.17g\n", name, labels ? labels : "", v);
}

void stats_metrics(struct conn *c)
{
    struct server *s = c->srv;
    const struct metrics *m = &s->m;
    struct buf b;
    buf_init(&b);
    metric(&b, "pullbox_connections", "gauge", "Open subscriber connections by transport.",
           "{transport=\"websocket\"}", m->n_ws);
    metric(&b, "pullbox_connections", "gauge", NULL, "{transport=\"longpoll\"}", m->n_longpoll);
    metric(&b, "pullbox_connections", "gauge", NULL, "{transport=\"eventsource\"}", m->n_sse);
    metric(&b, "pullbox_connections_open", "gauge", "Open TCP connections of every kind.", NULL,
           m->n_conns);
    metric(&b, "pullbox_connections_total", "counter", "Connections accepted.", NULL,
           (double)m->connections_total);
    metric(&b, "pullbox_channels", "gauge", "Channels held (subscribed or with history).", NULL,
           (double)s->chans.n_chans);
    metric(&b, "pullbox_messages_in_total", "counter", "Messages published.", NULL,
           (double)m->messages_in);
    metric(&b, "pullbox_client_messages_in_total", "counter", "Messages published by clients.",
           NULL, (double)m->client_publishes);
    metric(&b, "pullbox_deliveries_total", "counter", "Messages delivered to subscribers.", NULL,
           (double)m->messages_out);
    metric(&b, "pullbox_bytes_total", "counter", "Bytes read and written.", "{direction=\"in\"}",
           (double)m->bytes_in);
    metric(&b, "pullbox_bytes_total", "counter", NULL, "{direction=\"out\"}", (double)m->bytes_out);
    metric(&b, "pullbox_drops_total", "counter", "Connections dropped, by reason.",
           "{reason=\"slow_reader\"}", (double)m->drops_slow);
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"limit\"}",
           (double)m->drops_limit);
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"protocol\"}",
           (double)m->drops_proto);
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"timeout\"}",
           (double)m->drops_timeout);
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"no_pong\"}",
           (double)m->drops_ping);
    metric(&b, "pullbox_signature_failures_total", "counter",
           "Subscriptions or client publishes refused for a bad signature.", NULL,
           (double)m->signature_failures);
    metric(&b, "pullbox_http_requests_total", "counter", "HTTP requests served.", NULL,
           (double)m->http_requests);
    metric(&b, "pullbox_http_errors_total", "counter", "HTTP requests answered with an error.",
           NULL, (double)m->http_errors);
    metric(&b, "pullbox_longpoll_timeouts_total", "counter", "Long polls answered with 304.", NULL,
           (double)m->longpoll_timeouts);
    metric(&b, "pullbox_rpc_requests_total", "counter", "JSON-RPC requests served.", NULL,
           (double)m->rpc_requests);
    metric(&b, "pullbox_tls_handshakes_total", "counter", "TLS handshakes completed.", NULL,
           (double)m->tls_handshakes);
    metric(&b, "pullbox_tls_failures_total", "counter",
           "TLS connections that failed: bad or no handshake, timeout, plain HTTP.", NULL,
           (double)m->tls_failures);
    metric(&b, "pullbox_uptime_seconds", "gauge", "Seconds since start.", NULL,
           ev_now(s->loop) - s->started);
    http_respond(c, 200, "text/plain; version=0.0.4", NULL, b.data, b.len);
    buf_deinit(&b);
}
