/* Line charts as inline SVG, drawn on the server (no script on the page):
 * the Status page's graphs of pullboxd's figures (lib/graphring.h). */
#ifndef PULLBOX_WIZARD_CHART_H
#define PULLBOX_WIZARD_CHART_H

#include "graphring.h"

#include <stddef.h>

#define CHART_WIDTH 640
#define CHART_HEIGHT 180

struct chart {
    const char *id;    /* "connections-hour": the figure's id */
    const char *title; /* "Connections" */
    const char *unit;  /* "/s", "B" (shown as KiB, MiB...), or "" */
    enum graph_series series;
    long long now;  /* the window's end, unix seconds */
    long long span; /* its length in seconds */
    long step;      /* seconds between points: a longer gap breaks the line */
};

/* Writes the chart of pts[0..n) (oldest first, as graphring_read gives
 * them) through html_printf: axes with the value scale and its unit, the
 * time scale, and the line (a dot for a lone point; "No figures yet" with
 * none). Text is escaped like everything html_printf writes. */
void chart_svg(const struct chart *c, const struct graph_point *pts, size_t n);

/* v as the charts label it, in out: "0", "12", "1.5 k", "3.2 MiB". */
void chart_format(double v, const char *unit, char *out, size_t outlen);

#endif
