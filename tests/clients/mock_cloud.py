"""A stand-in for a cloud LLM provider, for tests and the quickstart (no key, no network).

Speaks OpenAI chat completions (POST /v1/chat/completions), OpenAI Responses (POST
/v1/responses), Anthropic Messages (POST /v1/messages) and Gemini (POST
/v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse): JSON, or SSE when the
request streams. Every answer is numbered ("echo #N: <last user message>") so a caller can tell a
fresh upstream answer from a cached one. GET /count returns how many completions were served;
GET /other lists the "METHOD path" of every other request (the calls a proxy must pass through);
GET /last returns the credential headers (and `key` query parameter) of the last completion
request, to check that exactly one key arrived.

A stream's body ends a little after its final event (`[DONE]`, `message_stop`,
`response.completed`), as a provider's does across a network: clients stop reading at that event,
and a reply must be cached by then.

Tool round trip (Anthropic Messages): when the last user turn mentions RUN_TOOL and tools are
offered, the answer is a tool_use of the first tool named Bash, running `echo isartor-tool-ok`;
when the last user turn carries a tool_result, the answer quotes it ("tool said: ...").

Prompt cache (Anthropic Messages): the usage reports what Anthropic's cache would have done, at
4 bytes a token. The prompt is read in Anthropic's order (tools, system, messages) block by
block; each block marked `cache_control` is a breakpoint whose prefix is written to the cache;
the longest prefix written before is read back (`cache_read_input_tokens`), what lies between it
and the last breakpoint is written (`cache_creation_input_tokens`), the rest is `input_tokens`.
Claude Code's per-request billing hash (`cch=`) is left out, as the provider leaves it out.

Usage: python3 mock_cloud.py [PORT]   (prints "listening on PORT" once ready; 0 picks a port)
"""

import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNT = 0
OTHER = []
LAST = []
CARRIERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
# Prefix digests of every breakpoint seen: the stand-in's prompt cache (it never expires).
PROMPT_CACHE = set()


def anthropic_usage(request):
    """Input, cache-read and cache-write tokens of an Anthropic request (see the docstring)."""
    blocks = list(request.get("tools") or [])
    system = request.get("system") or []
    blocks += [{"type": "text", "text": system}] if isinstance(system, str) else system
    for m in request.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks += [dict(b, role=m.get("role")) for b in content or []]
    digest, size, breakpoints = hashlib.sha256(), 0, []
    for block in blocks:
        text = json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)
        text = re.sub(r"cch=[0-9a-fA-F]+;", "cch=;", text)
        digest.update(text.encode())
        size += len(text)
        if "cache_control" in block:
            breakpoints.append((digest.hexdigest(), size))
    with LOCK:
        read = max((at for d, at in breakpoints if d in PROMPT_CACHE), default=0)
        PROMPT_CACHE.update(d for d, _ in breakpoints)
    written = max((breakpoints[-1][1] if breakpoints else 0) - read, 0)
    return {"input_tokens": max((size - read - written) // 4, 1),
            "cache_read_input_tokens": read // 4, "cache_creation_input_tokens": written // 4}


def text_of(content):
    """The text of a message's content: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("text"))
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self):
        with LOCK:
            OTHER.append(f"{self.command} {self.path}")
        self._send(404, json.dumps({"error": {"message": "not found"}}))

    def do_GET(self):
        if self.path == "/count":
            self._send(200, json.dumps({"count": COUNT}))
        elif self.path == "/other":
            with LOCK:
                self._send(200, json.dumps(OTHER))
        elif self.path == "/last":
            with LOCK:
                self._send(200, json.dumps(LAST))
        else:
            self._not_found()

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            request = {}
        path = self.path.split("?", 1)[0]
        if not path.endswith("/count_tokens"):
            creds = [[k.lower(), v] for k, v in self.headers.items() if k.lower() in CARRIERS]
            query = self.path.split("?", 1)[1] if "?" in self.path else ""
            creds += [["?key", p[4:]] for p in query.split("&") if p.startswith("key=")]
            with LOCK:
                LAST[:] = creds
        if ":generateContent" in path or ":streamGenerateContent" in path:
            self.gemini(request, ":streamGenerateContent" in path)
            return
        if path.endswith("/v1/messages/count_tokens"):
            self._send(200, json.dumps({"input_tokens": 7}))
            return
        if path.endswith("/v1/messages"):
            self.anthropic(request)
            return
        if path.endswith("/v1/responses"):
            self.responses_api(request)
            return
        if not path.endswith("/chat/completions"):
            self._not_found()
            return
        n = next_count()
        users = [m for m in request.get("messages", []) if m.get("role") == "user"]
        last = users[-1].get("content") if users else ""
        text = f"echo #{n}: {text_of(last)}"
        base = {"id": f"chatcmpl-stand-in-{n}", "created": 1700000000, "model": request.get("model", "stand-in")}
        usage = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
        if not request.get("stream"):
            body = dict(base, object="chat.completion", usage=usage, choices=[{
                "index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": text}}])
            self._send(200, json.dumps(body))
            return
        event = self._start_stream()

        def chunk(delta, finish=None):
            event(json.dumps(dict(base, object="chat.completion.chunk", choices=[{
                "index": 0, "delta": delta, "finish_reason": finish}])))

        chunk({"role": "assistant", "content": ""})
        words = text.split(" ")
        for i, word in enumerate(words):
            chunk({"content": word + (" " if i < len(words) - 1 else "")})
        chunk({}, "stop")
        if (request.get("stream_options") or {}).get("include_usage"):
            event(json.dumps(dict(base, object="chat.completion.chunk", choices=[], usage=usage)))
        event("[DONE]")
        self._end_stream()

    def _start_stream(self):
        """Sends SSE headers; returns a function that writes one event as one chunk."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def event(payload, name=None):
            head = f"event: {name}\n" if name else ""
            data = f"{head}data: {payload}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        return event

    def _end_stream(self):
        time.sleep(END_OF_BODY_DELAY)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def responses_api(self, request):
        responses_reply(self, request)

    def gemini(self, request, stream):
        n = next_count()
        users = [c for c in request.get("contents", []) if c.get("role", "user") == "user"]
        parts = users[-1].get("parts", []) if users else []
        text = f"echo #{n}: {text_of(parts)}"
        usage = {"promptTokenCount": 9, "candidatesTokenCount": 5, "totalTokenCount": 14}

        def chunk(part_text, finish=None):
            c = {"candidates": [{"content": {"role": "model", "parts": [{"text": part_text}]},
                                 "index": 0}], "modelVersion": "stand-in", "responseId": f"gem-{n}"}
            if finish:
                c["candidates"][0]["finishReason"] = finish
                c["usageMetadata"] = usage
            return c
        if not stream:
            self._send(200, json.dumps(chunk(text, "STOP")))
            return
        event = self._start_stream()
        words = text.split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            event(json.dumps(chunk(word + ("" if last else " "), "STOP" if last else None)))
        self._end_stream()

    def anthropic(self, request):
        n = next_count()
        users = [m for m in request.get("messages", []) if m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        results = []
        if isinstance(content, list):
            results = [b for b in content if b.get("type") == "tool_result"]
            content = " ".join(b.get("text", "") for b in content if b.get("type") == "text")
        text = f"echo #{n}: {content}"
        tool = None
        if results:
            out = results[0].get("content")
            if isinstance(out, list):
                out = " ".join(b.get("text", "") for b in out if isinstance(b, dict))
            text = f"tool said: {str(out).strip()}"
        elif "RUN_TOOL" in content and any(t.get("name") == "Bash" for t in request.get("tools", [])):
            tool = {"type": "tool_use", "id": f"toolu_stand_in_{n}", "name": "Bash",
                    "input": {"command": "echo isartor-tool-ok", "description": "Print a marker"}}
        usage = dict(anthropic_usage(request), output_tokens=5)
        message = {"id": f"msg_stand_in_{n}", "type": "message", "role": "assistant",
                   "model": request.get("model", "stand-in"), "stop_sequence": None}
        if not request.get("stream"):
            blocks = [tool] if tool else [{"type": "text", "text": text}]
            self._send(200, json.dumps(dict(message, content=blocks,
                                            stop_reason="tool_use" if tool else "end_turn", usage=usage)))
            return
        event = self._start_stream()
        start = dict(message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))
        event(json.dumps({"type": "message_start", "message": start}), "message_start")
        if tool:
            event(json.dumps({"type": "content_block_start", "index": 0,
                              "content_block": dict(tool, input={})}), "content_block_start")
            event(json.dumps({"type": "content_block_delta", "index": 0, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(tool["input"])}}), "content_block_delta")
            event(json.dumps({"type": "content_block_stop", "index": 0}), "content_block_stop")
            event(json.dumps({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                              "usage": {"output_tokens": 5}}), "message_delta")
            event(json.dumps({"type": "message_stop"}), "message_stop")
            self._end_stream()
            return
        event(json.dumps({"type": "content_block_start", "index": 0,
                          "content_block": {"type": "text", "text": ""}}), "content_block_start")
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word + (" " if i < len(words) - 1 else "")
            event(json.dumps({"type": "content_block_delta", "index": 0,
                              "delta": {"type": "text_delta", "text": piece}}), "content_block_delta")
        event(json.dumps({"type": "content_block_stop", "index": 0}), "content_block_stop")
        event(json.dumps({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                          "usage": {"output_tokens": 5}}), "message_delta")
        event(json.dumps({"type": "message_stop"}), "message_stop")
        self._end_stream()


def responses_last_user(request):
    items = request.get("input", "")
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if item.get("role") == "user":
            content = item.get("content", "")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content
    return ""


def responses_reply(handler, request):
    n = next_count()
    text = f"echo #{n}: {responses_last_user(request)}"
    response = {"id": f"resp_stand_in_{n}", "object": "response", "created_at": 1700000000,
                "status": "completed", "model": request.get("model", "stand-in"), "output": [
                    {"type": "message", "id": f"msg_stand_in_{n}", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": text, "annotations": []}]}],
                "usage": {"input_tokens": 9, "output_tokens": 5, "total_tokens": 14},
                "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    if not request.get("stream"):
        handler._send(200, json.dumps(response))
        return
    event = handler._start_stream()
    seq = iter(range(1000))
    started = dict(response, status="in_progress", output=[])
    event(json.dumps({"type": "response.created", "sequence_number": next(seq), "response": started}),
          "response.created")
    item = response["output"][0]
    event(json.dumps({"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0,
                      "item": dict(item, status="in_progress", content=[])}), "response.output_item.added")
    words = text.split(" ")
    for i, word in enumerate(words):
        piece = word + (" " if i < len(words) - 1 else "")
        event(json.dumps({"type": "response.output_text.delta", "sequence_number": next(seq),
                          "item_id": item["id"], "output_index": 0, "content_index": 0, "delta": piece}),
              "response.output_text.delta")
    event(json.dumps({"type": "response.output_item.done", "sequence_number": next(seq), "output_index": 0,
                      "item": item}), "response.output_item.done")
    event(json.dumps({"type": "response.completed", "sequence_number": next(seq), "response": response}),
          "response.completed")
    handler._end_stream()


# Seconds between a stream's last event and the end of its body.
END_OF_BODY_DELAY = 0.1


def next_count():
    global COUNT
    with LOCK:
        COUNT += 1
        return COUNT


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
