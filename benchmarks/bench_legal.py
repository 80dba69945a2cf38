"""Part III's training and scoring throughput against a plain transformers + peft reference (same model, same
LoRA configuration, same examples, same machine).

    .venv/bin/python benchmarks/bench_legal.py [--model smollm2-135m] [--steps 12] [--examples 48] [--json out.json]

The figures depend on the CPU (the output names it): benchmarks/bench_legal_cpu.json ran on an AMD EPYC,
benchmarks/bench_legal_cpu_intel.json on an Intel Xeon with AMX, both with 2 threads.

Training, in float32 and under bfloat16 autocast (the chapter's cpu profile): lab.legal.lora's step (the decoder over the whole sequence, the vocabulary projection on the answer
tokens only) against the plain step, ``model(input_ids, attention_mask, labels).loss``, which projects every
position onto the 49,152-token vocabulary; both with AdamW and gradient clipping on the same batches of 4.
Scoring (jurisdiction, 4 classes): lab.legal.evaluate.predict (prompts left-padded in batches of 8, the prompt's
last position projected, the verbalisers packed side by side after its key/value cache) against the plain way: for each
example, the prompt followed by each verbaliser as one right-padded batch, full logits, summed log-probabilities.
Both must pick the same classes; the script fails if they do not. Reports examples/s for each and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lab import models
from lab.publish import provenance  # noqa: E402
from lab.legal import data, evaluate, lora  # noqa: E402


def train_rate(model: str, encoded, pad: int, steps: int, plain: bool, warmup: int = 2, bf16: bool = False) -> float:
    """Training examples per second over ``steps`` steps of batch 4 (after ``warmup`` untimed steps), the
    forward pass in float32 or under bfloat16 autocast (the chapter's cpu profile)."""
    torch.manual_seed(0)
    lm, _ = models.load(model)
    settings = lora.LoraSettings()
    peft_model = lora.attach_lora(lm, settings)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    peft_model.train()
    for step in range(warmup + steps):
        if step == warmup:
            t0 = time.perf_counter()
        ids, labels, mask = lora.collate([encoded[i] for i in lora.batch_indices(len(encoded), 4, step, 0)], pad)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if plain:
                loss = peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss
            else:
                loss = lora.answer_token_losses(peft_model, ids, labels, mask)[0].mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * 4 / (time.perf_counter() - t0)


def plain_scores(lm, tok, prompt: str, verbalisers: list[str]) -> np.ndarray:
    """The reference: prompt + each verbaliser as one right-padded batch, full logits."""
    p = tok(prompt).input_ids
    labels = [tok(v, add_special_tokens=False).input_ids for v in verbalisers]
    width = len(p) + max(len(v) for v in labels)
    ids = torch.tensor([p + v + [0] * (width - len(p) - len(v)) for v in labels])
    mask = torch.tensor([[1] * (len(p) + len(v)) + [0] * (width - len(p) - len(v)) for v in labels])
    with torch.no_grad():
        logp = torch.log_softmax(lm(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    return np.array([sum(logp[j, len(p) - 1 + t, v[t]].item() for t in range(len(v))) for j, v in enumerate(labels)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=12, help="timed training steps per side")
    ap.add_argument("--examples", type=int, default=48, help="test examples scored per side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    legal = data.prepare(["jurisdiction", "topic", "cloze"], max_words=40)
    _, tok = models.load(args.model)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    encoded = [lora.encode_example(tok, e) for name in sorted(legal.tasks) for e in legal.tasks[name].splits["train"]]
    out = {"model": args.model, "cpu": provenance.device()["cpu"], "threads": args.threads, "batch": 4,
           "lora": "r 16, alpha 32, q/v/o/gate"}
    out["train examples/s, plain"] = train_rate(args.model, encoded, pad, args.steps, plain=True)
    out["train examples/s, lab"] = train_rate(args.model, encoded, pad, args.steps, plain=False)
    out["train ratio"] = out["train examples/s, lab"] / out["train examples/s, plain"]
    out["train examples/s, plain, bfloat16 autocast"] = train_rate(args.model, encoded, pad, args.steps, plain=True,
                                                                   bf16=True)
    out["train examples/s, lab, bfloat16 autocast"] = train_rate(args.model, encoded, pad, args.steps, plain=False,
                                                                 bf16=True)
    out["train ratio, bfloat16 autocast"] = (out["train examples/s, lab, bfloat16 autocast"]
                                             / out["train examples/s, plain, bfloat16 autocast"])

    lm, tok = models.load(args.model)
    lm.eval()
    ts = legal.tasks["jurisdiction"]
    examples = ts.splits["test"][:args.examples]
    verbalisers = [ts.verbalisers[c] for c in ts.labels]
    t0 = time.perf_counter()
    plain = [ts.labels[int(np.argmax(plain_scores(lm, tok, e.prompt, verbalisers)))] for e in examples]
    out["scored examples/s, plain"] = len(examples) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    mine = evaluate.predict(lm, tok, ts, examples, progress=False)
    out["scored examples/s, lab"] = len(examples) / (time.perf_counter() - t0)
    out["score ratio"] = out["scored examples/s, lab"] / out["scored examples/s, plain"]
    if mine != plain:
        raise SystemExit(f"the two scorers disagree on {sum(a != b for a, b in zip(mine, plain))} examples")
    out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
