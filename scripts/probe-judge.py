#!/usr/bin/env python3
"""Probes a trained paraphrase judge for the semantic cache, on the held-out days.

Trains, from all-MiniLM-L6-v2's own weights, on labelled pairs from the tuning data only (the dev
trace, traces 3 to 7, shared/data/coding-pairs.jsonl and QQP past its first 3,000 pairs), and
reports on pairs it never saw (traces 8 to 10, the two held-out pair files, QQP's first 3,000):

  bi     fine-tunes MiniLM as the embedder (CoSENT loss) and prints, per set, the share of
         same-answer pairs whose cosine beats the K-th highest trap (K = 10, 20, 40, 60), before
         and after. With --out DIR it writes a model directory `embedding_model = DIR` can load,
         so `isartor eval semantic --trace` can replay a day with it and the guard.
  cross  trains MiniLM as a cross-encoder (both prompts in one input, a logistic head on the mean
         of its last layer) and prints, on the pairs whose cosine reaches 0.70 / 0.80 / 0.85, what
         the guard serves, and what it would serve with the cross-encoder in place of the
         unmatched-word rule ("instead": the guard's other rules and a score above C) or as a
         second chance for that rule's refusals ("rescue"). The guard's verdicts come from
         `isartor eval semantic --pairs FILE --scores OUT` (ISARTOR_BIN, else the release build).
         A pair the unmatched-word rule refused was not checked by the one rule after it
         (qualifiers), so "instead" can count a pair that rule would refuse.

Needs: pip install jax optax tokenizers safetensors numpy; the MiniLM files in the Hugging Face
cache (scripts/fetch-models.sh). On two cores: bi ~6 min (3 epochs), cross ~5 min (2 epochs).
Nothing here ships: it measures whether a trained judge would pay for itself
(docs/semantic-cache.md, "A trained judge").

Usage: scripts/probe-judge.py bi [--out DIR] | cross
"""
import glob
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
_spec = importlib.util.spec_from_file_location("trace_pairs", os.path.join(ROOT, "scripts", "trace-pairs.py"))
_TRACE_PAIRS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_TRACE_PAIRS)
SHARED = os.path.join(ROOT, "..", "shared", "data")
TUNING_TRACES = [os.path.join(SHARED, "coding-trace.jsonl"), "tests/data/heldout-trace.jsonl"] + [
    f"tests/data/heldout-trace-{i}.jsonl" for i in (4, 5, 6, 7)]
HELDOUT_TRACES = {f"trace {i}": f"tests/data/heldout-trace-{i}.jsonl" for i in (8, 9, 10)}
HELDOUT_PAIRS = {"heldout": "tests/data/heldout-pairs.jsonl", "heldout2": "tests/data/heldout2-pairs.jsonl"}
QQP_HELDOUT = 3000


def hub_snapshot():
    hub = os.environ.get("ISARTOR_HF_CACHE_DIR") or os.environ.get("HF_HUB_CACHE") or (
        os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else
        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface", "hub"))
    found = glob.glob(os.path.join(hub, "models--sentence-transformers--all-MiniLM-L6-v2", "snapshots", "*", "model.safetensors"))
    if not found:
        sys.exit("MiniLM is not in the Hugging Face cache: run scripts/fetch-models.sh")
    return os.path.dirname(found[0])


SNAPSHOT = hub_snapshot()
TOKENIZER = Tokenizer.from_file(os.path.join(SNAPSHOT, "tokenizer.json"))
TOKENIZER.no_padding()
TOKENIZER.no_truncation()


def read_jsonl(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def trace_pairs(path):
    """Every distinct prompt against every distinct one before it (scripts/trace-pairs.py)."""
    return list(_TRACE_PAIRS.pairs(os.path.join(ROOT, path)))


def file_pairs(path):
    return [(r["a"], r["b"], bool(r["same"])) for r in read_jsonl(path)]


def heldout_sets():
    sets = {name: trace_pairs(path) for name, path in HELDOUT_TRACES.items()}
    sets.update({name: file_pairs(path) for name, path in HELDOUT_PAIRS.items()})
    sets["qqp 3k"] = file_pairs(os.path.join(SHARED, "qqp-20k.jsonl"))[:QQP_HELDOUT]
    return sets


# --- the model: BERT as MiniLM has it (6 layers, 12 heads of 32, GELU, post-norm) ---

def load_params():
    weights = load_file(os.path.join(SNAPSHOT, "model.safetensors"))
    weights.pop("embeddings.position_ids", None)
    return {k: jnp.asarray(v) for k, v in weights.items()}


def layer_norm(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / jnp.sqrt(v + 1e-12) * g + b


def dense(p, name, x):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def encode(p, ids, types, mask):
    """Mean of the last layer over the mask."""
    n, t = ids.shape
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][:t][None] \
        + p["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"])
    bias = (1.0 - mask[:, None, None, :]) * -1e9

    def heads(y):
        return y.reshape(n, t, 12, 32).transpose(0, 2, 1, 3)

    for i in range(6):
        pre = f"encoder.layer.{i}."
        q, k, v = (heads(dense(p, pre + "attention.self." + w, x)) for w in ("query", "key", "value"))
        a = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(32.0) + bias, -1)
        o = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, 384)
        x = layer_norm(dense(p, pre + "attention.output.dense", o) + x,
                       p[pre + "attention.output.LayerNorm.weight"], p[pre + "attention.output.LayerNorm.bias"])
        h = jax.nn.gelu(dense(p, pre + "intermediate.dense", x), approximate=False)
        x = layer_norm(dense(p, pre + "output.dense", h) + x,
                       p[pre + "output.LayerNorm.weight"], p[pre + "output.LayerNorm.bias"])
    return (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)


def embed_one(p, ids, types, mask):
    s = encode(p, ids, types, mask)
    return s / jnp.linalg.norm(s, axis=-1, keepdims=True)


def judge_one(p, ids, types, mask):
    return (encode(p, ids, types, mask) @ p["head.w"] + p["head.b"])[:, 0]


embed_jit = jax.jit(embed_one)
judge_jit = jax.jit(judge_one)


def pad(rows, types=None):
    t = 8 * ((max(len(r) for r in rows) + 7) // 8)
    ids = np.zeros((len(rows), t), np.int32)
    tt = np.zeros_like(ids)
    mask = np.zeros((len(rows), t), np.float32)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
        if types:
            tt[i, :len(r)] = types[i]
    return ids, tt, mask


def tokens(text, limit=96):
    ids = TOKENIZER.encode(text).ids
    return ids if len(ids) <= limit else ids[:limit // 2] + ids[-limit // 2:]


def text_batch(texts):
    return pad([tokens(t) for t in texts])


def pair_batch(pairs):
    rows, types = [], []
    for a, b, _ in pairs:
        ta, tb = tokens(a, 40), tokens(b, 40)[1:]  # one [CLS]
        rows.append(ta + tb)
        types.append([0] * len(ta) + [1] * len(tb))
    return pad(rows, types)


def cosines(p, pairs, batch=64):
    texts = sorted({t for a, b, _ in pairs for t in (a, b)}, key=len)
    vectors = {}
    for s in range(0, len(texts), batch):
        chunk = texts[s:s + batch]
        for t, v in zip(chunk, np.asarray(embed_jit(p, *text_batch(chunk)))):
            vectors[t] = v
    return np.array([float(vectors[a] @ vectors[b]) for a, b, _ in pairs])


def judge(p, pairs, batch=64):
    """The cross-encoder's score, averaged over both orders."""
    out = np.zeros(len(pairs), np.float32)
    for s in range(0, len(pairs), batch):
        chunk = pairs[s:s + batch]
        both = np.asarray(judge_jit(p, *pair_batch(chunk))) + \
            np.asarray(judge_jit(p, *pair_batch([(b, a, y) for a, b, y in chunk])))
        out[s:s + len(chunk)] = both / 2
    return out


# --- training data: the tuning sets only ---

def training_pairs(p, seed=1):
    """Per tuning trace: every same-answer pair, every different-answer pair above a cosine of 0.55
    (the near misses), as many others at random; then the dev pairs and 3,000 QQP pairs."""
    rnd = random.Random(seed)
    out = []
    for path in TUNING_TRACES:
        pairs = trace_pairs(path)
        cs = cosines(p, pairs)
        same = [x for x in pairs if x[2]]
        near = [x for x, c in zip(pairs, cs) if not x[2] and c > 0.55]
        far = [x for x, c in zip(pairs, cs) if not x[2] and c <= 0.55]
        out += same + near + rnd.sample(far, min(len(far), len(same)))
    out += file_pairs(os.path.join(SHARED, "coding-pairs.jsonl"))
    out += rnd.sample(file_pairs(os.path.join(SHARED, "qqp-20k.jsonl"))[QQP_HELDOUT:], 3000)
    rnd.shuffle(out)
    print(f"training pairs: {len(out)} ({sum(x[2] for x in out)} same answer)", flush=True)
    return out


def train(p, pairs, loss_of, batch_of, epochs, lr, batch):
    """AdamW with warm-up and cosine decay; the word embeddings stay as they are."""
    frozen = {"embeddings.word_embeddings.weight"}
    tuned = {k: v for k, v in p.items() if k not in frozen}
    fixed = {k: v for k, v in p.items() if k in frozen}
    steps = epochs * (len(pairs) // batch)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(
        optax.warmup_cosine_decay_schedule(0.0, lr, max(1, steps // 10), steps), weight_decay=0.01))
    state = opt.init(tuned)

    @jax.jit
    def step(tuned, state, *batch_arrays):
        loss, grads = jax.value_and_grad(lambda t: loss_of({**t, **fixed}, *batch_arrays))(tuned)
        updates, state = opt.update(grads, state, tuned)
        return optax.apply_updates(tuned, updates), state, loss

    rnd = random.Random(0)
    started, n = time.time(), 0
    for _ in range(epochs):
        # batches of similar length, in random order
        order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]) + len(pairs[i][1])) // 40 + rnd.random())
        batches = [order[s:s + batch] for s in range(0, len(order) - batch + 1, batch)]
        rnd.shuffle(batches)
        for b in batches:
            tuned, state, loss = step(tuned, state, *batch_of([pairs[i] for i in b]))
            n += 1
            if n % 50 == 0:
                print(f"  step {n}/{steps}: loss {float(loss):.3f}, {time.time() - started:.0f} s", flush=True)
    return {**tuned, **fixed}


def cosent_loss(p, ia, ta, ma, ib, tb, mb, y, scale=20.0):
    """Every same-answer pair of the batch should score above every different-answer one."""
    c = (embed_one(p, ia, ta, ma) * embed_one(p, ib, tb, mb)).sum(-1) * scale
    diff = jnp.where(y[:, None] > y[None, :], c[None, :] - c[:, None], -1e12)
    return jax.nn.logsumexp(jnp.concatenate([jnp.zeros(1), diff.ravel()]))


def bi_batch(pairs):
    return (*text_batch([a for a, _, _ in pairs]), *text_batch([b for _, b, _ in pairs]),
            np.array([float(s) for _, _, s in pairs], np.float32))


def cross_loss(p, ids, types, mask, y):
    return optax.sigmoid_binary_cross_entropy(judge_one(p, ids, types, mask), y).mean()


def cross_batch(pairs):
    return (*pair_batch(pairs), np.array([float(s) for _, _, s in pairs], np.float32))


# --- the two probes ---

def ranking_row(name, pairs, cs):
    y = np.array([s for _, _, s in pairs])
    traps = np.sort(cs[~y])[::-1]
    cells = [f"{100 * (cs[y] > traps[k]).mean():5.1f} %" if k < len(traps) else "    -  " for k in (10, 20, 40, 60)]
    return f"{name:10s} {y.sum():5d} {(~y).sum():6d}   " + "  ".join(cells)


def probe_bi(out_dir):
    sets = heldout_sets()
    base = load_params()
    before = {name: cosines(base, pairs) for name, pairs in sets.items()}
    tuned = train(base, training_pairs(base), cosent_loss, bi_batch, epochs=3, lr=3e-5, batch=64)
    print("same-answer pairs whose cosine beats the K-th highest trap, before -> after:")
    print(f"{'set':10s} {'same':>5s} {'traps':>6s}   K=10     K=20     K=40     K=60")
    for name, pairs in sets.items():
        print(ranking_row(name, pairs, before[name]) + "   (before)")
        print(ranking_row(name, pairs, cosines(tuned, pairs)) + "   (after)", flush=True)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        weights = {k: np.asarray(v) for k, v in tuned.items()}
        weights["embeddings.position_ids"] = np.arange(512, dtype=np.int64)[None]
        save_file(weights, os.path.join(out_dir, "model.safetensors"))
        for f in ("config.json", "tokenizer.json"):
            shutil.copy(os.path.join(SNAPSHOT, f), out_dir)
        print(f"wrote {out_dir}: ISARTOR__EMBEDDING_MODEL={out_dir} isartor eval semantic --trace FILE")


def guard_verdicts(pairs):
    """The guard's verdict on each pair, from `isartor eval semantic --pairs --scores`."""
    binary = os.environ.get("ISARTOR_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "isartor")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "pairs.jsonl"), os.path.join(tmp, "scores.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for n, (a, b, s) in enumerate(pairs):
                f.write(json.dumps({"id": str(n), "a": a, "b": b, "same": s}) + "\n")
        env = dict(os.environ, XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp, RUST_LOG="warn")
        subprocess.run([binary, "eval", "semantic", "--pairs", src, "--thresholds", "0.7", "--scores", out],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        rows = {int(r["id"]): r for r in map(json.loads, open(out, encoding="utf-8"))}
    return [rows[n]["guard"] for n in range(len(pairs))], np.array([rows[n]["cosine"] for n in range(len(pairs))])


def probe_cross():
    sets = heldout_sets()
    base = load_params()
    pairs = training_pairs(base)
    pairs += [(b, a, s) for a, b, s in pairs]
    rng = np.random.default_rng(0)
    p = dict(base, **{"head.w": jnp.asarray(rng.normal(0, 0.02, (384, 1)).astype(np.float32)), "head.b": jnp.zeros(1)})
    p = train(p, pairs, cross_loss, cross_batch, epochs=2, lr=3e-5, batch=32)
    print("same-answer served / traps served, on the pairs at or above the cosine:")
    print(f"{'set':10s} {'cosine':>6s} {'same':>5s} {'traps':>5s} {'guard':>7s}   " +
          "  ".join(f"instead C>{c:.0f} rescue C>{c:.0f}" for c in (1, 2, 3)))
    for name, all_pairs in sets.items():
        verdicts, cs = guard_verdicts(all_pairs)
        for low in (0.70, 0.80, 0.85):
            keep = [i for i in range(len(all_pairs)) if cs[i] >= low]
            sub = [all_pairs[i] for i in keep]
            y = np.array([s for _, _, s in sub], bool)
            served = np.array([verdicts[i] == "served" for i in keep], bool)
            unmatched = np.array([verdicts[i] == "unmatched" for i in keep], bool)
            score = judge(p, sub) if sub else np.zeros(0)

            def cell(m):
                return f"{(m & y).sum():3d}/{(m & ~y).sum():<3d}"

            row = f"{name:10s} {low:6.2f} {y.sum():5d} {(~y).sum():5d} {cell(served):>7s}   "
            row += "  ".join(f"{cell((served | unmatched) & (score > c)):>11s} {cell(served | (unmatched & (score > c))):>10s}"
                             for c in (1, 2, 3))
            print(row, flush=True)


def main():
    args = sys.argv[1:]
    if args[:1] == ["bi"] and len(args) in (1, 3) and (len(args) == 1 or args[1] == "--out"):
        probe_bi(args[2] if len(args) == 3 else None)
    elif args == ["cross"]:
        probe_cross()
    else:
        sys.exit(__doc__.strip())


if __name__ == "__main__":
    main()
