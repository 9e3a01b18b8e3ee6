#!/usr/bin/env python3
"""llama.cpp's speed on a GGUF model, as a reference for the embedded engine (benches/l2_speed.rs
gives it the same prompt): prompt processing and generation in tokens/s, three runs.
Usage: llamacpp_speed.py MODEL.gguf THREADS (needs llama-cpp-python; scripts/bench-l2-engines.sh
builds it in a throwaway virtual environment)."""

import sys
import time

from llama_cpp import Llama

FILLER = ("The service reads its settings from environment variables, retries failed calls "
          "three times with exponential backoff, and writes structured logs to stdout. ")
USER = (FILLER * 6 + "Write a Python class for a bank account with deposit, withdraw, transfer "
        "and balance methods, each with a docstring, type hints and input validation.")
PROMPT = ("<|im_start|>system\nYou are a helpful coding assistant.<|im_end|>\n"
          f"<|im_start|>user\n{USER}<|im_end|>\n<|im_start|>assistant\n")


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                verbose=False)
    tokens = llm.tokenize(PROMPT.encode(), special=True)
    for run in range(3):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prompt_done = time.perf_counter()
        generated = 0
        for _ in llm.generate(tokens, temp=0.0, reset=False):
            generated += 1
            if generated >= 128:
                break
        done = time.perf_counter()
        print(f"run {run}: prompt {len(tokens)} tokens {len(tokens) / (prompt_done - started):.0f} "
              f"tok/s, generation {generated} tokens {generated / (done - prompt_done):.1f} tok/s")


if __name__ == "__main__":
    main()
