/* /status: services, pullboxd's figures, disk, uptime, graphs of the last
 * hour and day (pullbox-sampler's ring file, drawn here as SVG) and the last
 * lines of pullboxd's log (lib/status.c). */
#include "chart.h"
#include "graphring.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "root.h"
#include "status.h"
#include "wizard.h"

#define STATUS_PUBLISH_PORT 8895
#define STATUS_LOG_LINES 20

static void duration(double s)
{
    long long t = (long long)s;
    if (t >= 86400)
        html_printf("%lld d %lld h", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        html_printf("%lld h %lld min", t / 3600, t % 3600 / 60);
    else
        html_printf("%lld min %lld s", t / 60, t % 60);
}

static const struct {
    enum graph_series series;
    const char *key, *title, *unit;
} status_graphs[] = {
    {GRAPH_CONNECTIONS, "connections", "Connections", ""},
    {GRAPH_MESSAGES_RATE, "messages", "Messages per second", "/s"},
    {GRAPH_DELIVERIES_RATE, "deliveries", "Deliveries per second", "/s"},
    {GRAPH_MEMORY, "memory", "Memory of the queue server", "B"},
    {GRAPH_DROPS_RATE, "drops", "Dropped subscribers per minute", "/min"},
};

/* Each figure over one window (the hour's or the day's ring). */
static void status_graph_window(enum graph_tier tier, const char *heading, long long now)
{
    static struct graph_point pts[512];
    char path[512], err[512], id[64];
    const struct graph_tier_def *d = &graph_tiers[tier];
    long n = -1;

    html_printf("<h2>%s</h2>\n", heading);
    if (root_path(path, sizeof(path), PATH_GRAPHS) == 0)
        n = graphring_read(path, tier, now, pts, sizeof(pts) / sizeof(pts[0]), err, sizeof(err));
    else
        snprintf(err, sizeof(err), "the settings folder path is too long");
    if (n < 0) {
        layout_notice("warn", err);
        n = 0;
    }
    html_printf("<div class=\"charts\" id=\"graphs-%s\">\n", d->name);
    for (size_t i = 0; i < sizeof(status_graphs) / sizeof(status_graphs[0]); i++) {
        snprintf(id, sizeof(id), "%s-%s", status_graphs[i].key, d->name);
        struct chart c = {.id = id,
                          .title = status_graphs[i].title,
                          .unit = status_graphs[i].unit,
                          .series = status_graphs[i].series,
                          .now = now,
                          .span = d->step * (long long)d->slots,
                          .step = d->step};
        chart_svg(&c, pts, (size_t)n);
    }
    html_printf("</div>\n");
}

void page_status(struct wiz *w)
{
    static struct appliance_status st;
    static char log[16384];
    char err[256];

    status_read(&st, STATUS_PUBLISH_PORT, 2.0);
    layout_begin(w, "Status");
    html_printf("<dl class=\"facts\">\n<dt>Version</dt><dd>%s</dd>\n<dt>Address</dt><dd>%s</dd>\n"
                "<dt>Up for</dt><dd>",
                st.version, st.address[0] ? st.address : "none");
    duration(st.uptime);
    html_printf("</dd>\n<dt>Disk (data)</dt><dd>%llu MiB free of %llu MiB</dd>\n</dl>\n",
                st.disk_free >> 20, st.disk_total >> 20);

    html_printf("<h2>Services</h2>\n<table class=\"values\" id=\"services\">\n<thead><tr>"
                "<th>Service</th><th>State</th><th>Details</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < st.nservices; i++)
        html_printf("<tr><td>%s</td><td class=\"%s\">%s</td><td>%s</td></tr>\n",
                    st.services[i].name,
                    st.services[i].up ? "ok" : st.services[i].off ? "" : "error",
                    st.services[i].up ? "running" : st.services[i].off ? "off" : "down",
                    st.services[i].text);
    html_printf("</tbody>\n</table>\n");

    html_printf("<h2>Queue server</h2>\n");
    if (st.metrics_ok)
        html_printf("<dl class=\"facts\" id=\"metrics\">\n<dt>Connections</dt><dd>%lld</dd>\n"
                    "<dt>Channels</dt><dd>%lld</dd>\n<dt>Messages</dt><dd>%lld</dd>\n"
                    "<dt>Messages per second</dt><dd>%lld</dd>\n</dl>\n",
                    st.connections, st.channels, st.messages_total,
                    (long long)(st.messages_per_second + 0.5));
    else
        layout_notice("error", "pullboxd did not answer on its publish port: is it running?");

    status_graph_window(GRAPH_HOUR, "The last hour", w->now);
    status_graph_window(GRAPH_DAY, "The last day", w->now);

    html_printf("<h2>Last lines of the queue server's log</h2>\n");
    long n = status_log_tail("pullboxd", STATUS_LOG_LINES, log, sizeof(log), err, sizeof(err));
    if (n >= 0) {
        html_printf("<pre class=\"code log\" id=\"log\">");
        html_escape_n(log, (size_t)n);
        html_printf("</pre>\n");
    } else {
        layout_notice("warn", err);
    }
    layout_end();
    reply_send(200);
}
