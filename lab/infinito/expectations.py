"""p2_expectations: the expectations document's projections (004), judged against a run of the configuration they
were written for, each only at the scale its logic needs."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from . import textstats
from .chapter import Data, Shown, at_original_size, corpus_sentence, train_config, train_recipe
from .chapter import SPEC_EXPECTATIONS, load_data, save_results  # noqa: F401  (the page's set-up and record)
from .generate import DECODERS, generate
from ..verdicts import NOT_TESTABLE, RunScale, Scale, Verdict, gate
from .model import OCTOBER_PARAMETERS, RECIPES, Infinito

# ---------------------------------------------------------------- the expectations document, one row per projection

GPT2_VOCAB = 50257
# The scale each projection needs, in the book's one scale gate (lab.verdicts): the 6-layer configuration's size
# within 1% (the document's "71M"), WikiText-2, the full GPT-2 vocabulary, or none (the logic holds at any size).
_SIZE = (0.99 * OCTOBER_PARAMETERS, 1.01 * OCTOBER_PARAMETERS)
SCOPES = {
    "any size": Scale("the expectations' 6-layer model", independent="the logic does not depend on size or corpus"),
    "full vocabulary": Scale("a model over the full GPT-2 vocabulary", vocab=GPT2_VOCAB),
    "original size": Scale("the 6-layer model at its original size (a property of the trained model)",
                           params=_SIZE),
    "WikiText-2, original size": Scale("the 6-layer model at its original size on WikiText-2 (an absolute figure)",
                                       params=_SIZE, data="wikitext-2"),
}
NOT_PROJECTED = "not a projection"  # a figure the document reports or sets: shown, not judged


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


def run_scale(n_params_full: int, vocab_size: int, corpus_name: str, at_size: bool) -> RunScale:
    """What the page's run was, in the gate's terms: its configuration's size at the original size when it ran that
    size (else 0: a scaled-down run), its corpus and its vocabulary."""
    return RunScale(f"the 6-layer model {'at its original size' if at_size else 'scaled down'} on {corpus_name}, "
                    f"{vocab_size:,} token ids", params=n_params_full if at_size else 0, data=corpus_name,
                    vocab=vocab_size)


def judge_projections(measured: dict, run: RunScale) -> list[dict]:
    """One row per figure of the document: the measured value and, for a projection, a verdict of lab.verdicts
    (inside the projected range: supported; outside: refuted), which the scale gate lets stand only at its scope."""
    rows = []
    for pr in PROJECTIONS:
        value = measured.get(pr.measure, float("nan"))
        if pr.within is None:
            verdict = NOT_TESTABLE if pr.measure == "explored share" else NOT_PROJECTED
        elif not math.isfinite(value):
            verdict = NOT_TESTABLE
        else:
            status = "supported" if pr.within[0] <= value <= pr.within[1] else "refuted"
            verdict = gate(SCOPES[pr.scope], Verdict(status, f"{value:g}", run)).status
        rows.append({"figure": pr.figure, "projected (004)": pr.projected, "measured": value,
                     "verdict": verdict, "judged at": pr.scope, "note": pr.note})
    return rows


def projection_summary(rows: list[dict]) -> dict:
    """Counts and lists of the verdicts (unrelated items: a count with the list, no proportion or interval)."""
    by = {v: [r["figure"] for r in rows if r["verdict"] == v]
          for v in ("supported", "refuted", NOT_TESTABLE, NOT_PROJECTED)}
    return {"supported": len(by["supported"]), "judged": len(by["supported"]) + len(by["refuted"]),
            "untestable": len(by[NOT_TESTABLE]), "lists": by}


def memory_measurements(memory, calls: int) -> dict:
    """The writing memory's statistics in the document's terms (after ``calls`` forward calls)."""
    st = memory.statistics()
    return {"memory utilisation": st["utilization"], "occupied slots": float(st["occupied_slots"]),
            "average importance": st["avg_importance"],
            "rotation per call": st["writes"] / max(calls, 1) / st["slots"]}


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
    return (f"Of the projections this run can judge, {summary['supported']} of {summary['judged']} are supported "
            f"(supported: {join(lists['supported'])}; refuted: {join(lists['refuted'])}). {summary['untestable']} are "
            f"not testable here ({join(lists[NOT_TESTABLE])}): an absolute perplexity or BLEU on WikiText-2 "
            "needs WikiText-2 at the projected size, and a property of the trained model needs its projected "
            "size. The projections are unrelated items, so they are counted and listed, not pooled into a "
            "proportion with an interval.")


# ---------------------------------------------------------------- the page

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
    rows = judge_projections(measured, run_scale(run.setup.glued["n_params_full"], data.vocab_size, data.corpus.name,
                                                 at_original_size(p)))
    summary = projection_summary(rows)
    table = pd.DataFrame(rows).set_index("figure")
    glued = {"supported": summary["supported"], "judged": summary["judged"], "untestable": summary["untestable"],
             "supported_list": "; ".join(summary["lists"]["supported"]) or "none",
             "refuted_list": "; ".join(summary["lists"]["refuted"]) or "none",
             "untestable_list": "; ".join(summary["lists"][NOT_TESTABLE]) or "none",
             "best_ppl": measured["best val PPL"], "selfbleu": measured["self-BLEU"],
             "projection_sentence": Markdown(projection_sentence(summary))}
    record = {"configuration": EXPECTATIONS_RECIPE, "rows": table.reset_index().to_dict("records"),
              "measured": measured}
    return Shown(table.assign(measured=table["measured"].round(3)), glued, record)
