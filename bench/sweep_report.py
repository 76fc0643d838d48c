"""The saturation sweep (SAT) section of docs/benchmarks.md and its SVG plots.

bench/run's SAT points are labelled SAT-<closed|open>-<subscribers>|<variant>|1
with variant pullboxd, pullboxd-pb (protobuf frames), nchan, nchan-pad, redis,
redis-pad (-pad: bodies padded to pullboxd's text frame size). This module
turns them into tables (deliveries/s, server CPU per delivery, losses, the
machine's load before and after each run), the targets, and four SVG charts.
Python 3 standard library only.
"""
import json
import os

import svgplot

BEGIN = "<!-- bench/report.py: sweep section begin (rewritten by bench/run) -->"
END = "<!-- bench/report.py: sweep section end -->"
IDLE_BEGIN = "<!-- bench/report.py: idle section begin (bench/idle.md) -->"
IDLE_END = "<!-- bench/report.py: idle section end -->"
VARIANTS = ["pullboxd", "pullboxd-pb", "nchan", "nchan-pad", "redis", "redis-pad"]
NAMES = {
    "pullboxd": "pullboxd (text)",
    "pullboxd-pb": "pullboxd (protobuf)",
    "nchan": "Nchan",
    "nchan-pad": "Nchan, padded",
    "redis": "Redis",
    "redis-pad": "Redis, padded",
}
# a machine busier than the benchmark's own two processes make
LOADED = 3.0


def _runs(results):
    out = {}
    path = os.path.join(results, "results.jsonl")
    if not os.path.exists(path):
        return out
    for line in open(path):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        parts = r.get("label", "").split("|")
        if len(parts) != 3 or not parts[0].startswith("SAT-"):
            continue
        _, mode, n = parts[0].split("-")
        out[(mode, int(n), parts[1])] = r
    return out


def _uptimes(results):
    out = {}
    path = os.path.join(results, "sat-uptime.tsv")
    if os.path.exists(path):
        for line in open(path):
            p = line.rstrip("\n").split("\t")
            if len(p) == 4:
                out[(p[0], p[1])] = (p[2], p[3])
    return out


def _load1(up):
    try:
        return float(up.split("load average:")[1].split(",")[0])
    except (IndexError, ValueError):
        return None


def _num(v, nd=0):
    return "n/a" if v is None else ("{:,.%df}" % nd).format(v)


def section(results, plots_dir, doc_path, params=""):
    runs = _runs(results)
    ups = _uptimes(results)
    out = [BEGIN, "## Saturation sweep: F2 closed loop and open loop (SAT)", ""]
    if not runs:
        out += ["Not measured in the run that wrote this document (`bench/run --section sweep` "
                "measures it; `BENCH_QUICK=1 make bench` a short sweep).", "", END]
        return out
    ns = sorted({n for _, n, _ in runs})
    variants = [v for v in VARIANTS if any((m, n, v) in runs for m in ("closed", "open") for n in ns)]
    elapsed = ""
    ep = os.path.join(results, "elapsed")
    if os.path.exists(ep):
        elapsed = " The whole `bench/run` that wrote this took {:.0f} minutes.".format(
            int(open(ep).read().strip() or 0) / 60)
    pads = ""
    pp = os.path.join(results, "sat-pads")
    if os.path.exists(pp):
        pads = open(pp).read().strip()
    out.append(
        "One channel, N WebSocket subscribers on it (Redis: N `SUBSCRIBE`rs), every message goes to all of "
        "them; server pinned to CPU 0, load generator to CPU 1, the server restarted before each run. "
        "**Closed loop**: one publisher connection with one request in flight, each message sent when the "
        "previous publish is acknowledged, so the server runs flat out with one message per subscriber per "
        "loop turn. **Open loop**: 4,000,000 deliveries a second offered (4,000,000/N messages a second, "
        "above every server's capacity here) up to a bounded total, so several messages queue per "
        "subscriber and one write can carry several. Server CPU is utime + stime of every server process "
        "(pullboxd; redis-server; the nginx master and worker) over the publish phase and the drain, from "
        "`/proc/<pid>/stat`, divided by the deliveries: it does not depend on wall-clock time, so it holds "
        "up on a loaded machine where deliveries/s does not. `-pad`: the peer's bodies padded so that the "
        "bytes per delivery on the wire equal pullboxd's text frames (measured per run: `wire B` is the "
        "bytes the subscribers read per delivery; pads used: {}).{}".format(pads or "none", elapsed))
    out.append("")
    out.append("Run: {}.".format(params or "default parameters"))
    out.append("")
    loads = [_load1(u) for pair in ups.values() for u in pair]
    loads = [x for x in loads if x is not None]
    if loads:
        busy = max(loads) > LOADED
        out.append("Machine load (1-min load average from `uptime` before and after each run): {:.2f} .. "
                   "{:.2f}. {}".format(
                       min(loads), max(loads),
                       "**Taken on a loaded machine** (the benchmark's own two processes make about 2; "
                       "other jobs shared both CPUs, and CPU 0 was not the server's alone): deliveries/s "
                       "here is a lower bound and noisy, CPU per delivery is the figure to compare; runs "
                       "whose load is above {:.0f} are marked * in the tables.".format(LOADED)
                       if busy else "A quiet machine."))
        out.append("")
    for mode in ("closed", "open"):
        out.append("### {} loop".format(mode.capitalize()))
        out.append("")
        out.append("| subscribers | " + " | ".join(
            "{} deliveries/s | {} ns CPU/delivery".format(NAMES[v], NAMES[v]) for v in variants) + " |")
        out.append("|---:|" + "---:|---:|" * len(variants))
        for n in ns:
            cells = []
            for v in variants:
                r = runs.get((mode, n, v))
                if not r:
                    cells += ["n/a", "n/a"]
                    continue
                up = ups.get(("SAT-{}-{}".format(mode, n), v))
                star = "*" if up and any((_load1(u) or 0) > LOADED for u in up) else ""
                lost = " (lost {:,})".format(r["lost"]) if r.get("lost") else ""
                cells += [_num(r.get("deliveries_per_s")) + star + lost,
                          _num(r.get("cpu_ns_per_delivery")) + star]
            out.append("| {:,} | {} |".format(n, " | ".join(cells)))
        out.append("")
    # the split that holds up under load: user time is the server's own code, kernel time is
    # mostly the TCP send path every server shares (bench/saturation.md)
    out.append("### User and kernel time per delivery (ns, utime / stime)")
    out.append("")
    out.append("| loop | subscribers | " + " | ".join(NAMES[v] for v in variants) + " |")
    out.append("|---|---:|" + "---:|" * len(variants))
    for mode in ("closed", "open"):
        for n in ns:
            cells = []
            for v in variants:
                r = runs.get((mode, n, v))
                d = r.get("delivered") if r else 0
                cells.append("{:,.0f} / {:,.0f}".format(r.get("user_s", 0) * 1e9 / d, r.get("kernel_s", 0) * 1e9 / d)
                             if d else "n/a")
            out.append("| {} | {:,} | {} |".format(mode, n, " | ".join(cells)))
    out.append("")
    # the publish port during the fan-outs (loadgen -Q): what the Bitrix module waits for
    probed = [(m, n, v) for m in ("closed", "open") for n in ns for v in ("pullboxd", "pullboxd-pb")
              if runs.get((m, n, v), {}).get("probe_pub_n")]
    out.append("### Publishes and /health answered during the fan-outs")
    out.append("")
    if not probed:
        out.append("Not measured in this run (bench/run's SAT gives pullboxd's runs `loadgen -Q`).")
    else:
        out.append("While the publisher keeps pullboxd saturated, a probe of its own sends, every 10 ms, a "
                   "publish to a channel nobody reads and `GET /health`, each on a keep-alive connection, "
                   "and times the answers (the Bitrix module counts a text publish not answered in 5 s, "
                   "a JSON-RPC one in 1 s, as an error; the wanted p99 is under 5 ms).")
        out.append("")
        out.append("| loop | subscribers | frames | publish p50 / p99 / max ms | /health p50 / p99 / max ms | "
                   "probes | errors |")
        out.append("|---|---:|---|---|---|---:|---:|")
        for m, n, v in probed:
            r = runs[(m, n, v)]
            out.append("| {} | {:,} | {} | {:.1f} / {:.1f} / {:.1f} | {:.1f} / {:.1f} / {:.1f} | {} | {} |".format(
                m, n, "protobuf" if v.endswith("-pb") else "text", r["probe_pub_p50_ms"], r["probe_pub_p99_ms"],
                r["probe_pub_max_ms"], r["probe_health_p50_ms"], r["probe_health_p99_ms"],
                r["probe_health_max_ms"], r["probe_pub_n"] + r["probe_health_n"], r.get("probe_errors", 0)))
    out.append("")
    # targets: closed loop below Nchan and Redis at every point; open loop at most half of Nchan
    out.append("### Targets")
    out.append("")
    out.append("| target | compared with | subscribers where met | where not met | met |")
    out.append("|---|---|---|---|---|")
    for mode, peers, want, desc in (
            ("closed", ["nchan", "redis", "nchan-pad", "redis-pad"], 1.0,
             "closed loop: pullboxd CPU per delivery below the peer's"),
            ("open", ["nchan", "nchan-pad"], 0.5, "open loop: pullboxd CPU per delivery at most half of the peer's")):
        for mine in ("pullboxd", "pullboxd-pb"):
            for peer in peers:
                ok, bad = [], []
                for n in ns:
                    a = runs.get((mode, n, mine))
                    b = runs.get((mode, n, peer))
                    if not a or not b or not b.get("cpu_ns_per_delivery"):
                        continue
                    ratio = a["cpu_ns_per_delivery"] / b["cpu_ns_per_delivery"]
                    good = ratio < want if want == 1.0 else ratio <= want
                    (ok if good else bad).append("{:,} ({:.2f})".format(n, ratio))
                if not ok and not bad:
                    continue
                out.append("| {} ({}) | {} | {} | {} | {} |".format(
                    desc, NAMES[mine], NAMES[peer], ", ".join(ok) or "-", ", ".join(bad) or "-",
                    "yes" if not bad else "**no**"))
    lost = [(m, n, v, r["lost"]) for (m, n, v), r in sorted(runs.items()) if r.get("lost") or r.get("dropped")]
    out.append("| zero lost messages, zero dropped subscribers | all runs | | {} | {} |".format(
        ", ".join("{} {:,} {}: lost {:,}".format(m, n, v, x) for m, n, v, x in lost) or "-",
        "yes" if not lost else "**no**"))
    out.append("")
    out.append("(The ratio pullboxd/peer of CPU per delivery in brackets.)")
    out.append("")
    # every run, with its load before and after
    out.append("<details><summary>Every run: published, delivered, lost, latency, CPU split, wire bytes, "
               "load before and after</summary>")
    out.append("")
    out.append("| mode | N | variant | published | pub/s | delivered | lost | dropped | deliveries/s | p50 ms | "
               "p99 ms | CPU s (user/kernel) | ns/delivery | wire B | load before | load after |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for mode in ("closed", "open"):
        for n in ns:
            for v in variants:
                r = runs.get((mode, n, v))
                if not r:
                    continue
                up = ups.get(("SAT-{}-{}".format(mode, n), v), ("", ""))
                out.append("| {} | {:,} | {} | {:,} | {:,.0f} | {:,} | {:,} | {:,} | {} | {:.1f} | {:.1f} | "
                           "{:.2f} ({:.2f}/{:.2f}) | {} | {:.0f} | {} | {} |".format(
                               mode, n, v, r.get("published", 0), r.get("pub_per_s", 0), r.get("delivered", 0),
                               r.get("lost", 0), r.get("dropped", 0), _num(r.get("deliveries_per_s")),
                               r.get("lat_p50_ms", 0), r.get("lat_p99_ms", 0), r.get("server_cpu_s", 0),
                               r.get("user_s", 0), r.get("kernel_s", 0), _num(r.get("cpu_ns_per_delivery")),
                               r.get("wire_bytes_per_delivery", 0), _load1(up[0]), _load1(up[1])))
    out.append("")
    out.append("</details>")
    out.append("")
    # plots
    os.makedirs(plots_dir, exist_ok=True)
    rel = os.path.relpath(plots_dir, os.path.dirname(os.path.abspath(doc_path)))
    for mode in ("closed", "open"):
        for key, what, fname in (("deliveries_per_s", "deliveries per second", "deliveries"),
                                 ("cpu_ns_per_delivery", "server CPU per delivery (ns)", "cpu")):
            series = [(NAMES[v], [runs.get((mode, n, v), {}).get(key) for n in ns]) for v in variants]
            name = "sat-{}-{}.svg".format(mode, fname)
            if svgplot.line_chart(os.path.join(plots_dir, name),
                                  "F2 {} loop: {}".format(mode, what), "subscribers on the channel",
                                  what + ", log scale", ns, series):
                out.append("![{} loop, {}]({}/{})".format(mode, what, rel, name))
    out.append("")
    # where the cost goes: measured by hand with perf and bench/syscalls, kept across runs
    here = os.path.dirname(os.path.abspath(__file__))
    sp = os.path.join(here, "saturation.md")
    if os.path.exists(sp):
        out.append(open(sp).read().rstrip("\n"))
        out.append("")
    out.append(END)
    return out


def idle_section():
    """bench/idle.md (measured by hand with bench/image-idle and bench/idle-cost) between markers."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idle.md")
    if not os.path.exists(path):
        return []
    return [IDLE_BEGIN, open(path).read().rstrip("\n"), IDLE_END]


def splice(doc, lines, begin=BEGIN, end=END, before="## How to read this"):
    """doc with the section between the markers begin and end replaced by lines
    (inserted before the heading `before`, or appended, when it has none yet)."""
    text = "\n".join(lines)
    b, e = doc.find(begin), doc.find(end)
    if b >= 0 and e > b:
        return doc[:b] + text + doc[e + len(end):]
    i = doc.find("\n" + before + "\n")
    if i >= 0:
        return doc[:i + 1] + text + "\n\n" + doc[i + 1:]
    return doc.rstrip("\n") + "\n\n" + text + "\n"
