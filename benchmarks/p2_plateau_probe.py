"""Where Part II's training stops improving on the whole training split, per model size: it sizes p2_training's
published run (issue: runs that finish learning). For each size, one seed of the plain model (IIT off) and one of
model A's design (IIT on) train on every training window of the substitute corpus, validated on every validation
window every half epoch, until ``patience`` validations pass without a gain of ``min_delta`` nats (or the cap of
``max_epochs``); the interpolated Kneser-Ney bigram on the same split and vocabulary is the floor a model must beat.
The arithmetic (float32 or bfloat16 autocast) is chosen by the matrix-product probe of ``lab.cpu``.

    .venv/bin/python benchmarks/p2_plateau_probe.py [--sizes 32x2 48x2 64x2] [--json benchmarks/p2_plateau_probe.json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab import corpus, cpu, train  # noqa: E402
from lab.infinito import chapter as part2, textstats  # noqa: E402
from lab.infinito.model import Infinito  # noqa: E402

PROFILE = {"corpus": "substitute", "wikitext_path": "", "vocab": 4096, "seq_len": 64, "batch_size": 16,
           "epochs": 1, "train_windows": 0, "val_windows": 0, "lr": 1e-3, "eval_every": 0, "device": "cpu",
           "precision": "fp32", "compile": False, "n_layer": 2, "n_head": 4, "n_embd": 64}


def kneser_ney_ppl(data: part2.Data) -> float:
    """The bigram's perplexity on every next token within the validation windows (the pairs the models predict)."""
    model = textstats.KneserNeyBigram(data.train.reshape(-1).numpy(), data.vocab_size)
    val = data.val.numpy()
    return math.exp(-np.log(model.prob(val[:, :-1].reshape(-1), val[:, 1:].reshape(-1))).mean())


def run(p: dict, data: part2.Data, iit: bool, seed: int, patience: int, min_delta: float, max_epochs: int,
        lr_patience: int = 2) -> dict:
    steps_per_epoch = math.ceil(len(data.train) / p["batch_size"])
    cfg = part2.train_config(p, seed, epochs=max_epochs, eval_every=steps_per_epoch // 2, early_stopping=patience,
                             min_delta=min_delta, plateau_patience=lr_patience)
    torch.manual_seed(seed)
    model = Infinito(part2.model_config(p, data, causal=True, iit=iit))
    n_params = sum(t.numel() for t in model.parameters())
    t0 = time.perf_counter()
    collate = corpus.make_collate(True, pad_id=data.vocab.unk)
    result = train.train(model, data.train, data.val, cfg, collate)
    seconds = time.perf_counter() - t0
    curve = [{"epoch": round(e["step"] / steps_per_epoch, 2), "val_ppl": round(math.exp(e["loss"]), 3), "lr": e["lr"]}
             for e in result.evals]
    return {"iit": iit, "n_embd": p["n_embd"], "n_layer": p["n_layer"], "params": n_params,
            "stopped_early": result.stopped_early, "best_val_ppl": round(result.best_val_ppl, 3),
            "best_epoch": round(result.best_step / steps_per_epoch, 2), "epochs": curve[-1]["epoch"],
            "seconds": round(seconds, 1), "seconds_per_epoch": round(seconds / max(curve[-1]["epoch"], 1e-9), 1),
            "curve": curve}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["32x2", "48x2", "64x2"], help="n_embd x n_layer")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--min-delta", type=float, default=0.005)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=PROFILE["lr"], help="peak learning rate")
    parser.add_argument("--lr-patience", type=int, default=2, help="validations without a gain before the "
                        "learning rate halves (model A's script: 2)")
    parser.add_argument("--json", default=str(Path(__file__).with_name("p2_plateau_probe.json")))
    parser.add_argument("--append", action="store_true", help="add these sizes' runs to the runs already in --json "
                        "(measured with the same settings)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    choice = cpu.choose_dtype("auto")
    p = {**PROFILE, "lr": args.lr, "precision": "bf16" if choice.resolved == "bfloat16" else "fp32"}
    data = part2.load_data(p)
    out = {"machine": cpu.machine(), "dtype": choice.__dict__, "train_windows": len(data.train),
           "val_windows": len(data.val), "seq_len": p["seq_len"], "vocab": p["vocab"], "batch_size": p["batch_size"],
           "lr": p["lr"], "lr_patience": args.lr_patience, "patience": args.patience, "min_delta": args.min_delta, "max_epochs": args.max_epochs,
           "kneser_ney_bigram_ppl": round(kneser_ney_ppl(data), 3), "runs": []}
    if args.append and Path(args.json).is_file():
        before = json.loads(Path(args.json).read_text())
        same = ("train_windows", "val_windows", "seq_len", "vocab", "batch_size", "lr", "lr_patience", "patience", "min_delta",
                "max_epochs")
        if any(before[k] != out[k] for k in same):
            raise SystemExit(f"{args.json} was measured with other settings; run without --append")
        out["runs"] = before["runs"]
    for size in args.sizes:
        width, layers = (int(x) for x in size.split("x"))
        for iit in (False, True):
            row = run({**p, "n_embd": width, "n_layer": layers}, data, iit, 0, args.patience, args.min_delta,
                      args.max_epochs, args.lr_patience)
            out["runs"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
