/* Line charts as inline SVG (see chart.h). Coordinates are whole pixels:
 * html_printf writes integers and escaped strings only. Only isfinite()
 * from math.h, a macro: the CGI links no libm. */
#include "chart.h"

#include "html.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CHART_LEFT 64 /* room for the value labels */
#define CHART_RIGHT 12
#define CHART_TOP 24    /* room for the title */
#define CHART_BOTTOM 24 /* room for the time labels */

void chart_format(double v, const char *unit, char *out, size_t outlen)
{
    static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    static const char *const dec[] = {"", " k", " M", " G", " T"};
    bool bytes = strcmp(unit, "B") == 0;
    double base = bytes ? 1024 : 1000;
    int i = 0;

    if (!isfinite(v) || v < 0)
        v = 0;
    while (v >= base && i < 4) {
        v /= base;
        i++;
    }
    const char *suffix = bytes ? bin[i] : dec[i];
    const char *sp = bytes ? " " : "";
    const char *u = bytes ? "" : unit;
    if (v == (double)(long long)v || v >= 100)
        snprintf(out, outlen, "%.0f%s%s%s", v, sp, suffix, u);
    else
        snprintf(out, outlen, "%.*f%s%s%s", v < 10 ? 2 : 1, v, sp, suffix, u);
}

/* The smallest 1, 2 or 5 times a power of ten at or above v (the top of
 * the value scale), at least 1. */
static double chart_ceiling(double v)
{
    double p = 1;

    if (!(v > 1))
        return 1;
    while (p * 10 < v)
        p *= 10;
    return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

static int chart_x(const struct chart *c, long long t)
{
    long long w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
    long long dt = t - (c->now - c->span);

    if (dt < 0)
        dt = 0;
    if (dt > c->span)
        dt = c->span;
    return CHART_LEFT + (int)(dt * w / (c->span > 0 ? c->span : 1));
}

static int chart_y(double v, double top)
{
    double h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;

    if (!isfinite(v) || v < 0)
        v = 0;
    return CHART_HEIGHT - CHART_BOTTOM - (int)(v / top * h + 0.5);
}

/* "60 min ago" ... "now" under the time axis. */
static void chart_time_labels(const struct chart *c)
{
    static const char *const anchors[] = {"start", "middle", "middle", "middle", "end"};

    for (int i = 0; i <= 4; i++) {
        long long ago = c->span * (4 - i) / 4;
        char label[32];
        if (ago == 0)
            snprintf(label, sizeof(label), "now");
        else if (c->span > 7200)
            snprintf(label, sizeof(label), "-%lld h", ago / 3600);
        else
            snprintf(label, sizeof(label), "-%lld min", ago / 60);
        int x = chart_x(c, c->now - ago);
        html_printf("<text x=\"%d\" y=\"%d\" text-anchor=\"%s\">%s</text>\n", x, CHART_HEIGHT - 6,
                    anchors[i], label);
    }
}

static void chart_value_labels(double top, const char *unit)
{
    for (int i = 0; i <= 2; i++) {
        char label[32];
        double v = top * i / 2;
        int y = chart_y(v, top);
        chart_format(v, unit, label, sizeof(label));
        html_printf("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n"
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"currentColor\" "
                    "stroke-opacity=\"0.15\"/>\n",
                    CHART_LEFT - 6, y + 4, label, CHART_LEFT, y, CHART_WIDTH - CHART_RIGHT, y);
    }
}

/* The line: consecutive points joined, a gap of more than two steps
 * (pullboxd down, the sampler stopped) left open; a lone point a dot. */
static void chart_line(const struct chart *c, const struct graph_point *pts, size_t n, double top)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i + 1;
        while (j < n && pts[j].t - pts[j - 1].t <= 2 * c->step)
            j++;
        if (j - i == 1) {
            html_printf("<circle class=\"point\" cx=\"%d\" cy=\"%d\" r=\"3\" "
                        "fill=\"currentColor\"/>\n",
                        chart_x(c, pts[i].t), chart_y(pts[i].v[c->series], top));
        } else {
            html_printf("<polyline class=\"line\" fill=\"none\" stroke=\"currentColor\" "
                        "stroke-width=\"2\" points=\"");
            for (size_t k = i; k < j; k++)
                html_printf("%s%d,%d", k > i ? " " : "", chart_x(c, pts[k].t),
                            chart_y(pts[k].v[c->series], top));
            html_printf("\"/>\n");
        }
        i = j;
    }
}

void chart_svg(const struct chart *c, const struct graph_point *pts, size_t n)
{
    double max = 0;
    char last[32] = "";

    for (size_t i = 0; i < n; i++)
        if (isfinite(pts[i].v[c->series]) && pts[i].v[c->series] > max)
            max = pts[i].v[c->series];
    /* bytes: a round number of KiB, MiB... */
    double scale = 1;
    while (strcmp(c->unit, "B") == 0 && max / scale >= 1024)
        scale *= 1024;
    double top = chart_ceiling(max / scale) * scale;
    if (n > 0)
        chart_format(pts[n - 1].v[c->series], c->unit, last, sizeof(last));

    html_printf("<figure class=\"chart\" id=\"%s\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                "aria-labelledby=\"%s-title\" font-size=\"12\">\n"
                "<title id=\"%s-title\">%s</title>\n",
                c->id, CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH, CHART_HEIGHT, c->id, c->id,
                c->title);
    html_printf("<text x=\"%d\" y=\"16\" font-weight=\"bold\">%s</text>\n", CHART_LEFT, c->title);
    if (n > 0)
        html_printf("<text class=\"last\" x=\"%d\" y=\"16\" text-anchor=\"end\">now: %s</text>\n",
                    CHART_WIDTH - CHART_RIGHT, last);
    chart_value_labels(top, c->unit);
    html_printf("<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                "stroke=\"currentColor\"/>\n"
                "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                "stroke=\"currentColor\"/>\n",
                CHART_LEFT, CHART_TOP, CHART_LEFT, CHART_HEIGHT - CHART_BOTTOM, CHART_LEFT,
                CHART_HEIGHT - CHART_BOTTOM, CHART_WIDTH - CHART_RIGHT,
                CHART_HEIGHT - CHART_BOTTOM);
    chart_time_labels(c);
    if (n == 0)
        html_printf("<text class=\"empty\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">No figures "
                    "yet</text>\n",
                    (CHART_LEFT + CHART_WIDTH - CHART_RIGHT) / 2, CHART_HEIGHT / 2);
    else
        chart_line(c, pts, n, top);
    html_printf("</svg>\n</figure>\n");
}
