"""A real Prometheus (Debian's package) scrapes the real daemon after a known mix of traffic: the
PromQL in docs/observability.md must return data, the deflection rate must be the expected value,
and the alert rules and dashboard in assets/ must load and evaluate against the same data."""

import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

PROMETHEUS = shutil.which("prometheus")
if PROMETHEUS is None and not os.environ.get("CI"):
    pytest.skip("prometheus is not installed (apt-get install prometheus; CI installs it)",
                allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def doc_queries():
    """{heading: query} for every ```promql block in docs/observability.md."""
    text = (ROOT / "docs" / "observability.md").read_text()
    return {m.group(1).strip(): m.group(2).strip()
            for m in re.finditer(r"^#### (.+?)\n\n```promql\n(.+?)```", text, re.M | re.S)}


class Prometheus:
    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="isartor-prom-")
        config = Path(self.dir) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {ROOT / 'assets' / 'prometheus-alerts.yml'}\n"
            "scrape_configs:\n  - job_name: isartor\n    static_configs:\n"
            f"      - targets: ['{target}']\n")
        self.port = free_port()
        self.log = open(Path(self.dir) / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: self.get("/-/ready", raw=True), "prometheus ready")

    def get(self, path, raw=False):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                body = r.read()
        except (urllib.error.URLError, ConnectionError):
            return None
        return body if raw else json.loads(body)

    def query(self, promql):
        """The instant vector (or scalar) of `promql`; fails on a query error."""
        answer = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert answer and answer["status"] == "success", (promql, answer)
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [float(data["result"][1])]
        return [float(sample["value"][1]) for sample in data["result"]]

    def wait_for(self, check, what, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            assert self.proc.poll() is None, open(self.log.name).read()
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)

    def wait_total(self, n):
        self.wait_for(lambda: self.query("sum(isartor_requests_total)") == [n],
                      f"a scrape that saw {n} requests")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def post(daemon, body):
    """Status, layer header and body; the body is read whole (a client that hangs up early is
    counted as closed, and its reply is not cached)."""
    req = urllib.request.Request(daemon.base + "/v1/chat/completions", data=body,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers["x-isartor-layer"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-isartor-layer"), e.read()


def ask(daemon, prompt):
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    status, layer, answer = post(daemon, body)
    assert prompt in json.loads(answer)["choices"][0]["message"]["content"]
    return status, layer


def bad_request(daemon):
    status, _, answer = post(daemon, b"{not json")
    assert status == 400, answer


@pytest.fixture(scope="module")
def prometheus(daemon):
    assert PROMETHEUS, "CI must install prometheus"
    # Warm-up traffic creates every series before the first scrape, so rates see the mix below.
    assert ask(daemon, "prom warm") == (200, "l3")
    assert ask(daemon, "prom warm") == (200, "l1a")
    bad_request(daemon)
    p = Prometheus(daemon.base.removeprefix("http://"))
    p.wait_total(3)
    yield p
    p.stop()


def test_documented_queries_return_data_and_the_expected_deflection(daemon, prometheus):
    # The mix: 3 new prompts (cloud), 5 repeats (exact cache), 1 bad request. With the warm-up
    # that makes 4 cloud, 6 cache, 2 errors: a deflection rate of exactly 6/12.
    for prompt in ["prom b", "prom c", "prom d"]:
        assert ask(daemon, prompt) == (200, "l3")
    for prompt in ["prom b", "prom c", "prom d", "prom b", "prom warm"]:
        assert ask(daemon, prompt) == (200, "l1a")
    bad_request(daemon)
    prometheus.wait_total(12)

    queries = doc_queries()
    assert {"Deflection rate", "Deflection rate since start", "p95 latency per layer",
            "Tokens saved per hour", "Error rate"} <= set(queries), queries.keys()
    assert prometheus.query(queries["Deflection rate since start"]) == [0.5]
    for name, promql in queries.items():
        values = prometheus.query(promql)
        finite = [v for v in values if math.isfinite(v)]
        assert finite, f"{name}: no data from {promql!r} ({values})"
        if name.startswith("Deflection rate") or name in ("Error rate", "Cache hit ratio"):
            assert all(0 <= v <= 1 for v in finite), (name, finite)
    # Rates and increases extrapolate over their window, so only their sign is certain; the
    # counters themselves are exact.
    assert 0 < prometheus.query(queries["Error rate"])[0] < 1
    assert prometheus.query(queries["Tokens saved per hour"])[0] > 0
    saved = prometheus.query("sum(isartor_tokens_saved_total)")
    assert saved == [6 * 14], "six hits of a 14-token answer"


def test_alert_rules_and_dashboard_evaluate(daemon, prometheus):
    rules = prometheus.wait_for(
        lambda: [r for g in prometheus.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]],
        "the alert rules to load")
    assert {r["name"] for r in rules} == {
        "IsartorDown", "IsartorHighErrorRate", "IsartorSlowP95", "IsartorLowDeflection",
        "IsartorBudgetNearlySpent", "IsartorUsageRowsLost", "IsartorPromptCacheBreaking"}
    evaluated = prometheus.wait_for(
        lambda: all(r.get("lastEvaluation", "").startswith("2") and r["health"] == "ok"
                    for g in prometheus.get("/api/v1/rules")["data"]["groups"]
                    for r in g["rules"]) or None,
        "every rule to evaluate cleanly")
    assert evaluated
    # The daemon is up, so IsartorDown is not firing.
    alerts = prometheus.get("/api/v1/alerts")["data"]["alerts"]
    assert not [a for a in alerts if a["labels"]["alertname"] == "IsartorDown"]

    dashboard = json.loads((ROOT / "assets" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    served = {line.split("{")[0].split(" ")[0]
              for line in urllib.request.urlopen(daemon.base + "/metrics").read().decode().splitlines()
              if line.startswith("isartor_")}
    for expr in exprs:
        for name in re.findall(r"\bisartor_[a-z_]+", expr):
            assert name in served, f"{name} in the dashboard is not a served series"
        promql = expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
        values = prometheus.query(promql)
        assert [v for v in values if math.isfinite(v)], f"no data: {promql}"
