/* Unit tests for config-ui/wizard/chart.c: the Status page's SVG charts,
 * written through html_printf: escaped text, the empty chart, a lone point,
 * a gap, the scales and their units. */
#include "../../../config-ui/wizard/chart.c"
#include "../../../config-ui/wizard/html.c"

#include "tap.h"

#include <stdlib.h>

static char *buf;
static size_t buf_len;
static FILE *mem;

static const char *draw(const struct chart *c, const struct graph_point *pts, size_t n)
{
    if (mem) {
        fclose(mem);
        free(buf);
    }
    buf = NULL;
    mem = open_memstream(&buf, &buf_len);
    html_set_output(mem);
    chart_svg(c, pts, n);
    fflush(mem);
    return buf;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        n++;
    return n;
}

#define NOW 1800003600LL

static void test_escaping_and_empty(void)
{
    struct chart c = {"x\"<y>", "<script>alert(1)</script> & co", "/s", GRAPH_CONNECTIONS,
                      NOW, 3600, 10};
    const char *s = draw(&c, NULL, 0);
    ok(strstr(s, "<script>") == NULL && strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
       "the title is escaped");
    ok(strstr(s, "id=\"x&quot;&lt;y&gt;\"") != NULL, "so is the id in an attribute");
    ok(strstr(s, "No figures yet") && !strstr(s, "<polyline") && !strstr(s, "<circle"),
       "no points: an empty chart that says so");
    ok(strstr(s, "width=\"640\" height=\"180\"") && strstr(s, "viewBox=\"0 0 640 180\""),
       "a fixed size");
    ok(strstr(s, ">-60 min<") && strstr(s, ">now<"), "the time axis for an hour");
    ok(count(s, "<svg") == 1 && count(s, "</svg>") == 1 && count(s, "<figure") == 1 &&
           count(s, "</figure>") == 1,
       "one balanced svg in one figure");
}

static void test_points(void)
{
    struct graph_point p[4];
    struct chart c = {"mem-day", "Memory", "B", GRAPH_MEMORY, NOW, 86400, 300};
    memset(p, 0, sizeof(p));
    p[0].t = NOW - 600;
    p[0].v[GRAPH_MEMORY] = 3.5 * 1024 * 1024;
    const char *s = draw(&c, p, 1);
    ok(count(s, "<circle") == 1 && !strstr(s, "<polyline"), "one point: a dot");
    ok(strstr(s, "now: 3.50 MiB") != NULL, "the last value with its unit");
    ok(strstr(s, ">5 MiB<") && strstr(s, ">0 B<"), "the value scale rounds up to 5 MiB");
    ok(strstr(s, ">-24 h<") && strstr(s, ">-12 h<"), "the time axis for a day");
    /* three joined, then a gap (pullboxd was down), then one more */
    for (int i = 1; i < 4; i++)
        p[i] = p[0];
    p[0].t = NOW - 3000, p[1].t = NOW - 2700, p[2].t = NOW - 2400, p[3].t = NOW - 300;
    s = draw(&c, p, 4);
    ok(count(s, "<polyline") == 1 && count(s, "<circle") == 1, "a gap breaks the line");
    ok(strstr(s, "points=\"") && count(strstr(s, "points=\""), ",") >= 3, "with a vertex per point");
    p[0].v[GRAPH_MEMORY] = -5;
    p[1].v[GRAPH_MEMORY] = 0.0 / 0.0;
    s = draw(&c, p, 4);
    ok(strstr(s, "nan") == NULL && strstr(s, "-5") == NULL, "NaN and negative values are drawn as 0");
}

static void test_format(void)
{
    char b[32];
    chart_format(0, "/s", b, sizeof(b));
    ok(strcmp(b, "0/s") == 0, "0/s");
    chart_format(1500, "/s", b, sizeof(b));
    ok(strcmp(b, "1.50 k/s") == 0, "1.50 k/s");
    chart_format(12, "", b, sizeof(b));
    ok(strcmp(b, "12") == 0, "12");
    chart_format(2048, "B", b, sizeof(b));
    ok(strcmp(b, "2 KiB") == 0, "2 KiB");
}

int main(void)
{
    test_escaping_and_empty();
    test_points();
    test_format();
    fclose(mem);
    free(buf);
    return done_testing();
}
