"""Gemini CLI, Qwen Code, opencode and Copilot CLI (the real CLIs from npm) through the daemon,
offline, each run twice with the same prompt: both runs print the answer, the cloud sees the
first run's requests only, and the second run is counted under the client's own name.

- Gemini CLI with an API key: at the gateway (GOOGLE_GEMINI_BASE_URL) with the OpenAI stand-in
  (translated) and with a gemini provider (passed through; the provider sees exactly one key);
  and through the CONNECT proxy (HTTPS_PROXY), generativelanguage.googleapis.com being on the
  default intercept list.
- Qwen Code (OPENAI_BASE_URL), opencode (an OpenAI-compatible provider in opencode.json).
- Copilot CLI with its own provider (BYOK: COPILOT_PROVIDER_BASE_URL), OpenAI and Anthropic
  types. Its system prompt carries a per-run session folder, kept out of the cache key.
"""

import json
import os
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from conftest import Daemon, metric

GEMINI = os.environ.get("ISARTOR_GEMINI_BIN")
QWEN = os.environ.get("ISARTOR_QWEN_BIN")
OPENCODE = os.environ.get("ISARTOR_OPENCODE_BIN")
COPILOT = os.environ.get("ISARTOR_COPILOT_BIN")

PROMPT = "What is the capital of France?"


def hits(daemon, client):
    series = f'isartor_requests_total{{final_layer="L1a_ExactCache",http_status="200",client="{client}"}}'
    return metric(daemon, series)


def twice(daemon, cloud, client, run):
    """Runs the client twice; checks the second run reached no provider and was served from the
    cache under the client's name. Returns the two outputs."""
    before, hits_before = cloud.count(), hits(daemon, client)
    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    sent = cloud.count() - before
    assert sent >= 1, "the first run reached the provider"
    second = run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert cloud.count() == before + sent, "the second run reached the provider"
    assert hits(daemon, client) >= hits_before + 1, f"no cache hit counted for {client}"
    return first.stdout, second.stdout


def last_credentials(cloud):
    with urllib.request.urlopen(f"http://127.0.0.1:{cloud.port}/last") as r:
        return json.load(r)


def gemini_run(home, workdir, extra_env):
    settings = Path(home) / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "telemetry": {"enabled": False},
        "privacy": {"usageStatisticsEnabled": False},
    }))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "GEMINI_API_KEY": "client-key",
           "GEMINI_CLI_TRUST_WORKSPACE": "true", **extra_env}
    # An explicit model: the default ("auto") first asks a small model to route the request.
    return lambda: subprocess.run(
        [GEMINI, "-m", "gemini-2.5-flash", "-p", PROMPT], env=env, cwd=workdir,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)


needs_gemini = pytest.mark.skipif(not GEMINI, reason="ISARTOR_GEMINI_BIN not set (scripts/test.sh installs it)")


@needs_gemini
def test_gemini_cli_at_the_gateway_translated(daemon, cloud):
    home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    run = gemini_run(home, work, {"GOOGLE_GEMINI_BASE_URL": daemon.base})
    first, second = twice(daemon, cloud, "gemini-cli", run)
    assert PROMPT in first, first
    assert second == first


@pytest.fixture(scope="module")
def gemini_daemon(cloud):
    d = Daemon(cloud, {
        "ISARTOR__LLM_PROVIDER": "gemini",
        "ISARTOR__EXTERNAL_LLM_URL": f"http://127.0.0.1:{cloud.port}/v1beta",
        "ISARTOR__PROXY__UPSTREAM_OVERRIDES":
            f"generativelanguage.googleapis.com=http://127.0.0.1:{cloud.port}",
    })
    yield d
    d.stop()


@needs_gemini
def test_gemini_cli_with_a_gemini_provider_sends_exactly_one_key(gemini_daemon, cloud):
    home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    run = gemini_run(home, work, {"GOOGLE_GEMINI_BASE_URL": gemini_daemon.base})
    before, hits_before = cloud.count(), hits(gemini_daemon, "gemini-cli")
    first = run()
    assert first.returncode == 0, first.stderr
    after_first = cloud.count()
    assert after_first > before
    # Passed through as the client sent it, with the configured key in place of the client's.
    assert last_credentials(cloud) == [["x-goog-api-key", "sk-stand-in"]]
    second = run()
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert cloud.count() == after_first, "the second run reached the provider"
    assert hits(gemini_daemon, "gemini-cli") >= hits_before + 1


@needs_gemini
def test_gemini_cli_through_the_proxy(gemini_daemon, cloud):
    home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    ca = str(Path(gemini_daemon.home) / ".local/share/isartor/isartor-ca.pem")
    run = gemini_run(home, work, {"HTTPS_PROXY": gemini_daemon.proxy, "NODE_EXTRA_CA_CERTS": ca})
    first, second = twice(gemini_daemon, cloud, "gemini-cli", run)
    assert PROMPT in first
    assert second == first
    # The client's own key went to its own provider, once (proxy mode forwards credentials).
    assert last_credentials(cloud) == [["x-goog-api-key", "client-key"]]


@pytest.mark.skipif(not QWEN, reason="ISARTOR_QWEN_BIN not set (scripts/test.sh installs it)")
def test_qwen_code(daemon, cloud):
    home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "OPENAI_API_KEY": "dummy",
           "OPENAI_BASE_URL": f"{daemon.base}/v1", "OPENAI_MODEL": "gpt-4o-mini"}
    run = lambda: subprocess.run([QWEN, "-p", PROMPT], env=env, cwd=work, stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=180)
    first, second = twice(daemon, cloud, "qwen-code", run)
    assert PROMPT in first, first
    assert second == first


@pytest.mark.skipif(not OPENCODE, reason="ISARTOR_OPENCODE_BIN not set (scripts/test.sh installs it)")
def test_opencode(daemon, cloud):
    home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    (Path(work) / "opencode.json").write_text(json.dumps({
        "$schema": "https://opencode.ai/config.json",
        "provider": {"isartor": {
            "npm": "@ai-sdk/openai-compatible", "name": "Isartor",
            "options": {"baseURL": f"{daemon.base}/v1", "apiKey": "dummy"},
            "models": {"gpt-4o-mini": {"name": "gpt-4o-mini"}}}},
        "model": "isartor/gpt-4o-mini", "autoupdate": False, "share": "disabled",
    }))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home}
    run = lambda: subprocess.run([OPENCODE, "run", PROMPT], env=env, cwd=work,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=180)
    first, second = twice(daemon, cloud, "opencode", run)
    assert PROMPT in first, first
    assert second == first


@pytest.mark.skipif(not COPILOT, reason="ISARTOR_COPILOT_BIN not set (scripts/test.sh installs it)")
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_copilot_cli_with_its_own_provider(daemon, cloud, kind):
    home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "COPILOT_OFFLINE": "true",
           "COPILOT_PROVIDER_BASE_URL": f"{daemon.base}/v1" if kind == "openai" else daemon.base,
           "COPILOT_PROVIDER_API_KEY": "dummy", "COPILOT_PROVIDER_TYPE": kind,
           "COPILOT_MODEL": "gpt-4o-mini" if kind == "openai" else "claude-sonnet-4-5"}
    run = lambda: subprocess.run([COPILOT, "-p", PROMPT, "--allow-all-tools"], env=env, cwd=work,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=180)
    first, second = twice(daemon, cloud, "copilot", run)
    assert PROMPT in first, first
    assert second == first
