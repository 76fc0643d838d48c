"""A line chart as a standalone SVG file, Python standard library only.

bench/report.py draws the saturation sweep with it (one line per server
against the subscriber count) so that make bench needs no plotting package.
Logarithmic y axis: the servers differ by orders of magnitude.
"""
import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
DASHES = ["", "6,3", "", "6,3", "", "6,3", "2,2", "2,2"]


def _ticks(lo, hi):
    """1-2-5 ticks per decade covering [lo, hi]."""
    out = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo / 1.0001 <= v <= hi * 1.0001:
                out.append(v)
        e += 1
    return out


def _label(v):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            x = v / div
            return ("{:.0f}" if x >= 10 or x == int(x) else "{:.1f}").format(x) + suf
    return "{:g}".format(v)


def line_chart(path, title, xlabel, ylabel, xs, series, width=720, height=420):
    """series: list of (name, [y or None per x]); writes path, returns True if
    anything was drawn."""
    ys = [y for _, vals in series for y in vals if y is not None and y > 0]
    if not ys or not xs:
        return False
    lo, hi = min(ys), max(ys)
    lo = 10 ** math.floor(math.log10(lo))
    hi = 10 ** math.ceil(math.log10(hi))
    if hi <= lo:
        hi = lo * 10
    left, right, top, bottom = 70, 170, 40, 50
    pw, ph = width - left - right, height - top - bottom
    xmin, xmax = min(xs), max(xs)
    xspan = (xmax - xmin) or 1

    def px(x):
        return left + (x - xmin) * pw / xspan

    def py(y):
        return top + ph - (math.log10(y) - math.log10(lo)) * ph / (math.log10(hi) - math.log10(lo))

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" '
         'font-size="12">'.format(width, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="{}" y="22" font-size="14" text-anchor="middle">{}</text>'.format(
             left + pw / 2, escape(title))]
    for t in _ticks(lo, hi):
        y = py(t)
        o.append('<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#ddd"/>'.format(left, y, left + pw, y))
        o.append('<text x="{}" y="{:.1f}" text-anchor="end">{}</text>'.format(left - 6, y + 4, _label(t)))
    for x in xs:
        o.append('<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#eee"/>'.format(px(x), top, px(x), top + ph))
        o.append('<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>'.format(px(x), top + ph + 16, _label(x)))
    o.append('<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>'.format(left, top, pw, ph))
    o.append('<text x="{}" y="{}" text-anchor="middle">{}</text>'.format(left + pw / 2, height - 10, escape(xlabel)))
    o.append('<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>'.format(
        top + ph / 2, top + ph / 2, escape(ylabel)))
    for i, (name, vals) in enumerate(series):
        c, d = COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]
        pts = [(px(x), py(y)) for x, y in zip(xs, vals) if y is not None and y > 0]
        if not pts:
            continue
        dash = ' stroke-dasharray="{}"'.format(d) if d else ""
        o.append('<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>'.format(
            c, dash, " ".join("{:.1f},{:.1f}".format(a, b) for a, b in pts)))
        for a, b in pts:
            o.append('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>'.format(a, b, c))
        ly = top + 10 + i * 18
        o.append('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/>'.format(
            left + pw + 10, ly, left + pw + 34, ly, c, dash))
        o.append('<text x="{}" y="{}">{}</text>'.format(left + pw + 40, ly + 4, escape(name)))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
    return True
