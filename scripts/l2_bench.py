#!/usr/bin/env python3
"""The L2 quality benchmark's client (run by scripts/bench-l2.sh against a daemon with the local
model on and the stand-in cloud behind it).

Each line of the data file is a prompt, the class we gave it (TEMPLATE, SNIPPET, COMPLEX) and a
machine check of a right answer: `json`/`toml` (the document parses and has the dotted keys),
`patterns` (regular expressions the answer must match), `python`/`node` (the answer's code runs
with a few asserts appended) or `cloud` (a COMPLEX request, which must not be answered locally).
Only answers served by L2 are checked: the stand-in cloud's answers are not the model's.

Prints one line per prompt, then served-locally rate, pass rate of what was served, COMPLEX
served locally, latency p50/p95 of local and of cloud answers, and generated tokens/s.
"""

import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

FENCE = re.compile(r"```([\w.+-]*)[^\n]*\n(.*?)```", re.S)
LANGS = {
    "json": {"json", "jsonc"},
    "toml": {"toml"},
    "python": {"python", "py", "python3"},
    "node": {"javascript", "js", "node"},
}


def code(answer, kind):
    """The answer's code for a check: the first fenced block tagged for it, else the first
    fenced block, else the whole answer."""
    blocks = FENCE.findall(answer)
    for tag, body in blocks:
        if tag.lower() in LANGS.get(kind, ()):
            return body
    return blocks[0][1] if blocks else answer


def dig(doc, dotted):
    """Whether `doc` has the dotted key (`compilerOptions.strict`); a key may itself hold dots
    (`editor.formatOnSave`)."""
    if isinstance(doc, dict) and dotted in doc:
        return True
    head, _, rest = dotted.partition(".")
    return bool(rest) and isinstance(doc, dict) and head in doc and dig(doc[head], rest)


def run(program, suffix, interpreter):
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False) as f:
        f.write(program)
    try:
        done = subprocess.run(
            [interpreter, f.name], capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1][:120]
    return None


def failure(answer, check):
    """Why `answer` fails `check`, or None when it passes."""
    kind = check["kind"]
    if kind == "patterns":
        for p in check["patterns"]:
            if not re.search(p, answer):
                return f"no match for {p}"
        return None
    if kind in ("json", "toml"):
        text = code(answer, kind)
        try:
            doc = json.loads(text) if kind == "json" else tomllib.loads(text)
        except ValueError as e:
            return f"{kind} does not parse: {str(e)[:80]}"
        missing = [k for k in check["keys"] if not dig(doc, k)]
        return f"missing {missing}" if missing else None
    if kind == "python":
        return run(code(answer, kind) + "\n\n" + check["test"] + "\n", ".py", "python3")
    if kind == "node":
        return run(code(answer, kind) + "\n\n" + check["test"] + "\n", ".js", "node")
    if kind == "cloud":
        return "a COMPLEX request was answered locally"
    return f"unknown check {kind}"


def ask(base, prompt):
    body = json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    ).encode()
    request = urllib.request.Request(
        base + "/v1/chat/completions",
        data=body,
        headers={"content-type": "application/json"},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as r:
        reply = json.load(r)
        layer = r.headers.get("x-isartor-layer", "?")
    elapsed = time.monotonic() - started
    text = reply["choices"][0]["message"]["content"] or ""
    tokens = (reply.get("usage") or {}).get("completion_tokens", 0)
    return layer, elapsed, text, tokens


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench(base, data, verbose):
    """Runs one data file's prompts and prints their lines and the summary."""
    rows = [json.loads(line) for line in open(data) if line.strip()]
    print(f"== {data}")
    local, cloud, served, passed, complex_local = [], [], 0, 0, 0
    per_class = {}
    tokens, busy = 0, 0.0
    for row in rows:
        layer, elapsed, text, n = ask(base, row["prompt"])
        c = per_class.setdefault(row["class"], [0, 0, 0])
        c[0] += 1
        why = None
        if layer == "l2":
            served += 1
            c[1] += 1
            local.append(elapsed)
            tokens, busy = tokens + n, busy + elapsed
            why = failure(text, row["check"])
            if row["class"] == "COMPLEX":
                complex_local += 1
            if why is None:
                passed += 1
                c[2] += 1
            verdict = "pass" if why is None else f"FAIL ({why})"
        else:
            cloud.append(elapsed)
            verdict = "to the cloud"
        print(f"{row['class']:8} {layer:3} {elapsed:6.2f} s  {verdict:40.40}  {row['prompt'][:60]}")
        if verbose and why is not None:
            print("    " + text.replace("\n", "\n    "))
    n_complex = per_class.get("COMPLEX", [0])[0]
    print()
    for cls, (n, s, p) in sorted(per_class.items()):
        print(f"{cls:8} {n:3} prompts, {s:3} served locally, {p:3} of those pass")
    print(f"served locally          {served}/{len(rows)} ({100 * served / len(rows):.0f} %)")
    if served:
        print(f"pass rate of served     {passed}/{served} ({100 * passed / served:.0f} %)")
    print(f"COMPLEX served locally  {complex_local}/{n_complex}")
    print(f"local answers  p50 {pct(local, 0.5):.2f} s  p95 {pct(local, 0.95):.2f} s")
    print(f"cloud answers  p50 {pct(cloud, 0.5):.2f} s  p95 {pct(cloud, 0.95):.2f} s")
    if busy:
        print(f"generated tokens/s      {tokens / busy:.1f} (prompt pass included)")
    print()


def main():
    base = sys.argv[1]
    verbose = "-v" in sys.argv
    for data in [a for a in sys.argv[2:] if a != "-v"]:
        bench(base, data, verbose)


if __name__ == "__main__":
    main()
