"""The one training loop (``StepLoop``), shared by Part II, the memorization ladder and Part III's LoRA adapters,
and Part II's side of it (``Trainer``: AdamW, clipping, schedulers, early stopping on epochs of windows).

- ``StepLoop`` owns what every run does the same way: the step counter, the progress bar, backward, gradient
  clipping, the optimiser step, the evaluation and checkpoint cadences a task asks for, the stop checks run
  after every evaluation, the one checkpoint writer (``Checkpoints``: atomic, newest ``keep`` kept) and the
  one capture and restore of every RNG state (torch CPU and CUDA, numpy, random). A task supplies its
  batches, its loss, its learning-rate schedule, its evaluation and its stop checks (``Task``).
- Data order is a pure function of (seed, epoch), so a resumed run sees the same batches.
- A checkpoint holds the model, optimiser, scheduler, loop position, history, early-stopping state and
  every RNG state: killed after a checkpoint and resumed, a run continues with exactly the loss curve it
  would have had (tests/integration/test_train.py, tests/integration/test_legal_lora.py).
- Under ``torchrun`` the same code runs data-parallel (DDP; gloo on CPU, NCCL on GPU): each rank takes
  its slice of every global batch, so the gradient equals the single-process one.
- Perplexity per token, per word (whitespace words of the decoded targets) and bits per byte.
- ``precision="bf16"`` autocasts on GPU; ``compile=True`` wraps the model in ``torch.compile``.
"""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist

from . import atomic
from .gpt import IGNORE_INDEX, make_adamw

SCHEDULERS = ("plateau", "cosine", "none")
INTERVALS = ("step", "epoch")


@dataclass
class TrainConfig:
    lr: float = 5e-4
    weight_decay: float = 0.01
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8  # AdamW's; Part II's faithful runs pass the original's 1e-9 (lab.infinito.RECIPES)
    decay_all: bool = True  # the original decays every parameter
    batch_size: int = 16  # global batch (split across DDP ranks)
    epochs: int = 1
    max_steps: int | None = None
    grad_clip: float | None = 1.0
    scheduler: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    min_lr: float = 1e-6
    scheduler_interval: str = "step"  # cosine stepped per optimiser step, or per epoch (T_max = epochs)
    early_stopping: int | None = 5  # evaluations without a better validation loss
    min_delta: float = 0.0  # an evaluation counts as better for early stopping only if it gains more than this
    eval_every: int | None = None  # steps; None: at the end of every epoch
    eval_batches: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None  # steps; checkpoints are also written at every evaluation
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # "fp32" | "bf16"
    compile: bool = False
    progress: bool = True
    log_every: int = 50  # steps between progress-bar updates (and loss read-backs)

    def __post_init__(self):
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler {self.scheduler!r}; valid choices: {', '.join(SCHEDULERS)}")
        if self.scheduler_interval not in INTERVALS:
            raise ValueError(f"scheduler_interval {self.scheduler_interval!r}; valid choices: {', '.join(INTERVALS)}")
        if self.min_delta < 0 or self.eps <= 0:
            raise ValueError("min_delta must be >= 0 and eps > 0")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision {self.precision!r}; valid choices: 'fp32', 'bf16'")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be >= 1")
        self.betas = tuple(self.betas)


# ---------------------------------------------------------------- distributed helpers

def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed(device: str) -> str:
    """Joins the process group when launched by torchrun; returns this rank's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = device.startswith("cuda")
        dist.init_process_group("nccl" if cuda else "gloo")
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            return f"cuda:{local}"
    return device


def _all_sum(values: list[float], device) -> list[float]:
    if world()[1] == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


# ---------------------------------------------------------------- evaluation

def _autocast(device: str, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


def text_units(windows: torch.Tensor, collate: Callable, encoding) -> tuple[int, int]:
    """Bytes and whitespace-separated words of the target text of ``windows``."""
    _, labels = collate(list(windows))
    n_bytes = n_words = 0
    for row in labels.tolist():
        tokens = [t for t in row if t >= 0]
        data = encoding.decode_bytes(tokens)
        n_bytes += len(data)
        n_words += len(data.decode("utf-8", errors="replace").split())
    return n_bytes, n_words


@torch.no_grad()
def evaluate(model, windows: torch.Tensor, collate: Callable, batch_size: int = 16, device: str = "cpu",
             max_batches: int | None = None, encoding=None, precision: str = "fp32") -> dict:
    """Loss and perplexity over ``windows`` (sharded over DDP ranks); per word and per byte with ``encoding``."""
    rank, size = world()
    was_training = model.training
    model.eval()
    n = windows.size(0)
    batches = [windows[i:i + batch_size] for i in range(0, n, batch_size)][:max_batches]
    nll = tokens = 0.0
    for b in batches[rank::size]:
        x, y = (t.to(device) for t in collate(b))
        with _autocast(device, precision):
            logits, _ = model(x)
        nll += torch.nn.functional.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1),
                                                 ignore_index=IGNORE_INDEX, reduction="sum").item()
        tokens += (y != IGNORE_INDEX).sum().item()
    model.train(was_training)
    nll, tokens = _all_sum([nll, tokens], device)
    loss = nll / max(tokens, 1)
    out = {"loss": loss, "ppl": math.exp(min(loss, 700)), "tokens": int(tokens)}
    if encoding is not None:
        used = torch.cat(batches) if batches else windows[:0]
        n_bytes, n_words = text_units(used, collate, encoding)
        out.update(ppl_word=math.exp(min(nll / max(n_words, 1), 700)), bits_per_byte=nll / math.log(2) / max(n_bytes, 1),
                   words=n_words, bytes=n_bytes)
    return out


# ---------------------------------------------------------------- the one loop

def rng_state() -> dict:
    """Every RNG a training step may draw from: torch's (CPU and, where present, every CUDA device's), numpy's
    global one and python's."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()  # dropout draws on the GPU there
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoints:
    """A run's checkpoints: ``checkpoint-<step>.pt`` in one folder, each written atomically; only the newest
    ``keep`` stay (``keep=0`` keeps all)."""

    def __init__(self, directory: str | Path, keep: int = 1):
        self.directory, self.keep = Path(directory), keep

    def saved(self) -> list[tuple[int, Path]]:
        """(step, path) of every complete checkpoint, oldest first."""
        return sorted((int(p.name[len("checkpoint-"):-len(".pt")]), p)
                      for p in self.directory.glob("checkpoint-*.pt"))

    def latest(self) -> Path | None:
        found = self.saved()
        return found[-1][1] if found else None

    def write(self, step: int, state: dict) -> None:
        atomic.torch_save(state, self.directory / f"checkpoint-{step}.pt")
        for _, old in self.saved()[:-self.keep] if self.keep else []:
            old.unlink()

    def clear(self) -> None:
        for _, path in self.saved():
            path.unlink()


class Task(Protocol):
    """What a run supplies to ``StepLoop``. ``before_step`` and ``batch`` get the 0-based index of the step about
    to be taken; the hooks after it get the number of steps done."""

    stop_checks: list[Callable[[dict], str | None]]  # run after every evaluation, on its metrics: a reason stops

    def before_step(self, step: int) -> None: ...  # the learning-rate schedule set before the step, if any

    def batch(self, step: int): ...

    def loss(self, batch) -> torch.Tensor: ...  # the forward pass

    def after_step(self, step: int, batch, loss: torch.Tensor) -> dict | None: ...  # records; a progress note

    def evaluation_due(self, step: int) -> bool: ...

    def run_eval(self) -> dict: ...

    def end_of_step(self, step: int) -> None: ...  # after the step's evaluation, unless it stopped the run

    def checkpoint_due(self, step: int, evaluated: bool, stop: str | None) -> bool: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> str | None: ...  # the stop reason the restored state holds, if any


class StepLoop:
    """The one training loop: Part II's ``Trainer`` and Part III's ``lab.legal.lora.train`` are its tasks.

    Not ``transformers.Trainer`` (which PEFT's examples use): its own sampler, its warm-up (zero learning rate at
    step 0, where the LoRA runs start at 1/warmup_steps), its checkpoint layout and its DDP wrapping would change
    every committed result, and Part II's epochs of windows with the plateau scheduler stepped on validation
    losses would override most of it. Zeroing the gradients after the optimiser step (and once before the
    first) is the same arithmetic as zeroing them before each backward: they are None at every backward."""

    def __init__(self, task: Task, model, optimizer, parameters, total_steps: int, grad_clip: float | None = None,
                 checkpoints: Checkpoints | None = None, writes: bool = True, progress: bool = True,
                 desc: str = "train"):
        self.task, self.model, self.optimizer = task, model, optimizer
        self.parameters = list(parameters)
        self.total_steps, self.grad_clip = total_steps, grad_clip
        self.checkpoints, self.writes = checkpoints, writes  # writes: this process writes them (DDP rank 0)
        self.progress, self.desc = progress, desc
        self.step = 0
        self.stop_reason: str | None = None

    def run(self, stop_after: int | None = None) -> str | None:
        """Trains from ``self.step`` to ``total_steps`` or until a stop check gives a reason; returns that reason,
        None when every step was taken, or "interrupted" when ``stop_after`` steps of this session ended it as a
        kill would (tests use it: a new loop on the same checkpoints resumes)."""
        from tqdm.auto import tqdm  # here, as before: imported with lab.train it writes to the stderr of the
        # cell importing it, which the committed p2 page does not have (nbval fails it)

        bar = tqdm(total=self.total_steps, initial=self.step, disable=not self.progress, desc=self.desc,
                   dynamic_ncols=True)
        self.optimizer.zero_grad(set_to_none=True)  # no gradient from before the loop enters its first step
        session = 0
        try:
            while self.step < self.total_steps and self.stop_reason is None:
                if stop_after is not None and session >= stop_after:
                    return "interrupted"
                self.model.train()  # an evaluation may have left it in eval mode
                self.task.before_step(self.step)
                batch = self.task.batch(self.step)
                loss = self.task.loss(batch)
                loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                session += 1
                note = self.task.after_step(self.step, batch, loss)
                bar.update(1)
                if note:
                    bar.set_postfix(note)
                evaluated = self.task.evaluation_due(self.step)
                if evaluated:
                    self.evaluate()
                if self.stop_reason is None:
                    self.task.end_of_step(self.step)
                if self.task.checkpoint_due(self.step, evaluated, self.stop_reason):
                    self.save()
            return self.stop_reason
        finally:
            bar.close()

    def evaluate(self) -> dict:
        """The task's evaluation, then every stop check on its metrics (each keeps its own state, so all run);
        the first reason given stops the run."""
        metrics = self.task.run_eval()
        reasons = [check(metrics) for check in self.task.stop_checks]
        self.stop_reason = next((r for r in reasons if r), None)
        return metrics

    def save(self) -> None:
        """The one checkpoint writer: the loop's position, the task's state and every RNG state."""
        if self.checkpoints is None or not self.writes:
            return
        self.checkpoints.write(self.step, {"step": self.step, "task": self.task.state_dict(), "rng": rng_state()})

    def resume(self, map_location=None) -> bool:
        """Loads the newest checkpoint, if any (the task refuses one of another run); True when one was loaded."""
        path = self.checkpoints.latest() if self.checkpoints is not None else None
        if path is None:
            return False
        state = torch.load(path, map_location=map_location, weights_only=False)
        self.stop_reason = self.task.load_state_dict(state["task"])
        self.step = state["step"]
        set_rng_state(state["rng"])
        return True


# ---------------------------------------------------------------- Part II's task

@dataclass
class TrainResult:
    history: list = field(default_factory=list)  # one dict per optimiser step (and per evaluation)
    evals: list = field(default_factory=list)
    best_val_loss: float = math.inf
    best_step: int = -1
    steps: int = 0
    stopped_early: bool = False
    finished: bool = False
    train_seconds: float = 0.0
    tokens_seen: int = 0
    patience_best: float = math.inf  # the loss early stopping compares with (moves only by more than min_delta)

    @property
    def losses(self) -> list[float]:
        return [h["loss"] for h in self.history]

    @property
    def best_val_ppl(self) -> float:
        return math.exp(self.best_val_loss)

    def epoch_lm_loss(self, epoch: int | None = None) -> float:
        """Mean language-model loss (without auxiliary terms) over the training steps of ``epoch`` (default:
        the last epoch with steps), in train mode: the original's train perplexity is exp of this."""
        epoch = max(h["epoch"] for h in self.history) if epoch is None else epoch
        losses = [float(h.get("lm_loss", h["loss"])) for h in self.history if h["epoch"] == epoch]
        if not losses:
            raise ValueError(f"no training step in epoch {epoch}")
        return float(np.mean(losses))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


EARLY_STOP = "early stopping"


class Trainer:
    """Part II's task for ``StepLoop``: epochs of shuffled windows, the configured scheduler, evaluation every
    ``eval_every`` steps or at the end of every epoch, early stopping on the validation loss."""

    def __init__(self, model, train_windows: torch.Tensor, val_windows: torch.Tensor, config: TrainConfig,
                 collate: Callable, encoding=None, resume: bool = True):
        self.config = config
        self.device = setup_distributed(config.device)
        self.rank, self.world_size = world()
        if config.batch_size % self.world_size:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by {self.world_size} ranks")
        self.raw_model = model.to(self.device)
        self.model = self.raw_model
        if config.compile:
            self.model = torch.compile(self.model)
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.model = DDP(self.model, device_ids=[torch.device(self.device).index] if "cuda" in self.device else None)
        self.train_windows, self.val_windows = train_windows, val_windows
        self.collate, self.encoding = collate, encoding
        self.optimizer = _make_optimizer(self.raw_model, config)
        n_batches = math.ceil(train_windows.size(0) / config.batch_size) if self.world_size == 1 \
            else train_windows.size(0) // config.batch_size
        self.batches_per_epoch = n_batches
        self.total_steps = min(config.max_steps or math.inf, n_batches * config.epochs)
        self.scheduler = _make_scheduler(self.optimizer, config, self.total_steps)
        self.result = TrainResult()
        self.epoch, self.batch_in_epoch, self.evals_since_best = 0, 0, 0
        self.stop_checks = [self._early_stop]
        self.ckpt = Path(config.checkpoint_dir) if config.checkpoint_dir else None
        self.loop = StepLoop(self, self.model, self.optimizer, self.raw_model.parameters(), self.total_steps,
                             grad_clip=config.grad_clip or None,
                             checkpoints=Checkpoints(self.ckpt) if self.ckpt is not None else None,
                             writes=self.rank == 0, progress=config.progress and self.rank == 0)
        if resume:
            self.loop.resume(map_location=self.device)

    def _flush(self) -> None:
        """Turns the losses still held as device tensors into floats (one synchronisation)."""
        pending = [(h, k) for h in self.result.history[-max(self.config.log_every, 1) * 2 - 2:] for k in h
                   if isinstance(h[k], torch.Tensor)]
        if pending:
            values = torch.stack([h[k].float().reshape(()) for h, k in pending]).tolist()
            for (h, k), v in zip(pending, values):
                h[k] = v
        stale = [(h, k) for h in self.result.history for k in h if isinstance(h[k], torch.Tensor)]
        for h, k in stale:  # anything older (log_every changed between sessions)
            h[k] = float(h[k])

    # -- checkpoints (written and read by the loop)
    def state_dict(self) -> dict:
        self._flush()
        return {"model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch, "evals_since_best": self.evals_since_best,
                "result": asdict(self.result), "train_config": asdict(self.config),
                "model_config": getattr(self.raw_model.config, "to_dict", lambda: None)()}

    def load_state_dict(self, state: dict) -> str | None:
        saved = getattr(self.raw_model.config, "to_dict", lambda: None)()
        if state["model_config"] != saved:
            raise ValueError(f"the checkpoint in {self.ckpt} is of another model configuration; remove it or "
                             "change checkpoint_dir")
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.batch_in_epoch = state["epoch"], state["batch_in_epoch"]
        self.evals_since_best = state["evals_since_best"]
        self.result = TrainResult(**state["result"])
        return EARLY_STOP if self.result.stopped_early else None

    # -- the step
    def before_step(self, step: int) -> None:
        self._step_started = time.perf_counter()

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        order = epoch_order(self.train_windows.size(0), self.config.seed, self.epoch)
        index = self.batch_in_epoch
        ids = order[index * self.config.batch_size:(index + 1) * self.config.batch_size]
        per_rank = math.ceil(ids.numel() / self.world_size)
        windows = self.train_windows[ids[self.rank * per_rank:(self.rank + 1) * per_rank]]
        return tuple(t.to(self.device, non_blocking=True) for t in self.collate(windows))

    def loss(self, batch) -> torch.Tensor:
        x, y = batch
        with _autocast(self.device, self.config.precision):
            return self.model(x, y)[1]

    def after_step(self, step: int, batch, loss: torch.Tensor) -> dict | None:
        cfg, r = self.config, self.result
        if isinstance(self.scheduler, torch.optim.lr_scheduler.LambdaLR) and cfg.scheduler_interval == "step":
            self.scheduler.step()
        self.batch_in_epoch += 1
        r.steps = step
        r.tokens_seen += int(batch[0].numel()) * self.world_size
        # Losses stay on the device until a flush: reading one per step would stall the GPU queue.
        entry = {"step": r.steps, "epoch": self.epoch, "loss": loss.detach()}
        extra = getattr(self.raw_model, "last_metrics", {})
        for key in ("lm_loss", "aux_loss"):
            if key in extra:
                entry[key] = extra[key]
        r.history.append(entry)
        note = None
        if r.steps % max(cfg.log_every, 1) == 0:
            self._flush()
            note = {"loss": f"{r.history[-1]['loss']:.3f}", "lr": f"{self.optimizer.param_groups[0]['lr']:.1e}"}
        r.train_seconds += time.perf_counter() - self._step_started
        if not cfg.eval_every and self._epoch_done():
            self._next_epoch()  # before the epoch's evaluation: it records the new epoch and the stepped lr
        return note

    def end_of_step(self, step: int) -> None:
        if self.config.eval_every and self._epoch_done():
            self._next_epoch()  # after this step's evaluation, which records the epoch it belongs to

    def _epoch_done(self) -> bool:
        return self.batch_in_epoch >= self.batches_per_epoch

    def _next_epoch(self) -> None:
        self.epoch += 1
        self.batch_in_epoch = 0
        if isinstance(self.scheduler, torch.optim.lr_scheduler.LambdaLR) and self.config.scheduler_interval == "epoch":
            self.scheduler.step()

    def evaluation_due(self, step: int) -> bool:
        if self.config.eval_every:
            return step % self.config.eval_every == 0
        return self.batch_in_epoch == 0  # an epoch ended at this step

    def checkpoint_due(self, step: int, evaluated: bool, stop: str | None) -> bool:
        every = self.config.checkpoint_every
        return evaluated or bool(every and step % every == 0)

    # -- evaluation
    def run_eval(self) -> dict:
        self._flush()
        cfg = self.config
        metrics = evaluate(self.model, self.val_windows, self.collate, cfg.batch_size, self.device,
                           cfg.eval_batches, self.encoding, cfg.precision)
        r = self.result
        metrics["step"], metrics["epoch"] = r.steps, self.epoch
        metrics["lr"] = self.optimizer.param_groups[0]["lr"]
        if hasattr(self.raw_model, "phi_weights"):
            metrics["phi_weights"] = self.raw_model.phi_weights()
        if metrics["loss"] < r.best_val_loss:
            r.best_val_loss, r.best_step = metrics["loss"], r.steps
            if self.ckpt is not None and self.rank == 0:
                atomic.torch_save(self.raw_model.state_dict(), self.ckpt / "best_model.pt")
        # Patience counts evaluations without a gain of more than min_delta over the last counted gain.
        if metrics["loss"] < r.patience_best - self.config.min_delta:
            r.patience_best, self.evals_since_best = metrics["loss"], 0
        else:
            self.evals_since_best += 1
        r.evals.append(metrics)
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(metrics["loss"])
        return metrics

    def _early_stop(self, metrics: dict) -> str | None:
        if self.config.early_stopping is not None and self.evals_since_best >= self.config.early_stopping:
            self.result.stopped_early = True
            return EARLY_STOP
        return None

    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Trains to the end (or early stop). ``stop_after`` ends this session after that many steps, as a
        kill would (tests use it); a new Trainer on the same checkpoint_dir resumes."""
        r = self.result
        if r.finished:
            return r
        self.model.train()
        ended = self.loop.run(stop_after)
        t0 = time.perf_counter()
        self._flush()
        r.train_seconds += time.perf_counter() - t0
        if ended == "interrupted":
            return r
        if not r.evals or r.evals[-1]["step"] != r.steps:
            self.run_eval()
        r.finished = True
        self.loop.save()
        return r


def _make_optimizer(model, cfg: TrainConfig):
    return make_adamw(model, cfg.lr, cfg.weight_decay, cfg.betas, cfg.eps, decay_all=cfg.decay_all)


def _make_scheduler(optimizer, cfg: TrainConfig, total_steps):
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg.plateau_factor,
                                                          patience=cfg.plateau_patience, min_lr=cfg.min_lr)
    if cfg.scheduler == "cosine":
        floor = cfg.min_lr / cfg.lr
        # Per epoch, like CosineAnnealingLR(T_max=epochs) stepped after each epoch; else over the run's steps.
        total = cfg.epochs if cfg.scheduler_interval == "epoch" else max(int(total_steps), 1)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    return None


def train(model, train_windows, val_windows, config: TrainConfig, collate: Callable, encoding=None,
          resume: bool = True) -> TrainResult:
    """Seeds torch with ``config.seed`` and trains; see ``Trainer``."""
    if not (config.checkpoint_dir and resume and Checkpoints(config.checkpoint_dir).latest()):
        torch.manual_seed(config.seed)
    return Trainer(model, train_windows, val_windows, config, collate, encoding, resume).fit()
