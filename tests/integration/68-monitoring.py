#!/usr/bin/env python3
"""docs/monitoring.md and the Grafana dashboard it ships (docs/grafana/pullbox.json)
name only metrics and labels that a running pullboxd prints on /metrics, and the
Prometheus scrape example names the port and path that serve them."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import ROOT, Poll, Server, binary, done, http, new_id, ok, publish_text  # noqa: E402

DOC = open(os.path.join(ROOT, "docs", "monitoring.md")).read()
DASH = json.load(open(os.path.join(ROOT, "docs", "grafana", "pullbox.json")))
ADDED_BY_PROMETHEUS = {"job", "instance"}


def exposed(text):
    """{metric name: set of its label names} from Prometheus text."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\w+) ", line)
        if m:
            out.setdefault(m.group(1), set())
            continue
        m = re.match(r"(\w+)(?:\{(.*)\})? ", line)
        if m and not line.startswith("#"):
            labels = out.setdefault(m.group(1), set())
            labels.update(re.findall(r"(\w+)=\"", m.group(2) or ""))
    return out


def exprs_of_dashboard(dash):
    out = []
    for panel in dash.get("panels", []):
        for t in panel.get("targets", []):
            out.append((panel.get("title", "?"), t.get("expr", ""), t.get("legendFormat", "")))
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        out.append(("variable " + var.get("name", "?"), q.get("query", "") if isinstance(q, dict) else q or "", ""))
    return out


def labels_used(expr, legend):
    used = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        used.update(x.strip() for x in group.split(",") if x.strip())
    used.update(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
    used.update(re.findall(r"(\w+)\s*=~?\s*\"", expr))
    used.update(re.findall(r"label_values\(\s*\w+\s*,\s*(\w+)\s*\)", expr))
    return used - ADDED_BY_PROMETHEUS


with Server() as srv:
    # some traffic, so that every counter has been touched once
    cid = new_id()
    poll = Poll(srv, srv.signed(cid))
    publish_text(srv, [cid], {"hello": 1})
    poll.response()
    st, _, body = http(srv.pub_port, "GET", "/metrics")
    ok(st == 200, "/metrics answers on the publish port")
    names = exposed(body.decode())
    ok(len(names) > 20, "pullboxd prints %d metrics" % len(names))
    st_sub, _, _ = http(srv.sub_port, "GET", "/metrics")
    ok(st_sub != 200, "the subscribe port does not serve /metrics (%d), as the doc says" % st_sub)

    exprs = exprs_of_dashboard(DASH)
    ok(len(exprs) >= 10, "the dashboard has %d queries" % len(exprs))
    for where, expr, legend in exprs:
        metrics = set(re.findall(r"\bpullbox_\w+", expr))
        ok(metrics and metrics <= set(names),
           "dashboard %s: %s exist on /metrics" % (where, " ".join(sorted(metrics)) or "(no metric)"))
        have = set().union(*(names.get(m, set()) for m in metrics)) if metrics else set()
        missing = labels_used(expr, legend) - have
        ok(not missing, "dashboard %s: its labels are printed with those metrics%s" % (
            where, " (missing: %s)" % " ".join(sorted(missing)) if missing else ""))

    doc_metrics = set(re.findall(r"\bpullbox_\w+", DOC))
    ok(len(doc_metrics) >= 8, "docs/monitoring.md names %d metrics" % len(doc_metrics))
    for m in sorted(doc_metrics):
        ok(m in names, "docs/monitoring.md: %s exists on /metrics" % m)
    for expr in re.findall(r"\| `([^`]*\bpullbox_[^`]*)` \|", DOC):
        missing = labels_used(expr, "") - set().union(*(names.get(m, set()) for m in re.findall(r"\bpullbox_\w+", expr)))
        ok(not missing, "docs/monitoring.md: the labels of %s exist" % expr)

# the scrape example: the path that serves them, on pullboxd's default publish port
yaml = re.search(r"```yaml\n(.*?)```", DOC, re.S)
ok(yaml is not None, "docs/monitoring.md has a Prometheus scrape example")
yaml = yaml.group(1) if yaml else ""
path = re.search(r"metrics_path:\s*(\S+)", yaml)
ok(path is not None and path.group(1) == "/metrics", "the example scrapes /metrics")
conf = subprocess.run([binary(), "--print-config"], capture_output=True, text=True, timeout=30).stdout
default = re.search(r"^listen-publish = \S+:(\d+)$", conf, re.M)
targets = re.findall(r"'[^':]+:(\d+)'", yaml)
ok(default is not None and targets and all(t == default.group(1) for t in targets),
   "its targets use pullboxd's default publish port (%s)" % (default.group(1) if default else "?"))
ok(re.search(r"\b%s\b" % (default.group(1) if default else "8895"), DOC.split("```yaml")[0]) is not None,
   "and the text before it names that port")
done()
