#!/usr/bin/env python3
"""Turns a trace (JSON lines {"i", "prompt", "class"}) into labelled pairs for
`isartor eval semantic --pairs`: every distinct prompt against every distinct prompt before it,
the same answer when their classes match. Pairs are printed as JSON lines on stdout.

Usage: scripts/trace-pairs.py TRACE TAG > pairs.jsonl   (TAG prefixes each pair's id)
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    path, tag = sys.argv[1], sys.argv[2]
    earlier = []  # (prompt, class), each prompt once
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            prompt, cls = row["prompt"], row["class"]
            if any(prompt == p for p, _ in earlier):
                continue
            for p, c in earlier:
                n += 1
                same = c == cls
                print(json.dumps({"id": f"{tag}-{n}", "category": "pos" if same else "neg",
                                  "a": p, "b": prompt, "same": same}))
            earlier.append((prompt, cls))


if __name__ == "__main__":
    main()
