"""The Gemini REST surface with plain curl, as its docs show it: generateContent and
streamGenerateContent?alt=sse against the daemon (OpenAI stand-in provider, translated)."""

import json
import subprocess


def curl(daemon, path, body, *extra):
    run = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-H", "content-type: application/json",
         "-H", "x-goog-api-key: unused", *extra, "-d", json.dumps(body), daemon.base + path],
        capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_generate_content_then_stream_with_curl(daemon, cloud):
    before = cloud.count()
    body = {"contents": [{"role": "user", "parts": [{"text": "Name a prime number"}]}]}
    out = json.loads(curl(daemon, "/v1beta/models/gemini-2.5-flash:generateContent", body))
    text = out["candidates"][0]["content"]["parts"][0]["text"]
    assert text.endswith("Name a prime number")
    assert out["candidates"][0]["finishReason"] == "STOP"
    sse = curl(daemon, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body, "-N")
    chunks = [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: ")]
    streamed = "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])
    assert streamed == text
    assert cloud.count() == before + 1, "the streamed request was a cache hit"
