"""What p2_training shows of its runs (``lab.infinito.runs``): tables, figures and the figures it glues.

Every comparison names its unit and n: the IIT term is judged over seeds (one pair of runs per seed, an exact
sign-flip test and a t-interval of the mean difference); a single run's perplexity carries a bootstrap interval
over validation windows, which says how precisely the run is measured, not how much seeds differ.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from .. import inference
from .chapter import originals
from .runs import Floor, PageRuns, TrainingRun

CONDITIONS = {True: "with IIT term", False: "without IIT term"}


def run_table(grid: PageRuns) -> pd.DataFrame:
    """One row per run: what it was, how long it trained, why it stopped and what its kept model scores."""
    rows = [{"run": r.name, "seed": r.seed, "IIT term": r.iit, "dropout": r.dropout, "causal mask": r.causal,
             "training windows": r.train_windows, "best epoch": round(r.best_epoch, 2), "epochs": round(r.epochs, 2),
             "plateaued": r.plateaued, "val PPL": r.val_ppl, "95% low (windows)": r.val_ppl_low,
             "95% high (windows)": r.val_ppl_high, "train PPL": r.train_ppl, "dtype": r.dtype.resolved}
            for r in grid.runs]  # seconds: compute_table, whose output the tests do not compare (wall time varies)
    return pd.DataFrame(rows).round(2)


def stopping_figures(grid: PageRuns) -> dict:
    """How many runs and seeds finished learning (stopped by the rule, not the cap)."""
    pairs = grid.pairs
    return {"n_runs": len(grid.runs), "plateaued_runs": sum(r.plateaued for r in grid.runs),
            "plateaued_seeds": sum(on.plateaued and off.plateaued for on, off in pairs),
            "epochs_max": max(r.epochs for r in grid.runs), "best_epoch_max": max(r.best_epoch for r in grid.runs)}


def floor_figures(floor: Floor, grid: PageRuns) -> dict:
    """The n-gram floor and how many seeds' plain model beat the Kneser-Ney bigram."""
    plain = [off.val_ppl for _, off in grid.pairs]
    return {"ppl_unigram": floor.unigram, "ppl_bigram_addk": floor.bigram_add_k, "ppl_bigram": floor.bigram_kneser_ney,
            "plain_beats_bigram": int(sum(p < floor.bigram_kneser_ney for p in plain))}


def iit_comparison(grid: PageRuns) -> tuple[pd.DataFrame, dict]:
    """Validation PPL with and without the IIT term. The unit is the seed: n paired differences (with − without,
    same seed), an exact sign-flip test and a t-interval of the mean difference; no test on n pairs can give p
    below 2 / 2^n. Beside them, the widest window-bootstrap half-width of one run: the measurement's own
    precision, which must be narrower than the difference for the comparison to rest on the seeds."""
    on = np.array([a.val_ppl for a, _ in grid.pairs])
    off = np.array([b.val_ppl for _, b in grid.pairs])
    ci_on, ci_off = inference.t_interval(on), inference.t_interval(off)
    effect = inference.paired(on - off, "seed")
    halfwidth = max((r.val_ppl_high - r.val_ppl_low) / 2 for pair in grid.pairs for r in pair)
    table = pd.DataFrame({"condition": list(CONDITIONS.values()), "seeds": [len(on), len(off)],
                          "mean val PPL": [ci_on.estimate, ci_off.estimate],
                          "95% CI low (t, seeds)": [ci_on.low, ci_off.low],
                          "95% CI high (t, seeds)": [ci_on.high, ci_off.high]}).set_index("condition")
    glued = {"ppl_iit": ci_on.estimate, "ppl_iit_low": ci_on.low, "ppl_iit_high": ci_on.high,
             "ppl_plain": ci_off.estimate, "ppl_plain_low": ci_off.low, "ppl_plain_high": ci_off.high,
             "diff": effect.estimate, "diff_low": effect.low, "diff_high": effect.high, "diff_p": effect.p,
             "diff_p_floor": effect.p_floor, "diff_n": effect.n, "n_negative": int(((on - off) < 0).sum()),
             "n_seeds": len(on), "ppl_window_halfwidth": halfwidth}
    return table.round(2), glued


def curves_figure(grid: PageRuns, floor: Floor):
    """Validation perplexity at every validation of the IIT pairs, against passes over the training windows,
    with the Kneser-Ney bigram as the floor."""
    import plotly.graph_objects as go  # plotly takes about a second to import; only the pages draw

    fig = go.Figure()
    for pair in grid.pairs:
        for r in pair:
            fig.add_trace(go.Scatter(x=[c["epoch"] for c in r.curve], y=[c["val_ppl"] for c in r.curve],
                                     mode="lines", name=f"seed {r.seed}, {CONDITIONS[r.iit]}",
                                     line={"dash": "solid" if r.iit else "dot"}))
    fig.add_hline(y=floor.bigram_kneser_ney, line={"color": "black", "dash": "dash"},
                  annotation_text="Kneser-Ney bigram")
    fig.update_layout(title="Validation perplexity while training (each run stops at its plateau)",
                      xaxis_title="passes over the training windows", yaxis_title="validation PPL",
                      yaxis_type="log", height=460)
    return fig


def collapse_table(grid: PageRuns) -> tuple[pd.DataFrame, dict]:
    """How much the kept models' continuations repeat, per decoder and condition: the mean over seeds with its
    t-interval (the unit is the seed; each seed's value is its mean over the same validation passages)."""
    rows, glued = [], {}
    for decoder in grid.pairs[0][0].repetition:
        for iit, label in CONDITIONS.items():
            runs = [pair[0] if iit else pair[1] for pair in grid.pairs]
            for measure in ("repetition 1-gram", "unique tokens per 100"):
                ci = inference.t_interval([r.repetition[decoder][measure] for r in runs])
                rows.append({"decoder": decoder, "condition": label, "measure": measure, "mean": ci.estimate,
                             "95% low (t, seeds)": ci.low, "95% high (t, seeds)": ci.high})
            if decoder == "greedy":
                ci = inference.t_interval([r.repetition[decoder]["repetition 1-gram"] for r in runs])
                key = "rep_greedy_" + ("iit" if iit else "plain")
                glued.update({key: ci.estimate, f"{key}_low": ci.low, f"{key}_high": ci.high})
    return pd.DataFrame(rows).set_index(["decoder", "condition", "measure"]).round(3), glued


def phi_figure(grid: PageRuns, seed: int):
    """The phi weights at each validation of ``seed``'s runs with the IIT term, one line per component."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for r in [a for a, _ in grid.pairs] + grid.dropout:
        if r.seed != seed:
            continue
        for name in r.phi_init:
            fig.add_trace(go.Scatter(x=[c["epoch"] for c in r.curve], y=[c["phi_weights"][name] for c in r.curve],
                                     mode="lines+markers", name=f"{name}, dropout {r.dropout}",
                                     line={"dash": "solid" if r.dropout == 0.15 else "dot"}))
    fig.update_layout(title=f"Phi weights at each validation (seed {seed}, IIT on)",
                      xaxis_title="passes over the training windows", yaxis_title="softmax weight", height=420)
    return fig


def phi_table(grid: PageRuns) -> pd.DataFrame:
    """Every run's phi weights after training."""
    return pd.DataFrame([{"run": r.name, "seed": r.seed, "IIT term": r.iit, "dropout": r.dropout, **r.phi_weights}
                         for r in grid.runs]).set_index(["run", "seed", "IIT term", "dropout"]).round(3)


def dropout_and_memory(grid: PageRuns) -> tuple[pd.DataFrame, dict]:
    """How far the phi weights moved with the IIT term on (dropout 0.15 and 0.25) and off, the PPL of the two
    dropouts on the same seeds, and the memory's writes over all runs; the report's figures beside them."""
    seeds = {r.seed for r in grid.dropout}
    on15 = [a for a, _ in grid.pairs]
    moved = lambda runs: max((r.phi_change() for r in runs), default=float("nan"))
    mean = lambda runs: float(np.mean([r.val_ppl for r in runs])) if runs else float("nan")
    o = originals()
    glued = {"move_iit_015": moved(on15), "move_iit_025": moved(grid.dropout),
             "move_plain": moved([b for _, b in grid.pairs]),
             "dropout_ppl_015": mean([r for r in on15 if r.seed in seeds]), "dropout_ppl_025": mean(grid.dropout),
             "memory_writes": sum(r.memory_writes for r in grid.runs),
             **{f"reported_{k}": v for k, v in o["phi_weights"]["reported"].items()},
             "reported_a": o["model_a"]["val_ppl"], "reported_b": o["model_b"]["val_ppl"]}
    shown = pd.Series({"largest weight change, IIT on, dropout 0.15": glued["move_iit_015"],
                       "largest weight change, IIT on, dropout 0.25": glued["move_iit_025"],
                       "largest weight change, IIT off": glued["move_plain"],
                       "mean val PPL, dropout 0.15 (same seeds)": glued["dropout_ppl_015"],
                       "mean val PPL, dropout 0.25": glued["dropout_ppl_025"],
                       "memory writes, all runs": glued["memory_writes"]}).to_frame("value").round(4)
    return shown, glued


def recipe_table(grid: PageRuns, recipes: dict) -> tuple[pd.DataFrame, dict]:
    """Models A and B as their scripts configured them; ``recipes`` maps each name to its training settings."""
    rows = [{"recipe": r.name, "seed": r.seed, "dropout": r.dropout, "IIT term": r.iit, "causal mask": r.causal,
             **recipes[r.name], "training windows": r.train_windows, "best epoch": round(r.best_epoch, 2),
             "plateaued": r.plateaued, "val PPL": r.val_ppl, "train PPL": r.train_ppl,
             "phi weight change": r.phi_change(), "memory writes": r.memory_writes} for r in grid.recipes]
    table = pd.DataFrame(rows)
    of = lambda name, f: float(np.mean([f(r) for r in grid.recipes if r.name == name])) if grid.recipes else float("nan")
    glued = {"recipe_seeds_run": len({r.seed for r in grid.recipes}),
             "model_a_recipe_ppl": of("model A", lambda r: r.val_ppl),
             "model_b_recipe_ppl": of("model B", lambda r: r.val_ppl),
             "move_model_a": of("model A", TrainingRun.phi_change), "move_model_b": of("model B", TrainingRun.phi_change)}
    glued["recipe_sentence"] = recipe_sentence(glued)
    return table.round(4), glued


def recipe_sentence(g: dict) -> str:
    """What the recipes' runs show, or why this run has none."""
    o = originals()
    reported = f"the report had {o['model_a']['val_ppl']:g} and {o['model_b']['val_ppl']:g} on WikiText-2 at the original size"
    if not g["recipe_seeds_run"]:
        return (f"This run trained neither recipe: the cpu profile's hour holds the paired runs and the "
                f"dropout run, and the recipes train in the gpu profile (parameter recipe_seeds); {reported}.")
    return (f"Over {g['recipe_seeds_run']} seed(s), model A's recipe reaches validation perplexity "
            f"{g['model_a_recipe_ppl']:.2f} and model B's {g['model_b_recipe_ppl']:.2f}; {reported}, which the "
            f"corpus sentence above says whether this page can be compared with. Model B's phi weights moved by "
            f"{g['move_model_b']:.3g} (model A's by {g['move_model_a']:.3g}).")


def compute_table(grid: PageRuns, floor: Floor) -> pd.DataFrame:
    """Seconds of computing of each run step, as its result records them, with the arithmetic it used."""
    rows = [{"step": f"{r.name}, seed {r.seed}, IIT {'on' if r.iit else 'off'}, dropout {r.dropout}",
             "dtype": r.dtype.resolved, "seconds": round(r.seconds, 1)} for r in grid.runs]
    rows.append({"step": "n-gram floor", "dtype": "float64", "seconds": round(floor.seconds, 1)})
    table = pd.DataFrame(rows).set_index("step")
    table.loc["total"] = ["", round(table["seconds"].sum(), 1)]
    return table


def conclusion(iit: dict, stopping: dict, floor: dict, n_params: int, corpus_name: str) -> str:
    """The page's answer in one paragraph, worded from the numbers whichever way they come out."""
    n, lower = iit["n_seeds"], iit["n_negative"]
    done, runs_ = stopping["plateaued_runs"], stopping["n_runs"]
    if done == runs_:
        lead = f"Trained until validation stopped improving (all {runs_} runs stopped by the rule, none by the cap)"
    else:
        lead = (f"Not every run finished learning ({done} of {runs_} stopped by the rule, {runs_ - done} reached the "
                "cap), so this is about models still learning")
    if iit["diff_high"] < 0:
        effect = "lowers"
    elif iit["diff_low"] > 0:
        effect = "raises"
    else:
        effect = "does not change, within the interval,"
    beats = ("beats the Kneser-Ney bigram" if floor["plain_beats_bigram"] == n else
             f"beats the Kneser-Ney bigram in {floor['plain_beats_bigram']} of {n} seeds")
    corpus_label = "WikiText-2" if corpus_name == "wikitext-2" else "the Shakespeare+Milton substitute"
    original = originals()["model_a"]["params"] / 1e6
    return (f"{lead}: the IIT term {effect} validation perplexity, {iit['diff']:+.2f} PPL (with − without, 95% "
            f"t-interval {iit['diff_low']:+.2f} to {iit['diff_high']:+.2f}, n = {n} seeds, lower with the term in "
            f"{lower} of {n}, exact sign-flip p = {iit['diff_p']:.4f}; the smallest p {n} pairs allow is "
            f"{iit['diff_p_floor']:.4f}). The plain model {beats} ({iit['ppl_plain']:.1f} against "
            f"{floor['ppl_bigram']:.1f}). This is a finding about a {n_params:,}-parameter model on {corpus_label}; "
            f"the report's {original:.1f}M-parameter model on WikiText-2 is not tested here.")
