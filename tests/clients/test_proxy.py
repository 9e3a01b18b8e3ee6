"""The CONNECT proxy with real clients that keep their default base URLs (api.openai.com,
api.anthropic.com), routed to the stand-in cloud by proxy.upstream_overrides:

- the OpenAI and Anthropic Python SDKs with the variables `isartor connect copilot --print-env`
  prints (HTTPS_PROXY, SSL_CERT_FILE = system roots + our CA), streaming and not;
- Claude Code with HTTPS_PROXY + NODE_EXTRA_CA_CERTS and no base URL: the answer prints, its
  /api/claude_code/* calls pass through, the second identical run is an L1a hit;
- Codex CLI with HTTPS_PROXY + CODEX_CA_CERTIFICATE (it offers h2)."""

import os
import subprocess
import tempfile
from pathlib import Path

import anthropic
import openai
import pytest

from conftest import Daemon, isartor_bin, metric

CLAUDE = os.environ.get("ISARTOR_CLAUDE_BIN")
CODEX = os.environ.get("ISARTOR_CODEX_BIN")


@pytest.fixture(scope="module")
def daemon(cloud):
    up = f"http://127.0.0.1:{cloud.port}"
    d = Daemon(cloud, {
        "ISARTOR__PROXY__UPSTREAM_OVERRIDES": f"api.openai.com={up},api.anthropic.com={up}",
    })
    yield d
    d.stop()


@pytest.fixture(scope="module")
def proxy_env(daemon):
    """What a user gets from `eval "$(isartor connect copilot --print-env)"`."""
    env = dict(daemon.env, ISARTOR__PROXY_PORT=daemon.proxy.removeprefix("http://"))
    out = subprocess.run([isartor_bin(), "connect", "copilot", "--shell", "bash", "--print-env"],
                         env=env, capture_output=True, text=True, check=True).stdout
    variables = {}
    for line in out.splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            variables[name] = value.strip("'")
    assert variables["HTTPS_PROXY"] == daemon.proxy
    return variables


@pytest.fixture
def proxied(proxy_env, monkeypatch):
    """This process's environment as a user's shell has it after sourcing the env file."""
    for name in ["OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "NO_PROXY", "no_proxy"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in proxy_env.items():
        monkeypatch.setenv(name, value)


def layer_series(layer, client):
    return f'isartor_requests_total{{final_layer="{layer}",http_status="200",client="{client}"}}'


def test_openai_sdk_through_the_proxy(daemon, cloud, proxied):
    client = openai.OpenAI(api_key="sk-own-key")
    assert str(client.base_url).startswith("https://api.openai.com")
    ask = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "proxy me, openai"}])
    before = cloud.count()
    first = client.chat.completions.with_raw_response.create(**ask)
    second = client.chat.completions.with_raw_response.create(**ask)
    assert first.headers["x-isartor-layer"] == "l3"
    assert second.headers["x-isartor-layer"] == "l1a"
    text = first.parse().choices[0].message.content
    assert text.startswith("echo #") and text.endswith("proxy me, openai")
    assert second.parse().choices[0].message.content == text
    assert cloud.count() == before + 1

    streamed = client.chat.completions.create(stream=True, **dict(ask, messages=[
        {"role": "user", "content": "stream me, openai"}]))
    chunks = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert chunks.endswith("stream me, openai")
    again = client.chat.completions.create(stream=True, **dict(ask, messages=[
        {"role": "user", "content": "stream me, openai"}]))
    assert "".join(c.choices[0].delta.content or "" for c in again if c.choices) == chunks
    assert cloud.count() == before + 2


def test_anthropic_sdk_through_the_proxy(daemon, cloud, proxied):
    client = anthropic.Anthropic(api_key="sk-ant-own")
    ask = dict(model="claude-opus-5-5", max_tokens=64,
               messages=[{"role": "user", "content": "proxy me, anthropic"}])
    before = cloud.count()
    first = client.messages.with_raw_response.create(**ask)
    assert first.headers["x-isartor-layer"] == "l3"
    text = first.parse().content[0].text
    assert text.endswith("proxy me, anthropic")
    with client.messages.stream(**ask) as stream:
        assert stream.get_final_text() == text
    assert cloud.count() == before + 1


def run_claude(daemon, prompt, home):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "HTTPS_PROXY": daemon.proxy,
        "NODE_EXTRA_CA_CERTS": str(Path(daemon.home) / ".local/share/isartor/isartor-ca.pem"),
        "ANTHROPIC_API_KEY": "dummy",
    }
    return subprocess.run([CLAUDE, "-p", prompt], env=env, cwd=home, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not CLAUDE, reason="ISARTOR_CLAUDE_BIN not set (scripts/test.sh installs Claude Code)")
def test_claude_code_first_party_through_the_proxy(daemon, cloud):
    series = layer_series("L1a_ExactCache", "claude-code")
    before, hits_before = cloud.count(), metric(daemon, series)
    home = tempfile.mkdtemp(prefix="claude-proxy-")
    answers = []
    for _ in range(2):
        run = run_claude(daemon, "What is the capital of Italy?", home)
        assert run.returncode == 0, run.stderr
        answers.append(run.stdout)
    assert "echo #" in answers[0] and "What is the capital of Italy?" in answers[0], answers[0]
    assert answers[1] == answers[0]
    assert cloud.count() == before + 1
    assert metric(daemon, series) == hits_before + 1
    # Its own API calls went through untouched to the (stand-in) host.
    other = cloud.other()
    assert any(p.startswith("GET /api/claude_code/") for p in other), other


@pytest.mark.skipif(not CODEX, reason="ISARTOR_CODEX_BIN not set (scripts/test.sh installs Codex)")
def test_codex_through_the_proxy(daemon, cloud):
    home = tempfile.mkdtemp(prefix="codex-proxy-")
    workdir = tempfile.mkdtemp(prefix="codex-proxy-work-")
    codex_home = Path(home) / "codex"
    codex_home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "CODEX_HOME": str(codex_home),
        "OPENAI_API_KEY": "sk-own-key",
        "HTTPS_PROXY": daemon.proxy,
        "CODEX_CA_CERTIFICATE": str(Path(daemon.home) / ".local/share/isartor/isartor-ca.pem"),
    }
    series = layer_series("L1a_ExactCache", "codex")
    before, hits_before = cloud.count(), metric(daemon, series)
    outputs = []
    for _ in range(2):
        run = subprocess.run([CODEX, "exec", "--skip-git-repo-check", "What is the capital of Spain?"],
                             env=env, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=180)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout.strip())
    assert outputs[0].endswith("What is the capital of Spain?"), outputs[0]
    assert outputs[1] == outputs[0]
    assert cloud.count() == before + 1
    assert metric(daemon, series) == hits_before + 1
