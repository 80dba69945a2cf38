"""Part II chapters (Infinito V5.2): parameters, data set-up and the experiments the notebooks call."""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from IPython.display import Markdown

from .. import atomic, corpus, steps, train
from ..models import assets
from ..paths import REPO, RUNS
from ..publish.params import Param, Spec
from . import leaks, textstats
from .generate import DECODERS, SCRIPT_MAX_NEW_TOKENS, SCRIPT_PRESETS, generate
from .model import ORIGINAL_PARAMETERS, RECIPES, Infinito, InfinitoConfig, scaled

RESULTS = RUNS / "p2"
ORIGINAL_TRAIN_TOKENS = 2_391_884  # WikiText-2 train, GPT-2 BPE (issue 4)


def originals() -> dict:
    """data/originals.yml (the originals' figures, each cited), read through lab.steps so that a page showing
    them records the read."""
    return yaml.safe_load(steps.read_text(REPO / "data" / "originals.yml"))


def reported_perplexities() -> list[float]:
    """The report's absolute perplexities, all on WikiText-2 at the original size: model A, model B, the plain
    baseline and the fake 18.99."""
    o = originals()
    return [o["model_a"]["val_ppl"], o["model_b"]["val_ppl"], o["baseline_no_iit"]["val_ppl"],
            o["fake_ppl_run"]["reported_val_ppl"]]


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
    """runs/p2/<page>-<hash of the content>.json: a run's record is never overwritten by another run's (the same
    content is the same file)."""
    text = json.dumps(payload, indent=1, default=float)
    path = RESULTS / f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    return path if path.exists() else atomic.write_text(path, text)


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
    reported = ", ".join(f"{v:g}" for v in reported_perplexities())
    if s["corpus"] == "wikitext-2" and at_original_size(p):
        return text + (f"Corpus, tokenizer and size are the report's, so its absolute perplexities ({reported}) "
                       "can be set beside this page's; they remain single runs.")
    why = "another corpus" if s["corpus"] != "wikitext-2" else "the report's corpus at a scaled-down size"
    return text + (f"The report's absolute perplexities ({reported}) were measured on WikiText-2 at the original "
                   f"size, so they cannot be compared with this page's, trained on {why}; contrasts within this "
                   "run can.")



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


def shown_text(generation: dict) -> str:
    """A continuation as a table cell: a blank one says why it is blank instead of showing nothing."""
    text = generation["text"]
    if not generation["ids"]:
        return "(empty: the first token drawn was the end-of-text token, where the script stops)"
    if not text.strip():
        return f"(blank: {len(generation['ids'])} tokens that decode to whitespace only, {text[:12]!r})"
    return text


def collapse_diversity(variants: CollapseModels, data: Data, p: dict, seed: int) -> Diversity:
    """Every model's continuations of the page's prompts under every decoder, summarised per decoder."""
    rows, samples = [], []
    for name, model in variants.models.items():
        gens = generations(model, data, p["prompts"], p["decoders"], p["max_new_tokens"], seed, p["seq_len"])
        for decoder, figures in diversity_table(gens).items():
            rows.append({"model": name, "decoder": decoder,
                         "set": "script" if decoder in SCRIPT_PRESETS else "book's addition", **figures})
        samples += [{"model": name, "decoder": g["decoder"], "prompt": g["prompt"], "continuation": shown_text(g)}
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
