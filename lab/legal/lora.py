"""LoRA fine-tuning with peft: the plan's configuration as defaults, early stopping, checkpoints, resume,
abort conditions.

One adapter is trained per seed on the pooled training examples of the chosen tasks (the loss is on the
answer tokens only, and the vocabulary projection is computed only there). Every ``eval_steps`` the
validation loss and the validation accuracy of the classification tasks are recorded. Training stops when
the validation loss has not improved by ``min_improvement`` for ``patience`` validations (a plateau), or at
``max_steps`` (the stated cap); the adapter kept is the one of the best validation loss, as
``transformers.EarlyStoppingCallback`` with ``load_best_model_at_end`` would keep. The plan's abort
conditions (§7.1) are checked at every validation:

- no convergence after ``no_convergence_step`` steps: validation loss not at least
  ``convergence_min_reduction`` (relative) below its value before training;
- validation accuracy below random (1 / number of classes) after ``below_random_step`` steps;
- over budget: training wall time above ``time_budget_s``.

The steps run in the book's one training loop (``lab.train.StepLoop``); this module supplies its task
(``_LoraTask``: batches, loss, schedule, validation, stop checks). A checkpoint (adapter, optimiser, RNG states,
history, early-stopping state) is written every ``save_steps``; ``train`` resumes from the newest one in its
output directory, and a resumed run ends with exactly the weights of an uninterrupted one (the batch order is a
function of seed and step only).
"""
from __future__ import annotations

import json
import math
import random
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic
from ..train import Checkpoints, StepLoop
from .batches import BATCHINGS, batch_order
from .data import Example, TaskSet
from .evaluate import AUTOCAST, autocast_to, label_logprobs_batch, progress_default, vocabulary_logits


@dataclass
class LoraSettings:
    """The plan's configuration (§2.2) as defaults; ``max_steps`` is 2000 in the plan."""

    r: int = 16
    alpha: int = 32
    target_modules: tuple[str, ...] = ("q_proj", "v_proj", "o_proj", "gate_proj")
    dropout: float = 0.1
    learning_rate: float = 2e-4
    batch_size: int = 4
    max_steps: int = 2000
    warmup_steps: int = 100
    eval_steps: int = 50
    save_steps: int = 100
    max_grad_norm: float = 1.0
    eval_examples: int = 64  # validation examples per task at each evaluation
    no_convergence_step: int = 1000
    convergence_min_reduction: float = 0.05
    below_random_step: int = 500
    time_budget_s: float | None = None
    abort: bool = True  # stop training when an abort condition triggers (else only report it)
    patience: int = 0  # validations without improvement before stopping (0: train to max_steps)
    min_improvement: float = 0.0  # a validation loss this much (nats) below the best so far is an improvement
    keep_checkpoints: int = 2
    # the arithmetic of the training step and of validation: "none" (float32) or "bfloat16" (torch.autocast; the
    # weights, the adapter and the optimiser stay float32; test predictions are scored in float32 either way)
    autocast: str = "none"
    # the order of the examples: "random" (the plan's: each batch mixes lengths) or "length" (batches of similar
    # length, lab.legal.batches: little padding, so more examples per second at the same model and data)
    batching: str = "random"

    def __post_init__(self):
        self.target_modules = tuple(self.target_modules)
        if self.autocast not in AUTOCAST:
            raise ValueError(f"LoraSettings.autocast must be one of {', '.join(AUTOCAST)}, not {self.autocast!r}")
        if self.batching not in BATCHINGS:
            raise ValueError(f"LoraSettings.batching must be one of {', '.join(BATCHINGS)}, not {self.batching!r}")
        for name in ("r", "alpha", "batch_size", "max_steps", "eval_steps", "save_steps", "eval_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"LoraSettings.{name} must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("LoraSettings.dropout must be in [0, 1)")


class CheckpointMismatch(RuntimeError):
    """The output directory holds checkpoints of a different run (model, seed, tasks or settings)."""


@dataclass
class AbortCheck:
    name: str
    step: int  # the step at which the plan checks it (0 = at every evaluation)
    status: str = "not reached"  # "not reached" | "passed" | "triggered"
    detail: str = ""


@dataclass
class TrainResult:
    seed: int
    steps_done: int
    history: list[dict]
    checks: list[AbortCheck]
    aborted: str | None
    adapter_dir: Path
    train_seconds: float
    resumed_from: int | None = None
    initial_val_loss: float = math.nan
    final_val_loss: float = math.nan  # of the adapter kept: the best validation, when early stopping is on
    best_step: int = 0
    stopped: str = ""  # "plateau", "step cap" or the abort condition that ended training
    train_examples: int = 0

    @property
    def epochs(self) -> float:
        """Passes over the training set, from the steps done and the batch size recorded in the history."""
        return self.steps_done * self.history[-1].get("batch_size", 0) / max(1, self.train_examples)

    @property
    def loss_reduction(self) -> float:
        return 1 - self.final_val_loss / self.initial_val_loss


# ---------------------------------------------------------------- batches

def encode_example(tok, ex: Example) -> tuple[list[int], list[int]]:
    """(input ids, labels): prompt + answer + end-of-sequence, with the prompt masked out of the loss."""
    prompt = tok(ex.prompt).input_ids
    answer = tok(ex.target, add_special_tokens=False).input_ids + [tok.eos_token_id]
    return prompt + answer, [-100] * len(prompt) + answer


def collate(encoded: list[tuple[list[int], list[int]]], pad_id: int):
    import torch

    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for k, (x, y) in enumerate(encoded):
        ids[k, :len(x)], labels[k, :len(y)], mask[k, :len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids, labels, mask


def answer_token_losses(lm, ids, labels, mask):
    """(per-token losses, row of each token) at the answer tokens only: the decoder runs over the whole
    sequence, the vocabulary projection only where a label is scored (the prompt's positions are most of the
    sequence and none of the loss). ``losses.mean()`` equals the model's own ``loss`` for these labels, which
    tests/integration/test_legal_lora.py checks."""
    import torch

    hidden = lm.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = vocabulary_logits(lm, hidden[:, :-1][keep]).float()
    losses = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="none")
    return losses, keep.nonzero()[:, 0]


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """The examples of a 0-based step: consecutive slices of per-epoch seeded permutations."""
    out = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, n)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(n)[offset]))
    return out


# ---------------------------------------------------------------- model

def check_targets(lm, targets: tuple[str, ...]) -> None:
    """Fail before training when a target module does not exist in this architecture."""
    import torch

    linear = sorted({name.rsplit(".", 1)[-1] for name, m in lm.named_modules() if isinstance(m, torch.nn.Linear)})
    missing = [t for t in targets if t not in linear]
    if missing:
        raise ValueError(f"LoRA target module(s) {missing} do not exist in {type(lm).__name__}; "
                         f"its linear layers are: {', '.join(linear)}")


def attach_lora(lm, settings: LoraSettings):
    from peft import LoraConfig, get_peft_model

    check_targets(lm, settings.target_modules)

    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, target_modules=list(settings.target_modules),
                        lora_dropout=settings.dropout, bias="none", task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft asks transformers a deprecated question
        return get_peft_model(lm, config)


def trainable_parameters(lm) -> tuple[int, int]:
    trainable = sum(p.numel() for p in lm.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in lm.parameters())


# ---------------------------------------------------------------- validation

def validation_subset(tasks: dict[str, TaskSet], limit: int) -> dict[str, list[Example]]:
    """The first ``limit`` validation examples of each task (a fixed subset: comparable across steps)."""
    return {name: ts.splits["val"][:limit] for name, ts in tasks.items()}


def validate(lm, tok, tasks: dict[str, TaskSet], subset: dict[str, list[Example]], autocast: str = "none") -> dict:
    """Mean answer-token loss over all subset examples (each example's mean first), and the accuracy of each
    classification task by label scoring; under the training step's autocast (it only compares the run with
    itself, step after step)."""
    import torch

    lm.eval()
    losses = []
    result = {}
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.no_grad(), autocast_to(lm, autocast):
        for name, examples in subset.items():
            for k in range(0, len(examples), 8):
                ids, labels, mask = collate([encode_example(tok, e) for e in examples[k:k + 8]], pad)
                token_losses, rows = answer_token_losses(lm, ids.to(lm.device), labels.to(lm.device),
                                                         mask.to(lm.device))
                per_row = torch.zeros(ids.shape[0], device=token_losses.device).index_add_(0, rows, token_losses)
                counts = torch.bincount(rows, minlength=ids.shape[0])
                losses.extend((per_row / counts).tolist())
            ts = tasks[name]
            if ts.is_classification and examples:
                labels_ = list(ts.labels)
                scores = label_logprobs_batch(lm, tok, [e.prompt for e in examples],
                                              [ts.verbalisers[c] for c in labels_])
                hits = [labels_[int(i)] == e.label for i, e in zip(scores.argmax(axis=1), examples)]
                result[f"val_acc_{name}"] = float(np.mean(hits))
    result["val_loss"] = float(np.mean(losses))
    return result


# ---------------------------------------------------------------- training

def _fingerprint(model: str, seed: int, settings: LoraSettings, train: list[Example]) -> dict:
    keep = {k: v for k, v in asdict(settings).items()
            if k not in ("time_budget_s", "abort", "keep_checkpoints")}
    keep["target_modules"] = list(keep["target_modules"])
    return {"model": str(model), "seed": seed, "settings": keep, "train_examples": len(train),
            "first_examples": [e.article_id + "/" + e.task for e in train[:5]]}


def _set_lr(optimizer, settings: LoraSettings, step: int) -> float:
    """Linear warm-up to the learning rate, then linear decay to zero at max_steps (transformers' default)."""
    if step < settings.warmup_steps:
        scale = (step + 1) / settings.warmup_steps
    else:
        span = max(1, settings.max_steps - settings.warmup_steps)
        scale = max(0.0, (settings.max_steps - step) / span)
    lr = settings.learning_rate * scale
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def _check_aborts(checks: list[AbortCheck], record: dict, initial_loss: float, settings: LoraSettings,
                  tasks: dict[str, TaskSet], elapsed: float) -> str | None:
    step = record["step"]
    triggered = None
    for c in checks:
        if c.status != "not reached":
            continue
        if c.name == "no convergence" and step >= c.step:
            target = initial_loss * (1 - settings.convergence_min_reduction)
            ok = record["val_loss"] <= target
            c.status, c.detail = ("passed" if ok else "triggered"), (
                f"step {step}: validation loss {record['val_loss']:.3f} vs {target:.3f} needed "
                f"({settings.convergence_min_reduction:.0%} below {initial_loss:.3f})")
        elif c.name == "validation accuracy below random" and step >= c.step:
            below = []
            for name, ts in tasks.items():
                key = f"val_acc_{name}"
                if key in record and record[key] < 1 / len(ts.labels):
                    below.append(f"{name} {record[key]:.3f} < {1 / len(ts.labels):.3f}")
            c.status = "triggered" if below else "passed"
            c.detail = f"step {step}: " + ("; ".join(below) if below else "every classification task at or above chance")
        elif c.name == "over budget" and settings.time_budget_s is not None and elapsed > settings.time_budget_s:
            c.status, c.detail = "triggered", f"step {step}: {elapsed:.0f} s > budget {settings.time_budget_s:.0f} s"
        if c.status == "triggered" and triggered is None:
            triggered = c.name
    return triggered


class _LoraTask:
    """Part III's task for the shared loop (``lab.train.StepLoop``): step-indexed batches of the pooled training
    examples, the answer-token loss, linear warm-up and decay, a validation every ``eval_steps`` with the best
    adapter kept, and the plan's abort checks and the plateau as stop checks."""

    def __init__(self, lm, tok, tasks: dict[str, TaskSet], settings: LoraSettings, seed: int, encoded: list,
                 optimizer, fingerprint: dict, out_dir: Path):
        self.lm, self.tok, self.tasks, self.settings, self.seed = lm, tok, tasks, settings, seed
        self.encoded, self.optimizer, self.fingerprint, self.out_dir = encoded, optimizer, fingerprint, out_dir
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.subset = validation_subset(tasks, settings.eval_examples)
        self.order = (batch_order([len(ids) for ids, _ in encoded], settings.batch_size, seed, "length")
                      if settings.batching == "length" else
                      lambda step: batch_indices(len(encoded), settings.batch_size, step, seed))
        self.checks = [AbortCheck("no convergence", settings.no_convergence_step),
                       AbortCheck("validation accuracy below random", settings.below_random_step),
                       AbortCheck("over budget", 0)]
        self.history: list[dict] = []
        self.best = {"step": 0, "val_loss": math.inf, "adapter": None, "stale": 0}  # early stopping's state
        self.running: list[float] = []  # training losses since the last validation
        self.elapsed_before, self.started = 0.0, time.perf_counter()
        self.step, self.lr = 0, 0.0
        self.stop_checks = [self._abort, self._plateau]  # an abort names the stop before a plateau at once

    def elapsed(self) -> float:
        """Training wall time over every session, validations and checkpoints included (the budget's clock)."""
        return self.elapsed_before + time.perf_counter() - self.started

    def initial(self) -> dict:
        return next(h for h in self.history if h["step"] == 0)

    def validate_before_training(self) -> None:
        """The validation at step 0 (the no-convergence check's reference), unless a resumed history has it."""
        from peft import get_peft_model_state_dict

        if any(h["step"] == 0 for h in self.history):
            return
        s = self.settings
        initial = {"step": 0, "epoch": 0.0, "batch_size": s.batch_size, "train_loss": math.nan, "lr": 0.0,
                   **validate(self.lm, self.tok, self.tasks, self.subset, s.autocast)}
        self.history.append(initial)
        self.best.update(val_loss=initial["val_loss"], adapter=_copy_state(get_peft_model_state_dict(self.lm)))

    # -- the step
    def before_step(self, step: int) -> None:
        self.lr = _set_lr(self.optimizer, self.settings, step)

    def batch(self, step: int):
        return collate([self.encoded[i] for i in self.order(step)], self.pad_id)

    def loss(self, batch):
        ids, labels, mask = (t.to(self.lm.device) for t in batch)
        with autocast_to(self.lm, self.settings.autocast):
            return answer_token_losses(self.lm, ids, labels, mask)[0].mean()

    def after_step(self, step: int, batch, loss) -> dict:
        self.running.append(loss.item())
        self.step = step
        return {"loss": f"{self.running[-1]:.3f}"}

    def end_of_step(self, step: int) -> None:
        pass

    def evaluation_due(self, step: int) -> bool:
        return step % self.settings.eval_steps == 0 or step == self.settings.max_steps

    def checkpoint_due(self, step: int, evaluated: bool, stop: str | None) -> bool:
        return step % self.settings.save_steps == 0 or stop is not None

    # -- validation and stop checks
    def run_eval(self) -> dict:
        from peft import get_peft_model_state_dict

        s, step = self.settings, self.step
        record = {"step": step, "epoch": step * s.batch_size / len(self.encoded), "batch_size": s.batch_size,
                  "train_loss": float(np.mean(self.running)), "lr": self.lr,
                  **validate(self.lm, self.tok, self.tasks, self.subset, s.autocast)}
        self.running = []
        self.history.append(record)
        if record["val_loss"] < self.best["val_loss"] - s.min_improvement:
            self.best.update(step=step, val_loss=record["val_loss"],
                             adapter=_copy_state(get_peft_model_state_dict(self.lm)), stale=0)
        else:
            self.best["stale"] += 1
        return record

    def _abort(self, record: dict) -> str | None:
        triggered = _check_aborts(self.checks, record, self.initial()["val_loss"], self.settings, self.tasks,
                                  self.elapsed())
        return triggered if self.settings.abort else None

    def plateau(self) -> bool:
        return bool(self.settings.patience) and self.best["stale"] >= self.settings.patience

    def _plateau(self, record: dict) -> str | None:
        return "plateau" if self.plateau() else None

    def aborted(self) -> str | None:
        """The abort condition that ends the run: the first triggered check, where aborting is on."""
        return next((c.name for c in self.checks if c.status == "triggered"), None) if self.settings.abort else None

    # -- checkpoints (written and read by the loop)
    def state_dict(self) -> dict:
        from peft import get_peft_model_state_dict

        return {"adapter": get_peft_model_state_dict(self.lm), "optimizer": self.optimizer.state_dict(),
                "history": self.history, "elapsed": self.elapsed(), "checks": [asdict(c) for c in self.checks],
                "fingerprint": self.fingerprint, "best": self.best}

    def load_state_dict(self, state: dict) -> str | None:
        from peft import set_peft_model_state_dict

        if state["fingerprint"] != self.fingerprint:
            raise CheckpointMismatch(f"the checkpoints in {self.out_dir.name} were written by a different run "
                                     f"(model, seed, tasks or settings differ); use another output directory")
        set_peft_model_state_dict(self.lm, state["adapter"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history, self.elapsed_before = state["history"], state["elapsed"]
        self.checks = [AbortCheck(**c) for c in state["checks"]]
        self.best = state["best"]
        # recomputed, not stored: ``abort`` is not part of the run's identity, so a run may resume with it off
        return self.aborted() or ("plateau" if self.plateau() else None)


def train(lm, tok, tasks: dict[str, TaskSet], out_dir: str | Path, seed: int, settings: LoraSettings,
          model_name: str = "", resume: bool = True, progress: bool | None = None, stop_after: int | None = None
          ) -> tuple[object, TrainResult]:
    """Train a LoRA adapter on the training examples of ``tasks`` with the shared loop (``lab.train.StepLoop``);
    returns (peft model, result).

    ``stop_after`` ends the process early (as an interruption would) after that many steps, leaving the
    checkpoints behind; it exists to test resuming.
    """
    import torch
    from peft import set_peft_model_state_dict

    progress = progress_default() if progress is None else progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_examples = [e for name in sorted(tasks) for e in tasks[name].splits["train"]]
    if not train_examples:
        raise ValueError("no training examples")
    fingerprint = _fingerprint(model_name, seed, settings, train_examples)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    lm = attach_lora(lm, settings)
    params = [p for p in lm.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    encoded = [encode_example(tok, e) for e in train_examples]
    task = _LoraTask(lm, tok, tasks, settings, seed, encoded, optimizer, fingerprint, out_dir)
    checkpoints = Checkpoints(out_dir, keep=settings.keep_checkpoints)
    loop = StepLoop(task, lm, optimizer, params, settings.max_steps, grad_clip=settings.max_grad_norm,
                    checkpoints=checkpoints, progress=progress, desc=f"LoRA seed {seed}")
    if not resume:
        checkpoints.clear()
    resumed_from = loop.step if resume and loop.resume() else None
    start_step = loop.step
    task.validate_before_training()
    task.started = time.perf_counter()
    loop.run(stop_after)
    step, elapsed, plateau, aborted = loop.step, task.elapsed(), task.plateau(), task.aborted()
    if stop_after is not None and step - start_step >= stop_after and step < settings.max_steps and not plateau:
        stopped = "interrupted"
    else:
        stopped = aborted or ("plateau" if plateau else "step cap")
    if settings.patience and stopped != "interrupted":
        set_peft_model_state_dict(lm, task.best["adapter"])  # keep the adapter of the best validation loss
        kept_step, kept_loss = task.best["step"], task.best["val_loss"]
    else:
        kept_step, kept_loss = step, task.history[-1]["val_loss"]
    adapter_dir = out_dir / "adapter"
    lm.save_pretrained(adapter_dir)
    history, checks = task.history, task.checks
    result = TrainResult(seed=seed, steps_done=step, history=history, checks=checks, aborted=aborted,
                         adapter_dir=adapter_dir, train_seconds=elapsed, resumed_from=resumed_from,
                         initial_val_loss=task.initial()["val_loss"], final_val_loss=kept_loss, best_step=kept_step,
                         stopped=stopped, train_examples=len(encoded))
    atomic.write_text(out_dir / "result.json", json.dumps({
        "seed": seed, "steps_done": step, "aborted": aborted, "stopped": stopped, "best_step": kept_step,
        "history": history, "checks": [asdict(c) for c in checks]}, indent=1))
    return lm, result


def _copy_state(state: dict) -> dict:
    return {k: v.detach().clone() for k, v in state.items()}


def history_frame(results: list[TrainResult]):
    rows = [{"seed": r.seed, **h} for r in results for h in r.history]
    return pd.DataFrame(rows)


PLAN_RUN = {"model": "meta-llama/Llama-3.2-1B", "seeds": 5}  # the plan's (§2.1, §3.2); the rest is LoraSettings()


def plan_comparison(settings: LoraSettings, model: str, seeds: list[int], train_examples: int):
    """This run's training settings beside the plan's, each marked where it departs from it."""
    plan = LoraSettings()
    epoch = train_examples / settings.batch_size

    def stopping(s: LoraSettings) -> str:
        return (f"after {s.patience} validations without a {s.min_improvement} nats gain, or at the cap"
                if s.patience else "none: every step is trained")

    def steps(s: LoraSettings) -> str:
        return (f"{'at most ' if s.patience else ''}{s.max_steps} ({s.max_steps / epoch:.2f} epochs of "
                f"{train_examples} examples)")

    rows = [("model", PLAN_RUN["model"], model), ("seeds (one adapter each)", PLAN_RUN["seeds"], len(seeds)),
            ("steps", steps(plan), steps(settings)),
            ("early stopping on the validation loss", stopping(plan), stopping(settings))]
    for label, name in [("LoRA rank r", "r"), ("LoRA alpha", "alpha"), ("adapted modules", "target_modules"),
                        ("LoRA dropout", "dropout"), ("learning rate", "learning_rate"),
                        ("warm-up steps", "warmup_steps"), ("batch size", "batch_size"),
                        ("validation every (steps)", "eval_steps"), ("batches", "batching"),
                        ("training arithmetic (autocast)", "autocast")]:
        rows.append((label, getattr(plan, name), getattr(settings, name)))
    table = pd.DataFrame([{"setting": k, "plan": str(a), "this run": str(b)} for k, a, b in rows]).set_index("setting")
    table["departs"] = [("yes" if a != b else "") for a, b in zip(table["plan"], table["this run"])]
    return table


def stopping_rule(settings: LoraSettings) -> str:
    """The stopping rule in words."""
    return (f"validation every {settings.eval_steps} steps on a fixed subset of {settings.eval_examples} validation "
            f"examples per task; stop after {settings.patience} validations without a loss "
            f"at least {settings.min_improvement} nats below the best, or at the cap of {settings.max_steps} steps"
            if settings.patience else f"no early stopping: {settings.max_steps} steps")


def stopping_table(results: list[TrainResult]):
    """Per seed: where training stopped and why, and the adapter kept."""
    rows = [{"seed": r.seed, "steps done": r.steps_done, "epochs": round(r.epochs, 3), "stopped by": r.stopped,
             "best step": r.best_step, "best validation loss": r.final_val_loss,
             "validation loss before training": r.initial_val_loss}
            for r in results]
    return pd.DataFrame(rows).set_index("seed")


def stopping_sentence(results: list[TrainResult], settings: LoraSettings) -> str:
    """What the reader must know before reading any LoRA result: was each adapter trained to a plateau?"""
    plateau = [r for r in results if r.stopped == "plateau"]
    capped = [r for r in results if r.stopped == "step cap"]
    parts = []
    if plateau:
        parts.append(f"{len(plateau)} of {len(results)} seeds stopped on a plateau of the validation loss (best at "
                     f"step{'s' if len(plateau) > 1 else ''} {', '.join(str(r.best_step) for r in plateau)}, after "
                     f"{', '.join(f'{r.epochs:.2f}' for r in plateau)} epochs)")
    if capped:
        still = [r for r in capped if r.best_step == r.steps_done]
        parts.append(f"{len(capped)} reached the cap of {settings.max_steps} steps"
                     + (f", {len(still)} of them with the validation loss still falling at the last validation: "
                        "those adapters are under-trained, and their results are not negative findings about LoRA"
                        if still else ", past their best validation loss"))
    aborted = [r for r in results if r.stopped not in ("plateau", "step cap")]
    if aborted:
        parts.append(f"{len(aborted)} ended by an abort condition ({', '.join(sorted({r.stopped for r in aborted}))})")
    return "; ".join(parts) + "."


def checks_table(results: list[TrainResult]):
    rows = [{"seed": r.seed, "condition": c.name, "checked at step": c.step or "every evaluation",
             "status": c.status, "detail": c.detail or f"training ended at step {r.steps_done}"}
            for r in results for c in r.checks]
    return pd.DataFrame(rows).set_index(["seed", "condition"])
