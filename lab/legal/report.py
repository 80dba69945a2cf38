"""What p3_legal_lora shows of its run steps' results: scores per system and seed, training tables, the
deployment's tables and the plan's criteria. Plain functions of the results (lab.legal.runs); nothing here
trains or predicts, so a change here re-renders the page without computing anything."""
from __future__ import annotations

import pandas as pd
from IPython.display import display
from myst_nb import glue

from ..verdicts import RunScale
from . import baselines, data, evaluate, success
from .deployment import Int8Agreement
from .runs import AdapterRun, BaselinePredictions, Measured

DUPLICATE_FIGURES = {"articles in force": "p3_articles", "near-duplicate pairs": "p3_dup_pairs",
                     "cross-jurisdiction pairs": "p3_dup_cross", "pairs split across train/val/test": "p3_dup_leaks"}


def duplicates(legal: data.LegalData) -> tuple[pd.DataFrame, dict]:
    """The near-duplicate summary and its figures, with the total number of articles read."""
    dup = data.duplicate_summary(legal)
    return dup, {**{name: dup[key] for key, name in DUPLICATE_FIGURES.items()},
                 "p3_articles_total": len(legal.articles)}


def duplicate_pairs(legal: data.LegalData, top: int = 12) -> pd.DataFrame:
    """The ``top`` most similar near-duplicate pairs, whether they cross jurisdictions, and their split."""
    jurisdiction_of = {a.id: a.jurisdiction for a in legal.articles}
    return pd.DataFrame([{"article A": a, "article B": b, "Jaccard": j,
                          "cross-jurisdiction": jurisdiction_of[a] != jurisdiction_of[b], "split": legal.split[a]}
                         for a, b, j in legal.groups.pairs]).sort_values("Jaccard", ascending=False).head(top)


def glue_all(figures: dict) -> None:
    """Glue every figure of a cell (name -> value) for the prose and the claims ledger, without displaying it."""
    for name, value in figures.items():
        glue(name, value, display=False)


def show_each(tables: dict) -> None:
    """Each table under its title, as a cell shows several."""
    for title, table in tables.items():
        print(title)
        display(table)


def show_wide(table: pd.DataFrame) -> None:
    """A table whose text columns are shown whole."""
    with pd.option_context("display.max_colwidth", None):
        display(table)


def training_figures(runs: list[AdapterRun]) -> dict:
    """What the prose says of training: steps, seeds, how many plateaued, the share of parameters trained."""
    return {"p3_steps": max(r.steps_done for r in runs), "p3_seeds": len(runs),
            "p3_plateaued_seeds": sum(r.plateaued for r in runs),
            "p3_epochs_max": max(r.epochs for r in runs), "p3_train_examples": runs[0].train_examples,
            "p3_trainable_pct": 100 * runs[0].trainable_parameters / runs[0].total_parameters,
            "p3_dtype": runs[0].dtype.resolved}


def dtype_table(runs: list[AdapterRun]) -> pd.DataFrame:
    """The frozen weights' dtype each seed trained in, and the measurement that chose it."""
    return pd.DataFrame([{"seed": r.seed, "asked": r.dtype.requested, "trained in": r.dtype.resolved,
                          "why": r.dtype.reason} for r in runs]).set_index("seed")


class SystemScores:
    """Every system's scores on every task's test split: each seed's adapter, their mean, and each baseline."""

    def __init__(self, legal: data.LegalData, test: dict, runs: list[AdapterRun], base: BaselinePredictions):
        self.seed_scores, self.lora, self.base = {}, {}, {}
        for name, ts in legal.tasks.items():
            per_seed = [evaluate.score(ts, test[name], r.predictions[name], f"LoRA seed {r.seed}") for r in runs]
            self.seed_scores[name] = per_seed
            self.lora[name] = evaluate.mean_over_seeds(per_seed, "LoRA (mean over seeds)")
            self.base[name] = {b: evaluate.score(ts, test[name], pred, b)
                               for b, pred in base.predictions[name].items()}
        self.seeds = [r.seed for r in runs]

    def seed_table(self) -> pd.DataFrame:
        return evaluate.seed_table({seed: {n: self.seed_scores[n][k] for n in self.seed_scores}
                                    for k, seed in enumerate(self.seeds)})

    def summaries(self, legal: data.LegalData, test: dict, resamples: int, seed: int) -> dict:
        """Per task: every system's score with its interval (the LoRA row over seeds and examples)."""
        return {name: evaluate.summary_table(ts, test[name], {**{b: [s] for b, s in self.base[name].items()},
                                                                "LoRA (over seeds)": self.seed_scores[name]},
                                             resamples=resamples, seed=seed)
                for name, ts in legal.tasks.items()}

    def paired_tests(self, resamples: int, seed: int) -> dict:
        return {name: evaluate.paired_tests(self.seed_scores[name], self.base[name], resamples=resamples, seed=seed)
                for name in self.seed_scores}

    def per_class_tables(self, legal: data.LegalData, test: dict) -> dict:
        """Per classification task, the per-class scores of the first seed and four baselines; then the confusion
        matrices on jurisdiction of the first seed and the zero-shot base model, raw and calibrated."""
        first = f"LoRA seed {self.seeds[0]}"
        others = ("TF-IDF + logistic regression", "frozen-feature probe", "base model zero-shot",
                  "base model zero-shot, calibrated")
        out = {name: evaluate.per_class_table(test[name], {first: self.seed_scores[name][0],
                                                           **{b: self.base[name][b] for b in others}}, ts.labels)
               for name, ts in legal.tasks.items() if ts.is_classification}
        if "jurisdiction" in legal.tasks:
            for system in (first, "base model zero-shot", "base model zero-shot, calibrated"):
                scores = self.seed_scores["jurisdiction"][0] if system == first else self.base["jurisdiction"][system]
                out[f"jurisdiction, {system}: rows are the true class, columns the predicted one"] = evaluate.confusion(
                    test["jurisdiction"], scores.predictions, legal.tasks["jurisdiction"].labels)
        return out

    def accuracy_figures(self, legal: data.LegalData) -> dict:
        """Every system's primary score per task, and how the zero-shot model's answers lean (prior_sentence)."""
        glued = {}
        for name, s in self.lora.items():
            glued[f"p3_{name}_lora"] = float(s.primary.mean())
            for b, bs in self.base[name].items():
                glued[f"p3_{name}_{baselines.GLUE_KEYS[b]}"] = float(bs.primary.mean())
        if "jurisdiction" in self.base:
            base = self.base["jurisdiction"]
            glued["p3_prior_sentence"] = evaluate.prior_sentence(
                base["base model zero-shot"].predictions, base["base model zero-shot, calibrated"].predictions,
                legal.tasks["jurisdiction"].verbalisers)
        return glued


LEARNED_BASELINES = ("TF-IDF + logistic regression", "frozen-feature probe")  # fitted on the same examples as LoRA


def paired_figures(paired: dict) -> dict:
    """LoRA minus each baseline that learns from the same examples, on each task's primary metric, with its
    interval over seeds and test examples: ``p3_<task>_vs_<tfidf|probe>`` and ``_low``/``_high`` (what a finding
    about LoRA against them may say; random and the base model are glued with the plan's criteria)."""
    out = {}
    for task, table in paired.items():
        for (name, metric), row in table.iterrows():
            if metric in ("accuracy", "exact match") and name in LEARNED_BASELINES:
                key = f"p3_{task}_vs_{baselines.GLUE_KEYS[name]}"
                out.update({key: float(row["difference"]), f"{key}_low": float(row["diff low"]),
                            f"{key}_high": float(row["diff high"])})
    return out


def int8_tables(measured: Measured) -> tuple[Int8Agreement, pd.DataFrame]:
    """(the weight-only path's agreement, with its margin bands and median changes; the dynamic path's table)."""
    agreement = Int8Agreement(measured.tables["weight-only"].frame(), measured.tables["by margin"].frame(),
                              measured.figures["median_change"], measured.figures["median_margin"])
    return agreement, measured.tables["dynamic"].frame()


def chance(legal: data.LegalData) -> dict:
    """A uniform guess's accuracy on each classification task."""
    return {n: 1 / len(ts.labels) for n, ts in legal.tasks.items() if ts.is_classification}


def run_scale(model: str, runs: list[AdapterRun]) -> RunScale:
    """The model that ran, named with its size: what the scale gate compares with the plan's model."""
    base = runs[0].total_parameters - runs[0].trainable_parameters
    return RunScale(f"{model} ({base / 1e6:.1f}M parameters)", params=float(base))


def criteria(runs: list[AdapterRun], scores: SystemScores, deployment: pd.DataFrame, sizes: pd.DataFrame,
             test: dict, agreement: Int8Agreement, legal: data.LegalData, model: str, resamples: int,
             seed: int) -> success.Judged:
    """The plan's success criteria judged from this run (``Judged.table`` splits off the machine-dependent ones)."""
    return success.success_criteria(runs, scores.lora, scores.seed_scores, scores.base, chance(legal), deployment,
                                    sizes, {n: len(v) for n, v in test.items()}, agreement, run_scale(model, runs),
                                    resamples=resamples, seed=seed)


def compute_table(runs: list[AdapterRun], base: BaselinePredictions, measured: dict[str, Measured]) -> pd.DataFrame:
    """Seconds of computing of each part of the run, as its run step recorded them (on the machine named in
    the result files), not of this page's execution."""
    rows = {"baselines (zero-shot, calibrated, frozen probe, TF-IDF)": base.seconds,
            "LoRA training (all seeds, with validation)": sum(r.train_seconds for r in runs),
            "LoRA test predictions (all seeds)": sum(r.predict_seconds for r in runs),
            **{name: m.seconds for name, m in measured.items()}}
    return pd.DataFrame({"seconds": rows}).round(0)


def _compared(name: str, row) -> str:
    """A paired difference in words: its size, its interval, and which side of zero the whole interval lies on."""
    side = "higher" if row["diff low"] > 0 else "lower" if row["diff high"] < 0 else "not distinguishable"
    return (f"against the {name}, {row['difference'] * 100:+.1f} points (95% interval {row['diff low'] * 100:+.1f} "
            f"to {row['diff high'] * 100:+.1f}, over seeds and test examples): {side}")


def conclusion(runs: list[AdapterRun], paired: dict, train_examples: int) -> str:
    """What the chapter's runs show, in sentences computed from them: how training ended, and LoRA against the
    strongest baselines on each classification task."""
    plateaued = sum(r.plateaued for r in runs)
    epochs = [r.epochs for r in runs]
    parts = [f"{plateaued} of {len(runs)} seeds stopped on a plateau of the validation loss, after "
             f"{min(epochs):.1f} to {max(epochs):.1f} epochs of {train_examples} training examples."]
    for task, table in paired.items():
        found = [_compared(name, table.loc[(name, "accuracy")]) for name in LEARNED_BASELINES
                 if (name, "accuracy") in table.index]
        if found:
            parts.append(f"On {task}, LoRA's accuracy " + "; ".join(found) + ".")
    return " ".join(parts)
