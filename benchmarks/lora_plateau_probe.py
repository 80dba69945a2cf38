"""Where one LoRA seed's validation loss stops improving, in the configuration the ceiling found fastest on this
CPU: the base model's frozen weights in bfloat16 with float32 adapters and optimiser, batches of 16 of similar
length (lab.legal.batches), the plan's adapters (r 16 on q/v/o/gate), lr 4e-4 (the plan's 2e-4 for batches of
4, scaled by the square root of the batch), warm-up 25 steps, validation every 25 steps on 32 examples per task,
early stopping after 4 validations without a 0.005-nat gain, at most ``steps`` steps.

    .venv/bin/python benchmarks/lora_plateau_probe.py [--steps 400] [--json benchmarks/lora_plateau_probe.json]

It sizes Part III's published run: how many examples one seed needs to plateau, and how long that takes here.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab import cpu, models  # noqa: E402
from lab.legal import batches, data as legal_data, lora  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--json", default=str(Path(__file__).with_name("lora_plateau_probe.json")))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    data = legal_data.prepare(["jurisdiction", "topic", "cloze"], legal_data.DEFAULT_PATH, split_seed=0, max_words=40)
    lm, tok = models.load("smollm2-135m", dtype="bfloat16")
    train = [e for name in sorted(data.tasks) for e in data.tasks[name].splits["train"]]
    order = batches.batch_order([len(lora.encode_example(tok, e)[0]) for e in train], 16, 0, "length")
    lora.batch_indices = lambda n, batch_size, step, seed: order(step)  # this probe's batches, until lora takes them
    settings = lora.LoraSettings(batch_size=16, learning_rate=4e-4, warmup_steps=25, eval_steps=25, save_steps=25,
                                 max_steps=args.steps, eval_examples=32, patience=4, min_improvement=0.005,
                                 no_convergence_step=10 ** 6, below_random_step=10 ** 6)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as out:
        _, result = lora.train(lm, tok, data.tasks, out, 0, settings, model_name="probe", resume=False, progress=False)
    Path(args.json).write_text(json.dumps({
        "machine": cpu.machine(), "train_examples": len(train), "settings": {
            k: v for k, v in settings.__dict__.items() if k in ("batch_size", "learning_rate", "warmup_steps",
                                                               "eval_steps", "eval_examples", "patience",
                                                               "min_improvement", "max_steps")},
        "stopped": result.stopped, "best_step": result.best_step, "steps": result.steps_done,
        "epochs": round(result.epochs, 3), "seconds": round(time.time() - t0, 1), "history": result.history},
        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
