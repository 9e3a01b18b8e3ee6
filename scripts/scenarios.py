#!/usr/bin/env python3
"""Writes the scenario traces of docs/tuning.md into tests/data/scenarios/ (deterministic: the
same files every run). Each line is {"i", "prompt", "class"}; prompts of one class can share an
answer, prompts of different classes cannot (what `isartor eval semantic --trace` checks).

  agent-loop.jsonl      an agent loop: 25 steps (tool checks, test runs, lint fixes) re-sent
                        word for word as the loop goes round, and one-off prompts between them
  support-bot.jsonl     a support bot: questions asked, then asked again in other words by other
                        users (Quora duplicate pairs), and look-alike questions that need another
                        answer (Quora non-duplicates)
  codegen-unique.jsonl  code generation: every prompt new (one per class of the coding trace)
  doc-qa.jsonl          questions about one document, the document pasted before each question,
                        each question asked in three wordings

Sources: ../shared/data/coding-trace.jsonl and qqp-20k.jsonl (the support bot and the unique
prompts), and the document Q&A written here about Isartor's own configuration.

Usage: scripts/scenarios.py [OUT_DIR]   (default tests/data/scenarios)
"""

import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write(out, name, prompts):
    with open(os.path.join(out, name), "w") as f:
        for i, (prompt, cls) in enumerate(prompts, 1):
            f.write(json.dumps({"i": i, "prompt": prompt, "class": cls}) + "\n")
    print(f"{name}: {len(prompts)} lines, {len(set(c for _, c in prompts))} classes")


def agent_loop(rng, trace):
    steps = [
        "Run the test suite and report failures",
        "Run cargo clippy --all-targets -- -D warnings and fix what it reports",
        "Show me the git diff of the working tree",
        "List the files changed since the last commit",
        "Run the linter on src/ and summarise the warnings",
        "Format the code with the project's formatter",
        "Check whether the build passes",
        "Read package.json and list the scripts",
        "Summarise the last 20 lines of the build log",
        "Find TODO comments in the repository",
    ]
    steps += [f"Re-run the failing test test_case_{n} with verbose output" for n in range(1, 16)]
    # One-off prompts keep their coding-trace class (the trace repeats some of them).
    one_offs = [(l["prompt"], f"once-{l['class']}") for l in trace]
    rng.shuffle(one_offs)
    prompts = []
    for lap in range(12):
        order = steps[:]
        rng.shuffle(order)
        for step in order[: 18 + lap % 7]:
            prompts.append((step, f"step-{steps.index(step)}"))
            if rng.random() < 0.15:
                prompts.append(one_offs.pop())
    return prompts


def support_bot(rng, qqp):
    same = [p for p in qqp if p["same"] and 4 <= len(p["a"].split()) <= 30][:150]
    traps = [p for p in qqp if not p["same"] and 4 <= len(p["a"].split()) <= 30][:50]
    first, later = [], []
    for n, p in enumerate(same):
        first.append((p["a"], f"same-{n}"))
        later.append((p["b"], f"same-{n}"))
    for n, p in enumerate(traps):
        first.append((p["a"], f"trap-{n}-a"))
        later.append((p["b"], f"trap-{n}-b"))
    rng.shuffle(first)
    rng.shuffle(later)
    # The first half of the day asks; the second asks again (and look-alikes) among new asks.
    half = len(first) // 2
    day = first[:half]
    rest = first[half:] + later
    rng.shuffle(rest)
    return day + rest


def codegen_unique(trace):
    seen, prompts = set(), []
    for line in trace:
        if line["class"] not in seen:
            seen.add(line["class"])
            prompts.append((line["prompt"], line["class"]))
    return prompts


DOC = """Isartor configuration, excerpt. cache_mode chooses the caches: exact (a hash of the
canonical request), semantic (an embedding of the last user turn) or both (the default).
similarity_threshold (default 0.85) is the cosine similarity a semantic candidate needs; a guard
then refuses candidates that differ in a number, a negation, a direction or a named entity.
cache_ttl_secs (default 300) is how long an answer is served; cache_max_capacity (default 10000)
bounds the exact cache, least recently used first. cache_backend = redis shares both caches
between replicas; redis_timeout_ms bounds each call, and a Redis that is down is a miss, never
an error. enable_slm_router turns on the local model layer; layer2.timeout_seconds bounds it.
gateway_api_key makes every request carry that key. [[budgets]] limit cloud spend per day or
month, with warn, cache-only or block at the limit."""

QUESTIONS = [
    ["What is the default similarity threshold?",
     "Which similarity_threshold does it use out of the box?",
     "default value of similarity_threshold?"],
    ["How long is a cached answer served by default?",
     "What is the default cache TTL?",
     "For how many seconds does an answer stay in the cache if I change nothing?"],
    ["What happens when Redis is down?",
     "If the Redis server stops, do requests fail?",
     "Does a Redis outage cause errors for clients?"],
    ["How do I share the cache between several replicas?",
     "Which setting lets multiple instances use one cache?",
     "How can two Isartor processes share cached answers?"],
    ["How many entries does the exact cache hold by default?",
     "What is the default cache_max_capacity?",
     "default size limit of the exact cache?"],
    ["What does cache_mode = both mean?",
     "Explain the both setting of cache_mode.",
     "What do I get with cache_mode set to both?"],
    ["How do I turn on the local model layer?",
     "Which option enables the SLM router?",
     "How can I enable answering easy requests with a local model?"],
    ["How do I require an API key for every request?",
     "Which setting makes clients send a gateway key?",
     "How can I protect the gateway with a key?"],
    ["What can a budget do when it is spent?",
     "Which actions does a budget support at its limit?",
     "What happens at a budget's limit: what are the options?"],
    ["Which differences does the semantic guard refuse?",
     "What kinds of near-misses does the guard block?",
     "List what the guard checks before serving a semantic hit."],
    ["How is the exact cache evicted when it is full?",
     "Which entries go first when cache_max_capacity is reached?",
     "What eviction policy does the exact cache use?"],
    ["What bounds the local model's time?",
     "Which setting limits how long layer 2 may take?",
     "How do I cap the local model layer's latency?"],
]


def doc_qa(rng):
    asked = []
    for n, wordings in enumerate(QUESTIONS):
        for w in wordings:
            asked.append((f"{DOC}\n\nQuestion: {w}", f"doc-q{n}"))
    first = [a for a in asked if QUESTIONS[int(a[1][5:])][0] in a[0]]
    rest = [a for a in asked if a not in first]
    rng.shuffle(first)
    rng.shuffle(rest)
    return first + rest


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "scenarios")
    os.makedirs(out, exist_ok=True)
    trace = read(os.path.join(SHARED, "coding-trace.jsonl"))
    qqp = read(os.path.join(SHARED, "qqp-20k.jsonl"))
    write(out, "agent-loop.jsonl", agent_loop(random.Random(1), trace))
    write(out, "support-bot.jsonl", support_bot(random.Random(2), qqp))
    write(out, "codegen-unique.jsonl", codegen_unique(trace))
    write(out, "doc-qa.jsonl", doc_qa(random.Random(4)))


if __name__ == "__main__":
    main()
