"""Throughput of the A–E grid: batched KV-cached generation vs one ``model.generate`` call per prompt.

Same model, same conditions, same machine, one run. Both paths apply the same perturbations (embedding
noise, tail-bias logit processor, the shock around two generate calls), greedy. Prints one JSON line.

    .venv/bin/python benchmarks/bench_dynamics.py --model smollm2-135m --attractors gettysburg_address counting
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--attractors", nargs="+", default=["gettysburg_address", "counting"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--prefix-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    from lab.dynamics import attractors, experiments as ex
    from lab.dynamics.backends import LocalLM

    torch.set_num_threads(args.threads)
    lm = LocalLM.load(args.model, device=args.device)
    magnitudes = {"A": [1, 2, 4], "B": [1, 2, 4], "C": [2.0, 8.0, 32.0], "D": [1.0, 2.0, 4.0], "E": [1, 2, 4]}
    grid = ex.Grid(tuple(args.attractors), magnitudes, tuple(range(args.seeds)), args.max_new_tokens,
                   args.prefix_tokens)
    conds = []
    for a in attractors.load(list(args.attractors)):
        conds += ex.conditions_for(lm, grid, a)[2]
    # Deduplication (identical conditions, e.g. D across seeds under greedy decoding) is part of the
    # batched path's design; the baseline gets the same unique set so that only batching+cache is measured.
    unique = list({c.key(): c for c in conds}.values())

    def timed(fn):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return out, time.perf_counter() - t

    lm.generate(unique[:2], 2)  # warm-up
    batched, t_batched = timed(lambda: lm.generate(unique, args.max_new_tokens, batch_size=args.batch_size))
    single, t_single = timed(lambda: lm.generate_one_by_one(unique, args.max_new_tokens))
    tokens = sum(len(g.tokens) for g in batched)
    same = sum(g.tokens == s for g, s in zip(batched, single))
    print(json.dumps({
        "model": args.model, "device": args.device if args.device != "cpu" else f"cpu ({platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(), "conditions": len(conds), "unique_conditions": len(unique),
        "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "batched_s": round(t_batched, 2), "one_by_one_s": round(t_single, 2),
        "batched_tokens_per_s": round(tokens / t_batched, 1), "one_by_one_tokens_per_s": round(tokens / t_single, 1),
        "speedup": round(t_single / t_batched, 2), "identical_continuations": f"{same}/{len(unique)}",
    }))


if __name__ == "__main__":
    main()
