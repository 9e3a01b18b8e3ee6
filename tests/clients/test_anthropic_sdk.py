"""The official Anthropic Python SDK against the real daemon, with an anthropic provider (byte-
faithful pass-through) and with an OpenAI provider (translated): answers arrive in Anthropic's
shape, streamed or not, repeats are served by the exact cache, errors raise the SDK's types."""

import anthropic
import pytest

from conftest import Daemon

MODEL = "claude-stand-in"


@pytest.fixture(scope="module", params=["anthropic-provider", "openai-provider"])
def daemon(request, cloud):
    env = {}
    if request.param == "anthropic-provider":
        env = {"ISARTOR__LLM_PROVIDER": "anthropic",
               "ISARTOR__EXTERNAL_LLM_URL": f"http://127.0.0.1:{cloud.port}"}
    d = Daemon(cloud, env)
    yield d
    d.stop()


def client(daemon):
    return anthropic.Anthropic(base_url=daemon.base, api_key="unused", max_retries=0)


def ask(daemon, prompt):
    raw = client(daemon).messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": prompt}])
    return raw.headers.get("x-isartor-layer"), raw.parse()


def ask_streamed(daemon, prompt):
    with client(daemon).messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": prompt}]) as stream:
        layer = stream.response.headers.get("x-isartor-layer")
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    return layer, text, final


def test_plain_message_then_cache_hit(daemon, cloud):
    before = cloud.count()
    layer, first = ask(daemon, "What is the capital of France?")
    assert layer == "l3"
    assert first.content[0].text.endswith("What is the capital of France?")
    assert first.stop_reason == "end_turn"
    assert first.usage.output_tokens == 5
    layer, again = ask(daemon, "What is the capital of France?")
    assert layer == "l1a"
    assert again.content[0].text == first.content[0].text
    assert cloud.count() == before + 1


def test_streamed_message_then_hits_in_both_shapes(daemon, cloud):
    before = cloud.count()
    layer, text, final = ask_streamed(daemon, "Explain git stash in one line")
    assert layer == "l3"
    assert text.endswith("Explain git stash in one line")
    assert final.stop_reason == "end_turn"
    layer, again, final = ask_streamed(daemon, "Explain git stash in one line")
    assert layer == "l1a"
    assert again == text
    assert final.stop_reason == "end_turn"
    layer, plain = ask(daemon, "Explain git stash in one line")
    assert layer == "l1a"
    assert plain.content[0].text == text
    assert cloud.count() == before + 1


def test_bad_requests_raise_the_sdks_error_types(daemon):
    with pytest.raises(anthropic.BadRequestError) as err:
        client(daemon).messages.create(model=MODEL, max_tokens=10, messages=[])
    assert err.value.status_code == 400
    assert err.value.body["error"]["type"] == "invalid_request_error"


def test_count_tokens(daemon):
    counted = client(daemon).messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "How many tokens is this?"}])
    # The anthropic stand-in answers 7; with an OpenAI provider the daemon estimates.
    assert counted.input_tokens > 0
