"""Claude Code (the real CLI from npm) through the daemon, offline: `ANTHROPIC_BASE_URL` points at
Isartor, whose anthropic provider is the stand-in cloud. Two runs of the same `claude -p` must
both print the answer while the cloud sees one inference request: Claude Code's per-session ids,
billing hash and cache markers stay out of the cache key."""

import os
import subprocess
import tempfile

import pytest

from conftest import Daemon, metric

CLAUDE = os.environ.get("ISARTOR_CLAUDE_BIN")


@pytest.fixture(scope="module")
def daemon(cloud):
    d = Daemon(cloud, {"ISARTOR__LLM_PROVIDER": "anthropic",
                       "ISARTOR__EXTERNAL_LLM_URL": f"http://127.0.0.1:{cloud.port}"})
    yield d
    d.stop()


def claude(daemon, prompt, home, *extra):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "ANTHROPIC_BASE_URL": daemon.base,
        "ANTHROPIC_API_KEY": "dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run([CLAUDE, "-p", prompt, *extra], env=env, cwd=home, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not CLAUDE, reason="ISARTOR_CLAUDE_BIN not set (scripts/test.sh installs Claude Code)")
def test_the_same_claude_prompt_twice_reaches_the_cloud_once(daemon, cloud):
    series = 'isartor_requests_total{final_layer="L1a_ExactCache",http_status="200",client="claude-code"}'
    before, hits_before = cloud.count(), metric(daemon, series)
    answers = []
    # Same project directory both times (Claude Code puts it in its system prompt); each run is a
    # new session with its own session id.
    home = tempfile.mkdtemp(prefix="claude-home-")
    for _ in range(2):
        run = claude(daemon, "What is the capital of France?", home)
        assert run.returncode == 0, run.stderr
        answers.append(run.stdout)
    assert "echo #" in answers[0], answers[0]
    assert answers[1] == answers[0]
    assert cloud.count() == before + 1
    assert metric(daemon, series) == hits_before + 1


@pytest.mark.skipif(not CLAUDE, reason="ISARTOR_CLAUDE_BIN not set (scripts/test.sh installs Claude Code)")
def test_a_tool_round_trip_works_and_repeats_from_cache(daemon, cloud):
    """The cloud asks for a Bash tool call; Claude Code runs it and sends the result back; the
    cloud quotes it. A second identical run is served from the cache, turn by turn."""
    before = cloud.count()
    home = tempfile.mkdtemp(prefix="claude-tools-")
    outputs = []
    for _ in range(2):
        run = claude(daemon, "RUN_TOOL please", home, "--allowedTools", "Bash(echo:*)")
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout.strip())
    assert outputs == ["tool said: isartor-tool-ok"] * 2
    assert cloud.count() == before + 2, "two turns upstream in the first run, none in the second"


@pytest.mark.skipif(not CLAUDE, reason="ISARTOR_CLAUDE_BIN not set (scripts/test.sh installs Claude Code)")
def test_the_second_turn_reads_the_provider_cache_with_no_break(daemon, cloud):
    """Claude Code's own cache markers reach the provider byte for byte: in a tool round trip
    the second turn extends the first, the stand-in cloud (which caches by those markers, as
    Anthropic does) reports a cache read, and the session shows no break."""
    reads = 'isartor_provider_cache_read_tokens_total{client="claude-code"}'
    breaks = 'isartor_prompt_cache_breaks_total{client="claude-code"'
    before = metric(daemon, reads)
    home = tempfile.mkdtemp(prefix="claude-cache-")
    run = claude(daemon, "RUN_TOOL and tell me", home, "--allowedTools", "Bash(echo:*)")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "tool said: isartor-tool-ok"
    # The system prompt and tools alone are thousands of tokens; the second turn reads them.
    assert metric(daemon, reads) - before > 1000
    assert metric(daemon, breaks) == 0
