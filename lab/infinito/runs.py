"""Part II's training design and run steps: what p2_training trains, each run computed once.

``TrainingDesign`` declares the page's parameters. ``Windows`` names the training and validation windows a step
sees and carries their sha256, so a step is keyed by the windows themselves, not by the code that cut them. The
run steps:

- ``train_design``: model A's design (causal mask on) at the page's size, with or without the IIT term, trained
  on every training window until the validation loss stops improving (checkpoints in the step's scratch folder,
  so a killed run resumes); then the kept model's validation perplexity with an interval over windows, and how
  much its continuations of validation passages repeat;
- ``train_recipe``: model A or model B as its own script configured it (optimiser, schedule, windows, no mask),
  under the same stopping rule;
- ``ngram_floor``: the unigram, add-0.1 bigram and interpolated Kneser-Ney bigram on the same windows, the floor
  a trained model must beat.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .. import corpus, cpu, steps, train
from ..publish.design import design
from ..publish.params import ParameterError
from . import chapter as part2
from . import textstats
from .generate import DECODERS, generate
from . import model as model_module
from .model import RECIPES, Infinito

COLLAPSE_DECODERS = ("greedy", "top-k 40")  # argmax shows collapse most plainly; top-k is the report's sampler


@design
class TrainingDesign:
    corpus: Literal["substitute", "wikitext-2"] = Field("substitute", description="training text")
    wikitext_path: str = Field("", description="folder of the WikiText-2 raw files (for the corpus wikitext-2 only)")
    vocab: int = Field(2048, ge=0, description="0: the full GPT-2 vocabulary; else the most frequent tokens + unk "
                       "(CPU scale-down: the output layer is most of a small model's cost)")
    n_layer: int = Field(2, ge=1, description="blocks")
    n_head: int = Field(4, ge=1, description="attention heads")
    n_embd: int = Field(64, ge=8, description="model width")
    seq_len: int = Field(64, ge=8, description="window length")
    batch_size: int = Field(16, ge=1, description="windows per step (model A's script: 16)")
    train_windows: int = Field(0, ge=0, description="training windows used (0: every window of the split)")
    val_windows: int = Field(0, ge=0, description="validation windows used (0: every window of the split)")
    lr: float = Field(3e-3, gt=0, description="AdamW learning rate of model A's design (model B's recipe keeps "
                      "its script's ratio to it)")
    evals_per_epoch: int = Field(2, ge=1, description="validations per pass over the training windows")
    patience: int = Field(3, ge=1, description="stop after this many validations without a gain of "
                          "min_improvement")
    min_improvement: float = Field(0.005, ge=0, description="validation-loss decrease (nats) that counts as a gain")
    scheduler: Literal["cosine", "plateau"] = Field("cosine", description="cosine: the learning rate decays to "
                                                     "lr_floor of itself over decay_epochs passes, then holds; plateau: "
                                                     "it halves after lr_patience validations without a gain (model "
                                                     "A's script)")
    decay_epochs: float = Field(3.0, gt=0, description="passes over which the cosine decays")
    lr_floor: float = Field(0.01, gt=0, le=1, description="the cosine's last learning rate, as a share of lr")
    lr_patience: int = Field(2, ge=0, description="plateau scheduler: validations without a gain before the "
                             "learning rate halves")
    max_epochs: int = Field(8, ge=1, description="cap on passes over the training windows: set so that no run "
                            "reaches it (the plateau stops training first)")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5], description="seeds per condition: six "
                             "pairs, the fewest whose exact sign-flip test can reach p < 0.05")
    dropout_seeds: int = Field(1, ge=0, description="seeds of the dropout-0.25 runs (IIT term on)")
    recipe_seeds: int = Field(0, ge=0, description="seeds of model A's and model B's recipes as their scripts "
                              "configured them (0: none; the cpu profile's hour holds the paired runs and the "
                              "dropout run)")
    lambda_phi: float = Field(0.3, ge=0, description="weight of the IIT term")
    prompts: int = Field(16, ge=2, description="validation passages continued to measure repetition")
    max_new_tokens: int = Field(48, ge=4, description="tokens generated per passage")
    device: Literal["cpu", "cuda"] = Field("cpu", description="torch device")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="training arithmetic: auto "
                                                           "measures which is faster here (bfloat16 autocast)")
    compile: bool = Field(True, description="torch.compile the model (about 1.3x faster training steps on a CPU, "
                          "after about 20 s of compiling)")
    seed: int = Field(0, description="seed of the bootstrap and of anything not trained")

    def check_here(self) -> None:
        if self.corpus == "wikitext-2" and not self.wikitext_path:
            raise ParameterError("corpus='wikitext-2' needs wikitext_path, the folder of its raw files")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ParameterError("give distinct seeds")
        if self.n_embd % self.n_head:
            raise ParameterError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")

    def windows(self) -> "Windows":
        return Windows(self.corpus, self.wikitext_path, self.vocab, self.seq_len, self.train_windows,
                       self.val_windows).pinned()

    def architecture(self) -> "Architecture":
        return Architecture(self.n_layer, self.n_head, self.n_embd)

    def schedule(self) -> "Schedule":
        return Schedule(self.lr, self.batch_size, self.evals_per_epoch, self.patience, self.min_improvement,
                        self.scheduler, self.decay_epochs, self.lr_floor, self.lr_patience, self.max_epochs,
                        self.dtype, self.device, self.compile)

    def collapse(self) -> "Collapse":
        return Collapse(self.prompts, self.max_new_tokens)

    def legacy(self) -> dict:
        """The page's settings under the names of ``lab.infinito.chapter``'s set-up functions."""
        return {**asdict(self), "epochs": self.max_epochs, "eval_every": 0, "precision": "fp32"}


@dataclass(frozen=True)
class Windows:
    """The windows a step sees, and their sha256 (``windows_sha256``), which a step checks before any work."""
    corpus: str
    wikitext_path: str
    vocab: int
    seq_len: int
    train_windows: int
    val_windows: int
    windows_sha256: str = ""

    def build(self) -> part2.Data:
        return part2.load_data({**asdict(self)})

    @staticmethod
    def sha256(data: part2.Data) -> str:
        import hashlib

        h = hashlib.sha256()
        for t in (data.train, data.val):
            h.update(str(tuple(t.shape)).encode())
            h.update(t.numpy().astype(np.int64).tobytes())
        return h.hexdigest()

    def pinned(self) -> "Windows":
        return Windows(**{**asdict(self), "windows_sha256": self.sha256(self.build())})

    def checked(self) -> part2.Data:
        data = self.build()
        if self.sha256(data) != self.windows_sha256:
            raise steps.StepError("the windows built here differ from the ones this step's key names")
        return data


@dataclass(frozen=True)
class Architecture:
    n_layer: int
    n_head: int
    n_embd: int


@dataclass(frozen=True)
class Schedule:
    lr: float
    batch_size: int
    evals_per_epoch: int
    patience: int
    min_improvement: float
    scheduler: str
    decay_epochs: float
    lr_floor: float
    lr_patience: int
    max_epochs: int
    dtype: str
    device: str
    compile: bool

    def stopping_rule(self) -> str:
        rate = (f"the learning rate falls from {self.lr:g} along a cosine to {self.lr_floor:g} of itself over "
                f"{self.decay_epochs:g} passes, then holds" if self.scheduler == "cosine" else
                f"the learning rate starts at {self.lr:g} and halves after {self.lr_patience} validation(s) "
                "without a gain")
        return (f"{rate}; validate {self.evals_per_epoch} times per pass over the training windows; stop after "
                f"{self.patience} validations without a gain of {self.min_improvement:g} nats; cap "
                f"{self.max_epochs} passes")


@dataclass(frozen=True)
class Collapse:
    prompts: int
    max_new_tokens: int


@dataclass(frozen=True)
class TrainingRun:
    """One trained model: how training went and what the kept model (the best validation) measures."""
    name: str  # "model A's design" or the recipe's name
    seed: int
    iit: bool
    dropout: float
    causal: bool
    parameters: int
    train_windows: int
    steps_per_epoch: int
    dtype: cpu.DtypeChoice
    curve: list[dict[str, Any]]  # one entry per validation: step, epoch, val_ppl, lr, phi weights
    steps: int
    best_step: int
    plateaued: bool  # stopped by the stopping rule, not by the cap
    val_ppl: float  # of the kept model, over every validation token
    val_ppl_low: float  # 95% percentile bootstrap over validation windows
    val_ppl_high: float
    train_ppl: float  # exp of the last epoch's mean language-model loss, as the original computed it
    phi_init: dict[str, float]
    phi_weights: dict[str, float]  # after training (the last model, as the original reported them)
    sigma: float
    memory_writes: int
    repetition: dict[str, dict[str, float]]  # decoder -> mean over passages of textstats measures
    train_seconds: float
    seconds: float

    @property
    def epochs(self) -> float:
        return self.steps / self.steps_per_epoch

    @property
    def best_epoch(self) -> float:
        return self.best_step / self.steps_per_epoch

    def phi_change(self) -> float:
        """The largest change of a phi weight from its initial value."""
        return max(abs(self.phi_weights[k] - v) for k, v in self.phi_init.items())


def _training_config(schedule: Schedule, recipe: str, seed: int, n_windows: int, checkpoint_dir: str,
                     precision: str) -> train.TrainConfig:
    """The recipe's script settings (optimiser, scheduler), the schedule's learning rate (in the recipe's ratio
    to model A's), batch and stopping rule, validation ``evals_per_epoch`` times per pass."""
    batch = part2.train_config({"lr": schedule.lr, "batch_size": schedule.batch_size, "epochs": 1, "eval_every": 0,
                                "device": schedule.device, "precision": precision, "compile": schedule.compile},
                               seed, recipe)
    per_epoch = math.ceil(n_windows / batch.batch_size)
    return train.TrainConfig(**{**asdict(batch), "epochs": schedule.max_epochs,
                                "eval_every": max(1, per_epoch // schedule.evals_per_epoch),
                                "early_stopping": schedule.patience, "min_delta": schedule.min_improvement,
                                "scheduler": "plateau" if schedule.scheduler == "plateau" else "none",
                                "plateau_patience": schedule.lr_patience, "checkpoint_dir": checkpoint_dir,
                                "progress": False})


class CosineTrainer(train.Trainer):
    """Part II's trainer with the learning rate a function of the step: a cosine from the configured rate to
    ``floor`` of it over ``horizon`` steps, then the floor. Home-made because lab.train's cosine spans the whole
    run (its cap), and a function of the step resumes from a checkpoint with no scheduler state."""

    def __init__(self, *args, horizon: int, floor: float, **kwargs):
        self.horizon, self.floor = max(horizon, 1), floor
        super().__init__(*args, **kwargs)

    def rate(self, step: int) -> float:
        done = min(step, self.horizon) / self.horizon
        return self.config.lr * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * done)))

    def before_step(self, step: int) -> None:
        super().before_step(step)
        for group in self.optimizer.param_groups:
            group["lr"] = self.rate(step)


def fit(model, train_windows, data: part2.Data, config: train.TrainConfig, schedule: Schedule,
        collate) -> train.TrainResult:
    """Seed (unless resuming), train under the schedule's learning rate, return the result."""
    import torch

    if not train.Checkpoints(config.checkpoint_dir).latest():
        torch.manual_seed(config.seed)
    if schedule.scheduler == "plateau":
        return train.Trainer(model, train_windows, data.val, config, collate).fit()
    horizon = round(schedule.decay_epochs * math.ceil(train_windows.size(0) / config.batch_size))
    return CosineTrainer(model, train_windows, data.val, config, collate, horizon=horizon,
                         floor=schedule.lr_floor).fit()


def window_nll(model, windows, collate, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(summed next-token NLL, token count) of each window: the parts of a perplexity a bootstrap resamples."""
    import torch

    model.eval()
    sums, counts = [], []
    with torch.no_grad():
        for i in range(0, windows.size(0), batch_size):
            x, y = collate(windows[i:i + batch_size])
            logits = model(x)[0].float()
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none", ignore_index=-100)
            sums.append(nll.sum(1).numpy())
            counts.append((y != -100).sum(1).numpy())
    return np.concatenate(sums).astype(np.float64), np.concatenate(counts).astype(np.float64)


def perplexity_interval(sums: np.ndarray, counts: np.ndarray, seed: int = 0,
                        resamples: int = 2000) -> tuple[float, float, float]:
    """Perplexity over all tokens, and its 95% percentile bootstrap interval resampling windows (each with its
    tokens)."""
    from scipy import stats

    ppl = lambda s, c, axis=-1: np.exp(s.sum(axis) / c.sum(axis))
    res = stats.bootstrap((sums, counts), ppl, paired=True, vectorized=True, n_resamples=resamples,
                          method="percentile", rng=np.random.default_rng(seed))
    return float(ppl(sums, counts)), float(res.confidence_interval.low), float(res.confidence_interval.high)


def repetition(model, data: part2.Data, collapse: Collapse, context: int, seed: int) -> dict[str, dict[str, float]]:
    """How much the model's continuations of evenly spaced validation passages repeat, per decoder: the mean
    over passages of the share of repeated unigrams and bigrams and the distinct tokens per 100."""
    prompt_len = max(2, context // 4)
    index = np.linspace(0, data.val.size(0) - 1, collapse.prompts).astype(int)
    out = {}
    for name in COLLAPSE_DECODERS:
        ids = [generate(model, data.val[i, :prompt_len].tolist(), collapse.max_new_tokens, DECODERS[name],
                        seed=seed + j, context=context) for j, i in enumerate(index)]
        out[name] = {"repetition 1-gram": float(np.mean([textstats.repetition_rate(t, 1) for t in ids])),
                     "repetition 2-gram": float(np.mean([textstats.repetition_rate(t, 2) for t in ids])),
                     "unique tokens per 100": float(np.mean([textstats.unique_per_100(t) for t in ids]))}
    return out


def _train(name: str, config, data: part2.Data, train_windows, seed: int, schedule: Schedule,
           collapse: Collapse) -> TrainingRun:
    """Train from a fresh model of ``config`` (resuming from the scratch folder), keep the best validation."""
    import torch

    t0 = time.perf_counter()
    choice = cpu.choose_dtype(schedule.dtype, schedule.device)
    torch.manual_seed(seed)
    model = Infinito(config)
    phi_init = model.phi_weights()
    folder = steps.scratch()
    tcfg = _training_config(schedule, "model A" if name == DESIGN else name, seed, train_windows.size(0),
                            str(folder), "bf16" if choice.resolved == "bfloat16" else "fp32")
    collate = corpus.make_collate(True, pad_id=data.pad_id)
    result = fit(model, train_windows, data, tcfg, schedule, collate)
    phi_weights, sigma, writes = model.phi_weights(), float(model.exploration_sigma.item()), int(model.memory.write_count)
    best = folder / "best_model.pt"
    if best.exists():
        model.load_state_dict(torch.load(best, map_location="cpu", weights_only=True))
    model.to("cpu").eval()
    ppl, low, high = perplexity_interval(*window_nll(model, data.val, collate))
    per_epoch = math.ceil(train_windows.size(0) / tcfg.batch_size)
    curve = [{"step": e["step"], "epoch": round(e["step"] / per_epoch, 3), "val_ppl": round(math.exp(e["loss"]), 4),
              "lr": e["lr"], "phi_weights": e.get("phi_weights")} for e in result.evals]
    return TrainingRun(
        name=name, seed=seed, iit=config.iit, dropout=config.dropout, causal=config.causal_mask,
        parameters=model.num_parameters(), train_windows=int(train_windows.size(0)), steps_per_epoch=per_epoch,
        dtype=choice, curve=curve, steps=result.steps, best_step=result.best_step, plateaued=result.stopped_early,
        val_ppl=ppl, val_ppl_low=low, val_ppl_high=high, train_ppl=math.exp(result.epoch_lm_loss()),
        phi_init=phi_init, phi_weights=phi_weights, sigma=sigma, memory_writes=writes,
        repetition=repetition(model, data, collapse, config.block_size, seed),
        train_seconds=result.train_seconds, seconds=time.perf_counter() - t0)


DESIGN = "model A's design"
TRAINING = [part2.load_data, part2.recipe_config, part2.model_config, part2.recipe_windows, part2.train_config,
            corpus.windows, corpus.compact, corpus.collate, corpus.make_collate, model_module,
            train.train, train.Trainer, train.TrainConfig, train.StepLoop, train.evaluate, cpu.choose_dtype,
            _training_config, CosineTrainer, fit, window_nll, perplexity_interval, repetition, generate,
            textstats.repetition_rate,
            textstats.unique_per_100, _train, Windows, Schedule, Collapse, TrainingRun]


@steps.step(depends=TRAINING)
def train_design(windows: Windows, architecture: Architecture, schedule: Schedule, collapse: Collapse, seed: int,
                 iit: bool, dropout: float, lambda_phi: float) -> TrainingRun:
    """Model A's design with the causal mask at the page's size, the IIT term on or off."""
    data = windows.checked()
    p = {**asdict(windows), **asdict(architecture)}
    config = part2.model_config(p, data, causal=True, iit=iit, dropout=dropout, lambda_phi=lambda_phi)
    return _train(DESIGN, config, data, data.train, seed, schedule, collapse)


@steps.step(depends=TRAINING)
def train_recipe(windows: Windows, architecture: Architecture, schedule: Schedule, collapse: Collapse, seed: int,
                 recipe: Literal["model A", "model B"]) -> TrainingRun:
    """A named configuration as its script built it (no causal mask, its dropout, IIT term, window stride,
    optimiser and scheduler), at the page's size, under the page's stopping rule."""
    data = windows.checked()
    p = {**asdict(windows), **asdict(architecture)}
    config = part2.recipe_config(p, data, recipe)
    return _train(recipe, config, data, part2.recipe_windows(p, data, recipe), seed, schedule, collapse)


@dataclass(frozen=True)
class Floor:
    """Perplexities on the validation windows of models that need no training: what a trained model must beat."""
    unigram: float
    bigram_add_k: float  # add-0.1
    bigram_kneser_ney: float  # interpolated Kneser-Ney
    seconds: float = 0.0


@steps.step(depends=[part2.load_data, corpus.windows, corpus.compact, textstats.UnigramLM,
                     textstats.KneserNeyBigram, textstats._discount, part2.ngram_baselines, Windows])
def ngram_floor(windows: Windows) -> Floor:
    """The n-gram floor, scored on every next token inside the validation windows (the pairs the models
    predict), fitted on the training windows."""
    t0 = time.perf_counter()
    data = windows.checked()
    add_k = part2.ngram_baselines(data)
    kn = textstats.KneserNeyBigram(data.train.reshape(-1).numpy(), data.vocab_size)
    val = data.val.numpy()
    kn_ppl = math.exp(-np.log(kn.prob(val[:, :-1].reshape(-1), val[:, 1:].reshape(-1))).mean())
    return Floor(add_k["unigram"], add_k["bigram (add-0.1)"], kn_ppl, time.perf_counter() - t0)


@dataclass
class PageRuns:
    """Every run of the page: the IIT pairs (one per seed), the dropout-0.25 runs and the recipes."""
    pairs: list[tuple[TrainingRun, TrainingRun]] = field(default_factory=list)  # (IIT on, IIT off), same seed
    dropout: list[TrainingRun] = field(default_factory=list)
    recipes: list[TrainingRun] = field(default_factory=list)

    @property
    def runs(self) -> list[TrainingRun]:
        return [r for pair in self.pairs for r in pair] + self.dropout + self.recipes


def recipe_settings(recipe: str, schedule: Schedule) -> dict:
    """What a recipe's script sets that the page's runs take from it, and the script's own stopping rule (which
    the page replaces with its own)."""
    r = RECIPES[recipe].train
    return {"lr": schedule.lr * r["lr"] / RECIPES["model A"].train["lr"], "weight decay": r["weight_decay"],
            "eps": f"{r['eps']:g}", "script's early stopping": f"{r['early_stopping']} epochs, min_delta {r['min_delta']:g}"}
