"""Fixtures: the stand-in cloud and the real isartor daemon (its own HOME, port 0), both started
by the test and stopped by PID when the session ends."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def hub_cache_dir():
    """The Hugging Face cache scripts/fetch-models.sh fills (the daemons get a HOME of their own,
    so they are told where it is and never try the Hub)."""
    env = os.environ
    if env.get("ISARTOR_HF_CACHE_DIR"):
        return env["ISARTOR_HF_CACHE_DIR"]
    if env.get("HF_HUB_CACHE"):
        return env["HF_HUB_CACHE"]
    if env.get("HF_HOME"):
        return str(Path(env["HF_HOME"]) / "hub")
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(cache) / "huggingface" / "hub")


def isartor_bin():
    explicit = os.environ.get("ISARTOR_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "isartor")


class Cloud:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "mock_cloud.py"), "0"],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.port = int(line.split()[-1])

    def count(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count") as r:
            return json.load(r)["count"]

    def other(self):
        """The requests that were not completions, as "METHOD path"."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/other") as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Daemon:
    def __init__(self, cloud, extra_env=None):
        self.home = tempfile.mkdtemp(prefix="isartor-sdk-")
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": self.home,
            "ISARTOR__HOST_PORT": "127.0.0.1:0",
            "ISARTOR__PROXY_PORT": "127.0.0.1:0",
            "ISARTOR__EXTERNAL_LLM_URL": f"http://127.0.0.1:{cloud.port}/v1",
            "ISARTOR__EXTERNAL_LLM_API_KEY": "sk-stand-in",
            "ISARTOR_HF_CACHE_DIR": hub_cache_dir(),
        }
        self.env.update(extra_env or {})
        self.log = open(Path(self.home) / "daemon.log", "w")
        self.proc = subprocess.Popen([isartor_bin(), "up"], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_ready()
        except BaseException:
            # A daemon that never became ready is still ours to stop.
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise

    def _wait_until_ready(self):
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, open(Path(self.home) / "daemon.log").read()
            status = subprocess.run([isartor_bin(), "status", "--json"], env=self.env,
                                    capture_output=True, text=True)
            info = json.loads(status.stdout)
            if info.get("healthy"):
                self.base = f"http://{info['addr']}"
                self.proxy = f"http://{info['proxy_addr']}" if info.get("proxy_addr") else None
                break
            assert time.monotonic() < deadline, "daemon did not become healthy"
            time.sleep(0.05)
        # The embedder loads in the background: wait until the semantic cache is ready.
        deadline = time.monotonic() + 120
        key = self.env.get("ISARTOR__GATEWAY_API_KEY")
        health = urllib.request.Request(self.base + "/health",
                                        headers={"x-api-key": key} if key else {})
        while True:
            with urllib.request.urlopen(health) as r:
                l1b = json.load(r)["layers"]["l1b"]
            if l1b["status"] != "loading":
                assert l1b["status"] == "ready", l1b
                break
            assert time.monotonic() < deadline, "the semantic cache did not load"
            time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0
        self.log.close()


def metric(daemon, series):
    """The value of one Prometheus series on the daemon's /metrics (0 when absent)."""
    with urllib.request.urlopen(daemon.base + "/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def cloud():
    c = Cloud()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def daemon(cloud):
    d = Daemon(cloud)
    yield d
    d.stop()
