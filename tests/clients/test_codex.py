"""Codex CLI (the real CLI from npm) through the daemon, offline: a custom model provider whose
base_url is the daemon's /v1 with wire_api = "responses". Two runs of the same `codex exec` both
print the answer while the cloud sees one request: Codex's per-run item ids and
prompt_cache_key stay out of the cache key."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import metric

CODEX = os.environ.get("ISARTOR_CODEX_BIN")


def codex(daemon, prompt, home, workdir):
    codex_home = Path(home) / "codex"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(f"""
model = "gpt-4o-mini"
model_provider = "isartor"

[model_providers.isartor]
name = "Isartor"
base_url = "{daemon.base}/v1"
env_key = "ISARTOR_TEST_KEY"
wire_api = "responses"
""")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "CODEX_HOME": str(codex_home),
           "ISARTOR_TEST_KEY": "dummy"}
    return subprocess.run([CODEX, "exec", "--skip-git-repo-check", prompt], env=env, cwd=workdir,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not CODEX, reason="ISARTOR_CODEX_BIN not set (scripts/test.sh installs Codex)")
def test_the_same_codex_prompt_twice_reaches_the_cloud_once(daemon, cloud):
    series = 'isartor_requests_total{final_layer="L1a_ExactCache",http_status="200",client="codex"}'
    before, hits_before = cloud.count(), metric(daemon, series)
    home = tempfile.mkdtemp(prefix="codex-home-")
    workdir = tempfile.mkdtemp(prefix="codex-work-")
    outputs = []
    for _ in range(2):
        run = codex(daemon, "What is the capital of France?", home, workdir)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout.strip())
    assert outputs[0].endswith("What is the capital of France?"), outputs[0]
    assert outputs[1] == outputs[0]
    assert cloud.count() == before + 1
    assert metric(daemon, series) == hits_before + 1
