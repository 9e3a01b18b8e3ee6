"""The official OpenAI Python SDK against the real daemon, streaming and not: answers arrive,
repeats are served by the exact cache (L1a) in whichever shape the caller asks for, a paraphrase
by the semantic cache (L1b), and errors come back as the SDK's own exception types."""

import openai
import pytest


def client(daemon, key="unused"):
    return openai.OpenAI(base_url=daemon.base + "/v1", api_key=key, max_retries=0)


def ask(daemon, prompt, **kw):
    raw = client(daemon).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], **kw)
    return raw.headers.get("x-isartor-layer"), raw.parse()


def ask_streamed(daemon, prompt, **kw):
    with client(daemon).chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}],
            stream=True, **kw) as response:
        layer = response.headers.get("x-isartor-layer")
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return layer, text, chunks


def test_plain_completion_then_cache_hit(daemon, cloud):
    before = cloud.count()
    layer, first = ask(daemon, "What is the capital of France?")
    assert layer == "l3"
    assert first.choices[0].message.content.endswith("What is the capital of France?")
    assert first.choices[0].finish_reason == "stop"
    assert first.usage.total_tokens == 14
    layer, again = ask(daemon, "What is the capital of France?")
    assert layer == "l1a"
    assert again.choices[0].message.content == first.choices[0].message.content
    assert again.id == first.id
    assert cloud.count() == before + 1


def test_paraphrase_served_by_the_semantic_cache(daemon, cloud):
    before = cloud.count()
    layer, first = ask(daemon, "How do I list all git branches, including remote ones?")
    assert layer == "l3"
    raw = client(daemon).chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "git: how can I see every branch, remote ones included?"}])
    assert raw.headers.get("x-isartor-layer") == "l1b"
    assert 0.85 <= float(raw.headers["x-isartor-similarity"]) < 1.0
    assert raw.parse().choices[0].message.content == first.choices[0].message.content
    # A near-miss (tags, not branches) goes to the provider.
    layer, other = ask(daemon, "How do I list all git tags, including remote ones?")
    assert layer == "l3"
    assert other.choices[0].message.content.endswith("git tags, including remote ones?")
    assert cloud.count() == before + 2


def test_streamed_completion_then_hits_in_both_shapes(daemon, cloud):
    before = cloud.count()
    usage = {"stream_options": {"include_usage": True}}
    layer, text, chunks = ask_streamed(daemon, "Explain git rebase in one line", **usage)
    assert layer == "l3"
    assert text.endswith("Explain git rebase in one line")
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens == 14

    # The provider's usage survives the cache.
    layer, again, chunks = ask_streamed(daemon, "Explain git rebase in one line", **usage)
    assert layer == "l1a"
    assert again == text
    assert chunks[-1].usage.total_tokens == 14

    layer, plain = ask(daemon, "Explain git rebase in one line")
    assert layer == "l1a"
    assert plain.choices[0].message.content == text
    assert cloud.count() == before + 1


def test_a_plain_answer_replays_as_a_stream(daemon, cloud):
    layer, plain = ask(daemon, "Name a sorting algorithm", temperature=0)
    assert layer == "l3"
    layer, text, _ = ask_streamed(daemon, "Name a sorting algorithm", temperature=0)
    assert layer == "l1a"
    assert text == plain.choices[0].message.content


def test_a_stream_without_usage_replays_with_an_estimate(daemon):
    layer, text, chunks = ask_streamed(daemon, "Write a regex for an IPv4 address")
    assert layer == "l3"
    assert all(c.usage is None for c in chunks)
    layer, _, chunks = ask_streamed(daemon, "Write a regex for an IPv4 address",
                                    stream_options={"include_usage": True})
    assert layer == "l1a"
    # Estimated at 4 bytes a token: a figure, never zero.
    assert chunks[-1].usage.completion_tokens == (len(text) + 3) // 4
    assert chunks[-1].usage.prompt_tokens > 0


def test_bad_requests_raise_the_sdks_error_types(daemon):
    with pytest.raises(openai.BadRequestError) as err:
        client(daemon).chat.completions.create(model="gpt-4o-mini", messages=[])
    assert err.value.status_code == 400
    assert "messages" in str(err.value)


def test_gateway_key_is_enforced_for_the_sdk(cloud):
    from conftest import Daemon
    guarded = Daemon(cloud, {"ISARTOR__GATEWAY_API_KEY": "gw-key"})
    try:
        with pytest.raises(openai.AuthenticationError):
            client(guarded, key="wrong").chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        ok = client(guarded, key="gw-key").chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert ok.choices[0].message.content.endswith("hi")
    finally:
        guarded.stop()


def test_responses_api_plain_and_streamed_then_cache_hit(daemon, cloud):
    before = cloud.count()
    raw = client(daemon).responses.with_raw_response.create(
        model="gpt-4o-mini", instructions="be brief", input="What is a monad?")
    assert raw.headers.get("x-isartor-layer") == "l3"
    first = raw.parse()
    assert first.status == "completed"
    assert first.output_text.endswith("What is a monad?")
    with client(daemon).responses.stream(
            model="gpt-4o-mini", instructions="be brief", input="What is a monad?") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == first.output_text
    assert final.output_text == first.output_text
    assert cloud.count() == before + 1


def test_models_list(daemon):
    models = client(daemon).models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini"]


def test_cache_control_through_extra_headers(daemon, cloud):
    prompt = "Which port does SSH use by default?"
    assert ask(daemon, prompt)[0] == "l3"
    assert ask(daemon, prompt)[0] == "l1a"
    before = cloud.count()
    layer, fresh = ask(daemon, prompt, extra_headers={"Cache-Control": "no-cache"})
    assert layer == "l3" and cloud.count() == before + 1
    layer, again = ask(daemon, prompt)
    assert layer == "l1a" and again.choices[0].message.content == fresh.choices[0].message.content
    raw = client(daemon).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}],
        extra_headers={"Cache-Control": "max-age=3600"})
    assert raw.headers.get("x-isartor-layer") == "l1a"
    assert raw.headers.get("age") is not None
    layer, _ = ask(daemon, "Store nothing of this", extra_headers={"Cache-Control": "no-store"})
    assert layer == "l3"
    assert ask(daemon, "Store nothing of this")[0] == "l3"
