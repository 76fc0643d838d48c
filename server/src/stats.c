#include "first.h"

#include "cluster.h"
#include "http_respond.h"
#include "server.h"
#include "stats.h"
#include "store.h"
#include "transport.h"
#include "worker.h"

#include <dirent.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void store_stats(const struct server *s, struct store_stats *st)
{
    memset(st, 0, sizeof *st);
    st->last_error = "";
    if (s->store->stats)
        s->store->stats(s, st);
}

/* The node and its store: which node this is, and (with Redis) whether it
 * is connected, what waits for it, and how often it had to reconnect.
 * Counts are this node's; cluster-wide totals are each node's summed. */
static void node_json(const struct server *s, struct buf *out)
{
    struct store_stats st;
    store_stats(s, &st);
    buf_printf(out, "\"node\":\"%s\",\"store\":\"%s\",", s->node_name, s->store->name);
    if (!st.cluster)
        return;
    buf_append_str(out, "\"redis\":{\"connected\":");
    buf_append_str(out, st.connected ? "true" : "false");
    buf_append_str(out, ",\"subscribed\":");
    buf_append_str(out, st.subscribed ? "true" : "false");
    buf_printf(out,
               ",\"inflight\":%u,\"maxInflight\":%u,\"reconnects\":%llu,"
               "\"publishFailures\":%llu,\"catchupReads\":%llu,\"feedGaps\":%llu,"
               "\"lastError\":\"",
               st.inflight, st.inflight_max, (unsigned long long)st.reconnects,
               (unsigned long long)st.failures, (unsigned long long)st.fetches,
               (unsigned long long)st.gaps);
    for (const char *p = st.last_error; *p; p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            buf_append_byte(out, (uint8_t)*p);
    buf_append_str(out, "\"},");
}

void stats_json(struct server *s, struct buf *out)
{
    buf_append_byte(out, '[');
    stats_node_json(s, out);
    const struct cluster_node_info *nodes;
    size_t n = s->store->nodes ? s->store->nodes(s->home, &nodes) : 0;
    for (size_t i = 0; i < n; i++)
        if (nodes[i].alive && nodes[i].stats_json[0] == '{') {
            buf_append_byte(out, ',');
            buf_append_str(out, nodes[i].stats_json);
        }
    buf_append_byte(out, ']');
}

/* "websockets":N,"pollings":N,... : the subscribers of each transport. */
static void transport_counts(struct buf *out, const struct metrics *m)
{
    for (unsigned i = 0; i < n_transports; i++)
        buf_printf(out, "\"%s\":%u,", transports[i]->stat_key, m->n_subs[transports[i]->id]);
}

/* Untrusted publishes refused, by limit: summed over every worker. */
static atomic_uint_least64_t refused_big, refused_fast;

void stats_client_refused(bool too_big)
{
    atomic_fetch_add_explicit(too_big ? &refused_big : &refused_fast, 1, memory_order_relaxed);
}

void stats_node_json(struct server *s, struct buf *out)
{
    double now = ev_now(s->loop);
    struct metrics sum, *per;
    size_t chans;
    unsigned n = worker_stats(s, &sum, &per, &chans);
    buf_append_byte(out, '{');
    node_json(s, out);
    buf_printf(out,
               "\"pid\":%d,\"date\":%.0f,\"processUniqueId\":\"%s\",\"version\":\"%s\","
               "\"uptime\":%.0f,\"clusterMode\":%s,\"channels\":%zu,",
               (int)getpid(), now * 1000, s->unique_id, PULLBOX_VERSION, now - s->started,
               s->store->fans_out ? "true" : "false", chans);
    transport_counts(out, &sum);
    buf_printf(out, "\"connections\":%u,\"messagesIn\":%llu,\"messagesOut\":%llu,", sum.n_conns,
               (unsigned long long)sum.messages_in, (unsigned long long)sum.messages_out);
    /* each worker's share: how the kernel spread the subscribers */
    buf_append_str(out, "\"workers\":[");
    for (unsigned i = 0; i < n; i++) {
        buf_printf(out, "%s{\"connections\":%u,", i ? "," : "", per[i].n_conns);
        transport_counts(out, &per[i]);
        buf_printf(out, "\"messagesOut\":%llu}", (unsigned long long)per[i].messages_out);
    }
    free(per);
    buf_printf(out,
               "],\"limits\":{\"maxPayload\":%ld,\"maxConnPerChannel\":%ld,"
               "\"maxMessagesPerRequest\":%ld,\"maxChannelsPerRequest\":%ld}}",
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

/* The other nodes as this one hears them: alive or not, and the figures
 * of their last heartbeat (so one scrape shows the whole cluster). */
/* The process as the kernel sees it: what the memory budgets add up to
 * and what the connections cost in descriptors. -1 when /proc is not
 * readable. */
static double process_rss_bytes(void)
{
    unsigned long long pages_total, pages_resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%llu %llu", &pages_total, &pages_resident);
    fclose(f);
    return n == 2 ? (double)pages_resident * (double)sysconf(_SC_PAGESIZE) : -1;
}

static double process_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    double n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static void process_metrics(struct buf *b)
{
    metric(b, "pullbox_process_resident_bytes", "gauge",
           "Resident memory of pullboxd (/proc/self/statm).", NULL, process_rss_bytes());
    metric(b, "pullbox_process_open_fds", "gauge", "Open file descriptors of pullboxd.", NULL,
           process_open_fds());
    struct rlimit rl;
    double max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                     ? (double)rl.rlim_cur
                     : -1;
    metric(b, "pullbox_process_max_fds", "gauge",
           "File descriptors pullboxd may open (RLIMIT_NOFILE).", NULL, max);
}

static void cluster_metrics(struct server *s, struct buf *b)
{
    const struct cluster_node_info *nodes;
    size_t n = s->store->nodes ? s->store->nodes(s->home, &nodes) : 0;
    for (size_t i = 0; i < n; i++) {
        char labels[160];
        snprintf(labels, sizeof labels, "{node=\"%s\"}", nodes[i].id);
        metric(b, "pullbox_cluster_node_up", "gauge",
               i ? NULL : "Other nodes of the cluster: heard from within 10 s (1) or not (0).",
               labels, nodes[i].alive);
    }
    bool helped = false;
    for (size_t i = 0; i < n; i++) {
        json_t *o = nodes[i].alive ? json_loads(nodes[i].stats_json, 0, NULL) : NULL;
        char labels[160];
        snprintf(labels, sizeof labels, "{node=\"%s\"}", nodes[i].id);
        if (json_is_object(o)) {
            metric(b, "pullbox_cluster_node_connections", "gauge",
                   helped ? NULL : "Other nodes' open connections, from their last heartbeat.",
                   labels, (double)json_integer_value(json_object_get(o, "connections")));
            helped = true;
        }
        json_decref(o);
    }
}

void stats_metrics(struct conn *c)
{
    struct server *s = c->srv;
    struct metrics sum, *per;
    size_t chans;
    unsigned n = worker_stats(s, &sum, &per, &chans);
    const struct metrics *m = &sum;
    struct buf b;
    buf_init(&b);
    for (unsigned i = 0; i < n_transports; i++) {
        char label[64];
        snprintf(label, sizeof label, "{transport=\"%s\"}", transports[i]->name);
        metric(&b, "pullbox_connections", "gauge",
               i ? NULL : "Open subscriber connections by transport.", label,
               m->n_subs[transports[i]->id]);
    }
    metric(&b, "pullbox_connections_open", "gauge", "Open TCP connections of every kind.", NULL,
           m->n_conns);
    metric(&b, "pullbox_connections_total", "counter", "Connections accepted.", NULL,
           (double)m->connections_total);
    metric(&b, "pullbox_channels", "gauge", "Channels held (subscribed or with history).", NULL,
           (double)chans);
    metric(&b, "pullbox_messages_in_total", "counter", "Messages published.", NULL,
           (double)m->messages_in);
    metric(&b, "pullbox_client_messages_in_total", "counter", "Messages published by clients.",
           NULL, (double)m->client_publishes);
    metric(&b, "pullbox_client_publishes_refused_total", "counter",
           "Client publishes refused by a limit.", "{limit=\"client-max-message-size\"}",
           (double)atomic_load_explicit(&refused_big, memory_order_relaxed));
    metric(&b, "pullbox_client_publishes_refused_total", "counter", NULL,
           "{limit=\"client-publish-rate\"}",
           (double)atomic_load_explicit(&refused_fast, memory_order_relaxed));
    /* every worker's histories hold the same messages: the first's speak for all */
    metric(&b, "pullbox_history_bytes", "gauge",
           "Bytes of the messages kept as history (a message in n channels counts n times).",
           NULL, (double)s->chans.hist_bytes);
    metric(&b, "pullbox_history_budget_bytes", "gauge", "history-memory, in bytes.", NULL,
           (double)s->chans.hist_budget);
    metric(&b, "pullbox_history_evicted_total", "counter",
           "Messages dropped from history, oldest first, to stay within history-memory.", NULL,
           (double)s->chans.hist_evicted);
    metric(&b, "pullbox_history_evicted_bytes_total", "counter", "Their bytes.", NULL,
           (double)s->chans.hist_evicted_bytes);
    metric(&b, "pullbox_output_queued_bytes", "gauge",
           "Bytes queued for output that the peers have not taken yet (a message queued to n "
           "connections counts n times here; max-output-memory counts it once).",
           NULL, (double)m->out_queued);
    metric(&b, "pullbox_output_budget_bytes", "gauge", "max-output-memory, in bytes.", NULL,
           (double)s->out_budget);
    metric(&b, "pullbox_deliveries_queued", "gauge",
           "Deliveries queued to subscribers and not yet written (max-queued-deliveries).", NULL,
           (double)m->deliveries_queued);
    metric(&b, "pullbox_publish_waits_total", "counter",
           "Publish requests that waited for the fan-outs before them (max-queued-deliveries).",
           NULL, (double)m->publish_waits);
    process_metrics(&b);
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
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"send_timeout\"}",
           (double)m->drops_send_timeout);
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"per_address\"}",
           (double)m->drops_per_address);
    metric(&b, "pullbox_drops_total", "counter", NULL, "{reason=\"output_memory\"}",
           (double)m->drops_out_memory);
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
    char labels[128];
    snprintf(labels, sizeof labels, "{node=\"%s\",store=\"%s\"}", s->node_name, s->store->name);
    metric(&b, "pullbox_node_info", "gauge", "This node's name and message store.", labels, 1);
    struct store_stats st;
    store_stats(s, &st);
    if (st.cluster) {
        metric(&b, "pullbox_redis_up", "gauge", "Redis connections ready (1) or not (0).",
               "{conn=\"command\"}", st.connected);
        metric(&b, "pullbox_redis_up", "gauge", NULL, "{conn=\"subscribe\"}", st.subscribed);
        metric(&b, "pullbox_redis_inflight", "gauge", "Publishes waiting for Redis.", NULL,
               st.inflight);
        metric(&b, "pullbox_redis_reconnects_total", "counter",
               "Redis connections made after the first two.", NULL, (double)st.reconnects);
        metric(&b, "pullbox_redis_publish_failures_total", "counter",
               "Publishes Redis did not confirm (answered 503).", NULL, (double)st.failures);
        metric(&b, "pullbox_redis_catchup_reads_total", "counter",
               "Catch-ups by mid read from Redis.", NULL, (double)st.fetches);
        metric(&b, "pullbox_redis_feed_gaps_total", "counter",
               "Times the cluster feed missed messages and subscribers resumed.", NULL,
               (double)st.gaps);
        cluster_metrics(s, &b);
    }
    for (unsigned i = 0; i < n; i++) {
        char wl[32];
        snprintf(wl, sizeof wl, "{worker=\"%u\"}", i);
        metric(&b, "pullbox_worker_connections", "gauge",
               i ? NULL : "Open connections per worker thread.", wl, per[i].n_conns);
    }
    free(per);
    http_respond(c, 200, "text/plain; version=0.0.4", NULL, b.data, b.len);
    buf_deinit(&b);
}
