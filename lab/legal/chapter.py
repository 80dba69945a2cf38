"""Part III's chapter: what p3_legal_lora imports, and nothing else. Each function returns a table (or the tables of
a cell) and the values the cell glues, in the page's order (the executed page is compared output by output); the
page's parameters (``SPEC``), data tables and figures are re-exported from where they live. The notebook only
calls these and displays what they return; the experiment itself is in data, baselines, lora and evaluate."""
from __future__ import annotations

import pandas as pd
from IPython.display import display
from myst_nb import glue

from .. import models
from . import REPO, SPEC, baselines, data, evaluate, lora, settings_from  # noqa: F401  (the page's parameters)
from .data import prepare, sample_table, split_table, topic_table  # noqa: F401  (what the page shows of the data)
from .evaluate import seeds_sentence  # noqa: F401
from .figures import learning_curves  # noqa: F401
from .lora import checks_table, history_frame, plan_comparison  # noqa: F401

DUPLICATE_FIGURES = {"articles in force": "p3_articles", "near-duplicate pairs": "p3_dup_pairs",
                     "cross-jurisdiction pairs": "p3_dup_cross", "pairs split across train/val/test": "p3_dup_leaks"}


def duplicates(legal_data: data.LegalData) -> tuple[pd.DataFrame, dict]:
    """The near-duplicate summary and its figures, with the total number of articles read."""
    dup = data.duplicate_summary(legal_data)
    glued = {name: dup[key] for key, name in DUPLICATE_FIGURES.items()}
    return dup, {**glued, "p3_articles_total": len(legal_data.articles)}


def duplicate_pairs(legal_data: data.LegalData, top: int = 12) -> pd.DataFrame:
    """The ``top`` most similar near-duplicate pairs, whether they cross jurisdictions, and their split."""
    jurisdiction_of = {a.id: a.jurisdiction for a in legal_data.articles}
    return pd.DataFrame([{"article A": a, "article B": b, "Jaccard": j,
                          "cross-jurisdiction": jurisdiction_of[a] != jurisdiction_of[b], "split": legal_data.split[a]}
                         for a, b, j in legal_data.groups.pairs]).sort_values("Jaccard", ascending=False).head(top)


def test_splits(legal_data: data.LegalData, limit: int) -> dict:
    """Each task's test examples (the first ``limit`` of them where ``limit`` > 0)."""
    return {name: (ts.splits["test"][:limit] if limit else ts.splits["test"]) for name, ts in legal_data.tasks.items()}


def run_baselines(p: dict, legal_data: data.LegalData, test: dict, seed: int, timings: dict) -> dict:
    """Every baseline's predictions on every task's test split (zero-shot and calibrated from one scoring, the
    frozen probe's hidden states shared by the tasks that read the same articles, TF-IDF, majority, random)."""
    with evaluate.timed(timings, "baselines (zero-shot, calibrated, frozen probe, TF-IDF)"):
        base_lm, base_tok = models.load(p["model"], dtype=p["dtype"], device=p["device"])
        features = {}
        return {name: baselines.all_baselines(ts, test[name], base_lm, base_tok, seed=seed, features=features,
                                              probe_examples=p["probe_examples"], autocast=p["autocast"])
                for name, ts in legal_data.tasks.items()}


def train_seeds(p: dict, legal_data: data.LegalData, test: dict, settings: lora.LoraSettings, timings: dict):
    """Every seed's adapter, trained (or resumed) under early stopping, with its test predictions; returns the
    seed runs, the values the page glues about training, and the stopping table."""
    model, dtype, device = p["model"], p["dtype"], p["device"]
    out_root = REPO / "runs" / "legal_lora" / f"{models.source(model).slug}-{dtype}"
    seed_runs = lora.run_seeds(model, legal_data.tasks, test, p["seeds"], settings, out_root, resume=p["resume"],
                               device=device, dtype=dtype)
    results = [r.result for r in seed_runs]
    timings["LoRA training (all seeds, with validation)"] = sum(r.train_seconds for r in results)
    timings["LoRA test predictions (all seeds)"] = sum(r.predict_seconds for r in seed_runs)
    trainable, total = lora.trainable_parameters(lora.attach_lora(models.load(model, dtype=dtype, device=device)[0],
                                                                  settings))
    glued = {"p3_steps": max(r.steps_done for r in results), "p3_seeds": len(p["seeds"]),
             "p3_stopping_sentence": lora.stopping_sentence(results, settings),
             "p3_trainable_pct": 100 * trainable / total}
    return seed_runs, glued, lora.stopping_table(results, settings)


class Scores:
    """Every system's scores on every task's test split: each seed's adapter, their mean, and each baseline."""

    def __init__(self, legal_data: data.LegalData, test: dict, seed_runs: list, baseline_predictions: dict):
        self.seed_scores, self.lora, self.base = {}, {}, {}
        for name, ts in legal_data.tasks.items():
            per_seed = [evaluate.score(ts, test[name], r.predictions[name], f"LoRA seed {r.result.seed}")
                        for r in seed_runs]
            self.seed_scores[name] = per_seed
            self.lora[name] = evaluate.mean_over_seeds(per_seed, "LoRA (mean over seeds)")
            self.base[name] = {b: evaluate.score(ts, test[name], pred, b) for b, pred in baseline_predictions[name].items()}
        self.seeds = [r.result.seed for r in seed_runs]

    def seed_table(self) -> pd.DataFrame:
        return evaluate.seed_table({seed: {n: self.seed_scores[n][k] for n in self.seed_scores}
                                    for k, seed in enumerate(self.seeds)})

    def summaries(self, legal_data: data.LegalData, test: dict, resamples: int, seed: int) -> dict:
        """Per task: every system's score with its interval (the LoRA row over seeds and examples)."""
        return {name: evaluate.summary_table(ts, test[name], {**{b: [s] for b, s in self.base[name].items()},
                                                                "LoRA (over seeds)": self.seed_scores[name]},
                                             resamples=resamples, seed=seed)
                for name, ts in legal_data.tasks.items()}

    def paired_tests(self, legal_data: data.LegalData, resamples: int, seed: int) -> dict:
        return {name: evaluate.paired_tests(self.seed_scores[name], self.base[name], resamples=resamples, seed=seed)
                for name in legal_data.tasks}

    def per_class_tables(self, legal_data: data.LegalData, test: dict) -> dict:
        """Per classification task, the per-class scores of the first seed and the four other systems; then the
        confusion matrices on jurisdiction of the first seed and the zero-shot base model, raw and calibrated."""
        first = f"LoRA seed {self.seeds[0]}"
        others = ("TF-IDF + logistic regression", "frozen-feature probe", "base model zero-shot",
                  "base model zero-shot, calibrated")
        out = {name: evaluate.per_class_table(test[name], {first: self.seed_scores[name][0],
                                                           **{b: self.base[name][b] for b in others}}, ts.labels)
               for name, ts in legal_data.tasks.items() if ts.is_classification}
        if "jurisdiction" in legal_data.tasks:
            for system in (first, "base model zero-shot", "base model zero-shot, calibrated"):
                scores = self.seed_scores["jurisdiction"][0] if system == first else self.base["jurisdiction"][system]
                out[f"jurisdiction, {system}: rows are the true class, columns the predicted one"] = evaluate.confusion(
                    test["jurisdiction"], scores.predictions, legal_data.tasks["jurisdiction"].labels)
        return out

    def accuracy_figures(self, legal_data: data.LegalData) -> dict:
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
                legal_data.tasks["jurisdiction"].verbalisers)
        return glued


def show_each(tables: dict) -> None:
    """Each table under its title, as a cell shows several."""
    for title, table in tables.items():
        print(title)
        display(table)


def deployment_task(legal_data: data.LegalData) -> str:
    """The task the deployment is measured on: jurisdiction, or the first classification task."""
    if "jurisdiction" in legal_data.tasks:
        return "jurisdiction"
    return next(n for n, t in legal_data.tasks.items() if t.is_classification)


def deployment(p: dict, legal_data: data.LegalData, test: dict, adapter: str, timings: dict) -> pd.DataFrame:
    task = deployment_task(legal_data)
    with evaluate.timed(timings, f"deployment: latency and memory ({len(evaluate.VARIANTS)} processes)"):
        return evaluate.deployment_table(p["model"], adapter, legal_data.tasks[task],
                                         test[task][:p["latency_examples"]], repeats=p["latency_repeats"])


class Int8:
    """int8 against float32 on the test split: weight-only on every task (the path the criteria judge), dynamic
    on the deployment task."""

    def __init__(self, p: dict, legal_data: data.LegalData, test: dict, adapter: str, seed_runs: list, timings: dict):
        self.task = deployment_task(legal_data)
        with evaluate.timed(timings, "int8 agreement on the test split (weight-only; dynamic on one task)"):
            self.agreement = evaluate.int8_agreement(p["model"], adapter, legal_data.tasks, test, seed_runs[0].scores)
            self.dynamic = evaluate.int8_agreement(p["model"], adapter, {self.task: legal_data.tasks[self.task]}, test,
                                                   seed_runs[0].scores, variant="LoRA merged int8 (dynamic)")
        self.glued = {"p3_int8_dynamic_agreement": float(self.dynamic.loc["all", "agreement"]),
                      "p3_int8_sentence": evaluate.int8_sentence(self.agreement)}

    def show_weight_only(self) -> None:
        """The weight-only tables, then the dynamic table's title (the cell ends with the table itself)."""
        show_each({"int8, weight-only (the path the criteria judge)": self.agreement,
                   "the same, by the float32 model's margin between its first and second class":
                       self.agreement.attrs["by_margin"]})
        print(f"int8, dynamic (torch.ao.quantization.quantize_dynamic), on {self.task}")


def sizes(p: dict, adapter: str, timings: dict) -> pd.DataFrame:
    with evaluate.timed(timings, "sizes on disk"):
        return evaluate.size_table(p["model"], adapter)


def chance(legal_data: data.LegalData) -> dict:
    """A uniform guess's accuracy on each classification task."""
    return {n: 1 / len(ts.labels) for n, ts in legal_data.tasks.items() if ts.is_classification}


def show_wide(table: pd.DataFrame) -> None:
    """A table whose text columns are shown whole."""
    with pd.option_context("display.max_colwidth", None):
        display(table)


def criteria(p: dict, results: list, scores: Scores, deployment: pd.DataFrame, sizes: pd.DataFrame, test: dict,
             int8: Int8, legal_data: data.LegalData, seed: int):
    """The plan's success criteria judged from this run (evaluate.success_criteria), split into those compared
    across machines and those that depend on this one (latency, memory)."""
    criteria = evaluate.success_criteria(results, scores.lora, scores.seed_scores, scores.base, chance(legal_data),
                                         deployment, sizes, {n: len(v) for n, v in test.items()}, int8.agreement,
                                         p["model"], resamples=p["resamples"], seed=seed)
    return evaluate.split_machine_dependent(criteria)


def glue_all(figures: dict) -> None:
    """Glue every figure of a cell (name -> value) for the prose and the claims ledger, without displaying it."""
    for name, value in figures.items():
        glue(name, value, display=False)


def timings_table(timings: dict) -> pd.DataFrame:
    """Wall seconds per phase of the chapter."""
    return pd.DataFrame({"seconds": timings}).round(0)
