#!/usr/bin/env python3
"""Turns a trace (JSON lines {"i", "prompt", "class"}) into labelled pairs for
`isartor eval semantic --pairs`: every distinct prompt against every distinct prompt before it,
the same answer when their classes match. Pairs are printed as JSON lines on stdout.

Usage: scripts/trace-pairs.py TRACE TAG > pairs.jsonl   (TAG prefixes each pair's id)
"""
import json
import sys


def pairs(path):
    """Yields (earlier prompt, later prompt, same answer) for every pair of distinct prompts."""
    earlier = []  # (prompt, class), each prompt once
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            prompt, cls = row["prompt"], row["class"]
            if any(prompt == p for p, _ in earlier):
                continue
            for p, c in earlier:
                yield p, prompt, c == cls
            earlier.append((prompt, cls))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    path, tag = sys.argv[1], sys.argv[2]
    for n, (a, b, same) in enumerate(pairs(path), 1):
        print(json.dumps({"id": f"{tag}-{n}", "category": "pos" if same else "neg",
                          "a": a, "b": b, "same": same}))


if __name__ == "__main__":
    main()
