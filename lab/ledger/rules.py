"""The rules: each reads a part's glued figures through a ``Results``, turns them into ``Evidence`` and asks the
ledger's one standard (``evidence``) for the verdict, returned with the scale of the run it read. Every rule can
return both "supported" and "refuted" (tests/unit/test_ledger_rules.py), and meets the standard
(tests/unit/test_ledger_evidence.py). Part III's rules are in ``rules_legal``."""
from __future__ import annotations

import math
from itertools import combinations

from .claims import LedgerError, RunScale, Verdict, reason, rule
from .evidence import Evidence, against, ci, combine, floor, judge, ordered, ordering, verdict, weigh  # noqa: F401
from .readings import lcd_impacts, lcd_levels_off_their_level, lcd_noise, lcd_run
from .results import Results, run_ladder, run_original, run_part1, run_part2, run_pretrained


def _chain(order: list[str]) -> list[tuple[str, str]]:
    return list(combinations(order, 2))


def _attractors(r: Results) -> int | None:
    return r("p1_experiments", "p1e_n") if r.has("p1_experiments", "p1e_n") else None


def _drops(r: Results, actions, short: str = "drop") -> dict[str, Evidence]:
    """A figure p1_experiments glues as p1e_<short>_<action>, per action: a t interval over attractors."""
    n = _attractors(r)
    return {a: Evidence(*(r("p1_experiments", f"p1e_{short}_{a}{s}") for s in ("", "_low", "_high")), n=n,
                        unit="attractors", method="t interval over attractors") for a in actions}


def _ranked(figs: dict) -> str:
    return " > ".join(f"{a.replace('_seed', '')} {ci(*(figs[a].estimate, figs[a].low, figs[a].high))}"
                      for a in sorted(figs, key=lambda a: -figs[a].estimate))


def _units(figs: dict) -> str:
    e = next(iter(figs.values()))
    return f" (95% {e.method}, n {e.n} {e.unit})" if e.n is not None else f" (95% {e.method})"


def _at_seed_scale(run: RunScale, r: Results) -> bool:
    """Whether this book's Part I run used a model at least as large as the smaller of the original's two."""
    return run.params is not None and run.params >= lcd_run(r).params


def _on_the_original(r: Results, pairs: list[tuple[str, str]], book: Verdict) -> tuple[str, str, list[Evidence]]:
    """The claimed orderings judged on the original's own impacts: a pair holds, or is reversed, only when its gap
    exceeds the spread of the original's repeated control calls (the interval: each impact +- half that spread).
    Returns the status, the figure (with this book's run beside it, below the claim's scale) and the evidence."""
    impacts, (noise, spread) = lcd_impacts(r), lcd_noise(r)
    calls = min(len(c) for c in r.original("lcd_run", "control_mem").values())
    figs = {x: Evidence(v, v - noise / 2, v + noise / 2, n=calls, unit="control calls", level=None,
                        method="spread of the original's repeated control calls") for x, v in impacts.items()}
    status, notes, evidence = ordered(figs, pairs)
    gaps = max(impacts.values()) - min(impacts.values())
    fig = ("on the original's own run, impact (mean |Δmem| over its two models): "
           + " > ".join(f"{x} {v:.3f}" for x, v in sorted(impacts.items(), key=lambda kv: -kv[1]))
           + f" ({r.original('lcd_run', 'delta_cite')}); the widest gap is {gaps:.3f}, and {spread}"
           + f" (n {calls} control calls per model)"
           + (f"; reversed: {', '.join(notes)}" if notes else "")
           + f". Beside it, this book's run ({book.run.what}, below the claim's scale) gives {book.status}: "
           + book.figure)
    return status, fig, evidence


@rule
def action_impact_ranking(r: Results) -> Verdict:
    """C > B > A > D > E in Δ Mem: judged by this book's re-run of the original's own prompt edits where it ran a
    model of the original's size, else on the original's own figures, whose single calls resolve a gap only when
    it exceeds the spread of its repeated control calls."""
    seed = [f"{a}_seed" for a in "CBADE"]
    figs = _drops(r, seed)
    status, notes, evidence = ordered(figs, _chain(seed))
    book = verdict(status, "drop in p(true continuation), original's prompt edits: " + _ranked(figs) + _units(figs)
                   + (f"; reversed: {', '.join(n.replace('_seed', '') for n in notes)}" if notes else "")
                   + ". " + r("p1_experiments", "p1e_ranking_sentence"),
                   run_part1(r, "p1_experiments"), *evidence)
    if _at_seed_scale(book.run, r):
        return book
    status, fig, evidence = _on_the_original(r, _chain(list("CBADE")), book)
    return verdict(status, fig, lcd_run(r), *evidence)


LEVELS = [["C"], ["A", "B"], ["D"], ["E"]]  # embedding, token, logit, mid-sequence, as 001 ranks them


@rule
def level_hierarchy(r: Results) -> Verdict:
    """embedding (C) > token (A, B) > logit (D) > mid-sequence (E), compared on a scale common to every level:
    the drop in generated tokens that match the true continuation (memorization of what is generated). Shown
    beside, not judged: the rise in the unperturbed model's NLL of what was generated (the other common scale),
    and D's p(true) drop, computed on the distribution its bias was added to, so measuring the bias by
    construction. Where this book ran no model of the original's size, the original's own figures judge: "not
    supported" where its "levels" are not what they are named (its observation stands, its mechanism does not)."""
    figs = _drops(r, "ABCDE", "prefix")
    pairs = [(x, y) for i, hi in enumerate(LEVELS) for lo in LEVELS[i + 1:] for x in hi for y in lo]
    status, notes, evidence = ordered(figs, pairs)
    book = verdict(status, "drop in generated tokens matching the true continuation, each action at its strongest "
                   "magnitude: " + _ranked(figs) + _units(figs) + (f"; reversed: {', '.join(notes)}" if notes else "")
                   + "; rise in the unperturbed model's NLL of what was generated (nats per token), the other "
                   "common scale: " + _ranked(_drops(r, "ABCDE", "view"))
                   + "; drop in p(true continuation), where D measures its own bias: " + _ranked(_drops(r, "ABCDE"))
                   + " (an ordering of levels holds only for the magnitudes run: their units differ)",
                   run_part1(r, "p1_experiments"), *evidence)
    if _at_seed_scale(book.run, r):
        return book
    status, fig, evidence = _on_the_original(r, pairs, book)
    off = lcd_levels_off_their_level(r)
    if off:
        status = "not supported"
        fig = (f"the original's {' and '.join(off)} 'levels' edit the prompt's text ("
               f"{r.original('lcd_actions', 'cite')}), so its figures rank prompt wordings, not levels; " + fig)
    return verdict(status, fig, lcd_run(r), *evidence)


def _original_robustness(r: Results, shown: str) -> Verdict:
    """001's ranking on the original's own Δmem, by its report's definition (1 - |mean Δmem|) and by the book's
    (1 - mean |Δmem|, also the original's own figure). One call per cell gives no interval: a reversal is "not
    supported", an agreement "inconclusive"."""
    delta = r.original("lcd_run", "delta_mem")
    signed = {m: 1 - abs(sum(d.values()) / len(d)) for m, d in delta.items()}
    absolute = {m: 1 - sum(map(abs, d.values())) / len(d) for m, d in delta.items()}
    mistral, llama = (next(m for m in delta if key in m) for key in ("Mistral", "Llama"))
    gap = Evidence(absolute[mistral] - absolute[llama], n=1, unit="call per cell")
    fig = (f"on the original's own Δmem ({r.original('lcd_run', 'delta_cite')}): 1 - |mean Δmem| (its report) gives "
           f"Mistral-7B {signed[mistral]:.3f} against Llama-3-8B {signed[llama]:.3f}; 1 - mean |Δmem| (this book's, "
           f"and the original's own figure; {r.original('lcd_run', 'robustness_cite')}) gives Mistral-7B "
           f"{absolute[mistral]:.3f} against Llama-3-8B {absolute[llama]:.3f}, a gap of {gap}: under the signed "
           f"mean Mistral's {min(delta[mistral].values()):+.3f} cancels its gains. Mistral-7B "
           "and Llama-3-8B are not both among the models this book's page ran (the gpu-hub profile runs both on a "
           f"reader's GPU); the same score on the models it ran: {shown}")
    status, gap = weigh(gap, 0.0)
    return verdict(status, fig, lcd_run(r), gap)


@rule
def model_robustness_ranking(r: Results) -> Verdict:
    """Judges 001's ordering when one page ran both named models and glued each robustness with its interval
    (``p1e_robustness_<slug>`` and ``_low``/``_high``); otherwise on the original's own figures."""
    p = "p1_experiments"
    ours = {k.removeprefix("p1e_robustness_"): r(p, k) for k in r.names(p)
            if k.startswith("p1e_robustness_") and not k.endswith(("_low", "_high"))}
    if not ours:
        raise LedgerError("book/p1_experiments.ipynb glues no p1e_robustness_* value")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in ours.items())
    named = {claimed: next((k for k in ours if pattern in k), None)
             for claimed, pattern in (("Mistral-7B", "mistral_7b"), ("Llama-3-8B", "llama_3_8b"))}
    if None in named.values():
        return _original_robustness(r, shown)
    n = _attractors(r)
    (m, mlo, mhi), (l, llo, lhi) = (r.interval(p, f"p1e_robustness_{k}") for k in named.values())
    mistral, llama = (Evidence(v, lo, hi, n=n, unit="attractors", method="interval over attractors")
                      for v, lo, hi in ((m, mlo, mhi), (l, llo, lhi)))
    status, notes, evidence = ordered({"Mistral-7B": mistral, "Llama-3-8B": llama}, [("Mistral-7B", "Llama-3-8B")])
    fig = (f"Mistral-7B {ci(m, mlo, mhi)} against Llama-3-8B {ci(l, llo, lhi)} (robustness = 1 - mean |Δ Mem|; "
           f"{'n ' + str(n) + ' attractors' if n is not None else 'attractors'})")
    if not (mistral.decisive and llama.decisive):
        fig += "; without intervals two point estimates judge no gap"
    elif status == "inconclusive":
        fig += "; the intervals overlap"
    return verdict(status, fig, run_part1(r, p), *evidence)


# Attractors whose continuation follows from a rule visible in the prompt: reproducing them needs no memory.
RULE_GENERATED = ("counting", "alphabet")


@rule
def small_models_do_not_memorize(r: Results) -> Verdict:
    """Judged on the pretrained models and natural texts, the setting the claim is about. The canaries of the
    ladder are shown, not judged: random strings and unseen text planted in a stream are not that setting. The
    count of natural texts reproduced is exact over the pairs tested (a reproduction is there or not)."""
    p = "p5_memorization_scale"
    k, n = r(p, "p5_pretrained_extractable"), r(p, "p5_pretrained_tested")
    texts = [t for t in (r(p, "p5_pretrained_extractable_texts") or "").replace("none", "").split(", ") if t]
    natural = [t for t in texts if t not in RULE_GENERATED]
    top, tlo, thi = (r(p, x) for x in ("p5_top_rate", "p5_top_rate_low", "p5_top_rate_high"))
    count = Evidence(len(natural), n=n, unit="(model, attractor) pairs", fmt="d",
                     exact=f"a count of natural texts reproduced 32 tokens verbatim, over all {n} pairs tested")
    fig = (f"the pretrained models reproduce {k} of {n} (model, attractor) pairs 32 tokens verbatim: "
           f"{', '.join(texts) or 'none'}; natural texts among them: {', '.join(natural) or 'none'} "
           f"({', '.join(RULE_GENERATED)} follow a rule the prompt shows), {count}. Not judged: the largest "
           f"byte-level model trained here reproduces a share {ci(top, tlo, thi, '.2f')} (Wilson) of the canaries "
           f"seen {r(p, 'p5_top_duplicates')} times per epoch")
    status, count = weigh(count, 0, 0)
    return verdict(status, fig, run_pretrained(r), count)


@rule
def memorization_threshold_70b(r: Results) -> Verdict:
    """Refuted when extraction beyond chance (the largest model's Wilson interval over its canaries excludes 0)
    appears more than half a decade below 70B; supported when it appears only within it; else inconclusive. The
    size of a rung is exact (a parameter count)."""
    p = "p5_memorization_scale"
    first = r(p, "p5_first_extracting_log10")
    n = r(p, "p5_top_n") if r.has(p, "p5_top_n") else None
    share = Evidence(*r.interval(p, "p5_top_rate"), n=n, unit="canaries", method="Wilson interval over canaries",
                     fmt=".2f")
    if math.isnan(r(p, "p5_delta_bic_size")):
        fig = "no variation in extraction on this ladder, so no fit"
    else:
        slope = r(p, "p5_slope")
        slope = ("not identifiable (no interval: the fit runs to a bound)" if math.isnan(slope) else
                 ci(slope, r(p, "p5_slope_low"), r(p, "p5_slope_high"), ".2f") + " log-odds per decade")
        fig = (f"smooth growth vs threshold: BIC difference {r(p, 'p5_delta_bic_size'):.1f}, AIC difference "
               f"{r(p, 'p5_delta_aic_size'):.1f} (positive favours a threshold); slope {slope}")
    fig += (f"; largest model 10^{r(p, 'p5_max_log10_params'):.1f}, {r(p, 'p5_decades_below_70b'):.1f} decades "
            "below 70B")
    if r.has(p, "p5_first_extracting_any_epoch_log10"):  # the design that moves training apart from size
        fig += (f"; the smallest size extracting after any epoch: 10^{r(p, 'p5_first_extracting_any_epoch_log10'):.1f}"
                if math.isfinite(r(p, "p5_first_extracting_any_epoch_log10")) else "; no size extracts after any epoch")
    extracts, share = weigh(share, 0, 0)  # "refuted": the interval excludes no extraction
    if not (math.isfinite(first) and extracts == "refuted"):
        return verdict("inconclusive", f"no model extracts its canaries beyond chance: the largest reproduces a "
                       f"share {share}; " + fig, run_ladder(r), share)
    near = math.log10(70e9) - 0.5  # within half a decade of 70B
    size = Evidence(first, exact="the parameter count of the smallest rung that extracts", fmt=".1f")
    status, size = weigh(size, near)
    return verdict("refuted" if status == "refuted" else "supported",
                   f"extraction appears {'' if status == 'refuted' else 'only '}from 10^{size} parameters (the "
                   f"largest model reproduces a share of at least {share.low:.2f} of its canaries, Wilson 95% lower "
                   f"bound; {share}); " + fig, run_ladder(r), share, size)


@reason
def models_out_of_reach(r: Results) -> Verdict:
    """Claims about specific 7B-70B chat models or GPT-3.5: the machine that builds the book reaches neither the
    hub's weights nor a paid API."""
    size = r("p5_memorization_scale", "p5_max_log10_params")
    smol = r("p0_models_assets", "smollm2_params_m")
    return Verdict("not testable here", f"the models this book runs have at most {smol:.0f}M parameters "
                   f"(pretrained) and 10^{size:.1f} (trained here); a reader can aim the same notebooks at the named "
                   "model, by its Hugging Face id on their own GPU or through Part I's OpenAI-compatible backend "
                   "with a budget")


@reason
def not_run(r: Results, why: str) -> Verdict:
    """A claim no run of this book can reach, with the reason (claims.yml's ``args``)."""
    return Verdict("not testable here", why)


REPRODUCED = 0.05  # a reported figure is reproduced when a re-run's whole interval lies within 5% of it


def _seeds(r: Results, page: str, name: str, n, fmt: str = ".1f", method: str = "t interval over seeds"
           ) -> Evidence:
    return Evidence(*r.interval(page, name), n=n, unit="seeds", method=method, fmt=fmt)


@rule
def wikitext_ppl_reported(r: Results) -> Verdict:
    """Judges 003's two figures against models A and B trained by their own recipes, each over seeds with an
    interval (``model_a_recipe_ppl`` and ``_low``/``_high``): supported when each interval lies within
    ``REPRODUCED`` of the reported figure, refuted when one excludes its figure; the scale gate lets that stand
    only for the original size on WikiText-2. One seed per recipe gives no interval, so no verdict."""
    p = "p2_training"
    ppl, lo, hi = (r(p, k) for k in ("ppl_iit", "ppl_iit_low", "ppl_iit_high"))
    ratio, n, seeds = r(p, "ratio"), r(p, "n_seeds"), r(p, "recipe_seeds_run")
    fig = (f"the fixed model with the IIT term reaches validation PPL {ci(ppl, lo, hi, '.1f')} ({n} seeds, "
           f"{ratio:.3g} parameters per token)")
    runs = {m.upper(): (_seeds(r, p, f"model_{m}_recipe_ppl", seeds), r(p, f"reported_{m}")) for m in ("a", "b")}
    fig += "; " + "; ".join(f"model {m} by its recipe {ev} against the reported {rep}" for m, (ev, rep) in runs.items())
    fig += f" ({seeds} seed(s) per recipe; reproduced: an interval within {REPRODUCED:.0%} of the figure)"
    judged = []
    for ev, rep in runs.values():
        status, ev = weigh(ev, rep * (1 - REPRODUCED), rep * (1 + REPRODUCED))
        if status in ("inconclusive", "refuted") and ev.decisive and not ev.low <= rep <= ev.high:
            status = "refuted"  # the interval excludes the reported figure itself
        elif status == "refuted":
            status = "inconclusive"  # outside the band but not excluding the figure
        judged.append((status, ev))
    return verdict(combine([s for s, _ in judged]), fig, run_part2(r, p), *[e for _, e in judged])


@rule
def memorization_score_protocol(r: Results) -> Verdict:
    """The threshold is a definition; what can be judged is whether a verbatim recall reaches it. That is
    arithmetic on the texts (the score of a perfect continuation), so it holds for any model."""
    p = "p1_attractors"
    below, n = r(p, "p1a_ceiling_below_07"), r(p, "p1a_n_attractors")
    top, top_text = r(p, "p1a_ceiling_max"), r(p, "p1a_ceiling_max_text")
    count = Evidence(below, n=n, unit="attractors", fmt="d",
                     exact="arithmetic on the texts: the score of a perfect continuation")
    fig = (f"a perfect {r.parameter(p, 'max_new_tokens')}-token continuation scores below 0.7 for {below} of {n} "
           f"attractors (highest {top:.3f}, {top_text}): the score compares the continuation with the canonical "
           f"text, prompt included (ebaenamar/llm-controlled-dynamics@8d5dda35:src/core/metrics.py); {count}")
    status, count = weigh(count, 0, 0)
    return verdict(status, fig, RunScale(f"the score of a perfect continuation of {n} texts"), count)


@rule
def collate_bug_fake_ppl(r: Results) -> Verdict:
    """The claim has two parts: 18.99 is a false perplexity, and unshifted labels caused it. The second is judged
    by where one epoch of the copy bug leaves a model trained at the original's learning rate on an epoch of the
    original's length: far below 18.99 (under half), and the figure needs another cause (the page reads the
    original's pipelines) - "not supported"; an interval wholly at or above it, "supported"; in between, or one run
    at or above it, "inconclusive". A curve at another learning rate cannot place 18.99: "inconclusive". The first
    part is refuted only by an interval of the false PPL that is not far below the honest one (a fifth of it)."""
    p = "p2_collate_postmortem"
    fake, honest, reported = r(p, "fake"), r(p, "honest"), r(p, "reported_fake")
    run = run_part2(r, p)
    one = dict(n=1, unit="run", method="interval the page glued", fmt=".2f")
    if not fake < honest / 5:
        ev = Evidence(*r.interval(p, "fake"), **one)
        status, ev = weigh(ev, -math.inf, honest / 5)
        return verdict(status, f"unshifted labels give PPL {ev}, not far below the {honest:.2f} of the same "
                       f"model with shifted labels (reported {reported})", run, ev)
    cross, epoch = r(p, "cross_step"), r(p, "steps_per_epoch")
    first = (f"unshifted labels give a false PPL ({fake:.2f} against {honest:.2f} with shifted labels, same "
             f"model and steps)")
    lr, original_lr = r.parameter(p, "curve_lr"), r.original("fake_ppl_run", "lr")
    if not math.isclose(lr, original_lr):
        # where one epoch of the bug ends depends on the learning rate: a curve at another one cannot place 18.99
        return verdict("inconclusive", f"{first}; whether one epoch of the bug ends near {reported} is not judged: the "
                       f"copy curve ran at lr {lr:g}, the original at {original_lr:g} with an epoch of "
                       f"{r.original('fake_ppl_run', 'epoch_lines'):,} lines, so a curve at the original's settings is "
                       f"needed (this one passes {reported} at step {cross:.0f} of a {epoch:.0f}-step epoch; n 1 run)",
                       run)
    at, step = r(p, "epoch1_ppl"), r(p, "epoch1_step")
    ev = Evidence(*r.interval(p, "epoch1_ppl"), **one)
    where = (f"at the original's lr {original_lr:g} and epoch of {r.original('fake_ppl_run', 'epoch_lines'):,} lines "
             f"({epoch:.0f} steps), the copy task passes {reported} at step {cross:.0f} and stands at {at:.2f} by step "
             f"{step:.0f} ({ev})")
    if math.isnan(at):
        return verdict("inconclusive", f"{first}; no evaluation of the copy curve falls within its first epoch "
                       "(n 0 runs)", run)
    if at < reported / 2:
        status, ev = weigh(ev, reported / 2)
        return verdict("not supported", f"{first}; but {where}, and the original's own copy-bug trainer stored "
                       f"{r(p, 'orig_epoch1'):.2f} after one epoch: one epoch of the bug gives far less than the "
                       "reported figure", run, ev)
    status, ev = weigh(ev, reported, against="inconclusive")
    if status == "supported":
        return verdict(status, f"{first}; {where}: one epoch of the copy task is still at or above the "
                       f"reported {reported}", run, ev)
    return verdict("inconclusive", f"{first}; {where}: below the reported figure by less than half, or one run "
                   "without an interval", run, ev)


@rule
def dropout_froze_phi_weights(r: Results) -> Verdict:
    """A reading of the trained weights: a weight that moved was not frozen, and whether a loss term reaches it
    is decided by the code (exact at any size, as the claim's scale says)."""
    p = "p2_training"
    m15, m25, plain = r(p, "move_iit_015"), r(p, "move_iit_025"), r(p, "move_plain")
    moved = Evidence(m25, exact="a reading of the trained weights: they moved or did not", fmt=".4f")
    status = "refuted" if m25 >= 0.5 * m15 and m25 > 100 * plain else "supported"
    return verdict(status, f"phi weights moved {moved} at dropout 0.25 and {m15:.4f} at 0.15 (largest change over "
                   f"the runs at each); {plain:.1e} with the phi loss off: the loss, not dropout, decides whether "
                   "they move", run_part2(r), moved)


@rule
def dropout_improved_ppl(r: Results) -> Verdict:
    """The claim is a difference, so only an interval of it (paired over seeds) can support or refute it; two
    means without one can at most point the other way ("not supported")."""
    p = "p2_training"
    d15, d25 = r(p, "dropout_ppl_015"), r(p, "dropout_ppl_025")
    a, b = r(p, "reported_a"), r(p, "reported_b")  # the original's PPL at dropout 0.15 and 0.25
    seeds = r.parameter(p, "dropout_seeds")
    fig = (f"validation PPL {d25:.1f} at dropout 0.25 against {d15:.1f} at 0.15 ({d25 / d15 - 1:+.1%}; reported: "
           f"{b:.2f} against {a:.2f}, {b / a - 1:+.1%}), means over the same {seeds} seeds")
    run = run_part2(r)
    if not r.has(p, "dropout_ppl_diff_low"):
        status, ev = weigh(Evidence(d25 - d15, n=seeds, unit="seeds", fmt=".1f"), -math.inf, 0.0)
        return verdict(status, fig + f"; difference {ev}: no interval of the difference, so neither supported nor "
                       "refuted", run, ev)
    ev = _seeds(r, p, "dropout_ppl_diff", seeds, method="paired t interval over seeds")  # PPL at 0.25 minus 0.15
    status, ev = weigh(ev, -math.inf, 0.0)
    return verdict(status, fig + f"; difference {ev}", run, ev)


@rule
def ratio_caused_mode_collapse(r: Results) -> Verdict:
    """Judged only where a page varied the parameters-per-token ratio and glued the change in greedy repetition
    from the lowest to the highest ratio, with its interval; otherwise nothing here can attribute the collapse to
    the ratio, whatever the decoders show."""
    p = "p2_mode_collapse"
    iit, t1 = r(p, "rep_greedy_orig"), r(p, "rep_t1_orig")
    fig = (f"greedy repetition {iit:.3f}, sampling at T = 1 {t1:.3f}, at one ratio "
           f"({r('p2_training', 'ratio'):.3g} parameters per training token)")
    if not r.has(p, "rep_ratio_diff"):
        return Verdict("not testable here", fig + ": the ratio was not varied, so no run here can attribute the "
                       "repetition to it")
    n = r(p, "rep_ratio_diff_n") if r.has(p, "rep_ratio_diff_n") else None
    status, ev = weigh(Evidence(*r.interval(p, "rep_ratio_diff"), n=n, unit="seeds", method="interval over seeds"),
                       0.0)
    return verdict(status, f"greedy repetition at the highest ratio minus at the lowest {ev}; " + fig,
                   run_part2(r, p), ev)


@rule
def collapse_at_every_temperature(r: Results) -> Verdict:
    """Collapse at a temperature: repetition at least half of greedy decoding's. Refuted when one of the claim's
    temperatures has an interval wholly below that, supported when every one that ran has one wholly above it;
    single values (no interval) point, and give "not supported" or "inconclusive"."""
    p = "p2_mode_collapse"
    greedy = r(p, "rep_greedy_orig")
    temps = {t: Evidence(*r.interval(p, k), unit="sampled continuations (n not glued)",
                         method="interval over continuations")
             for t, k in (("0.7", "rep_t07_orig"), ("1.0", "rep_t1_orig"), ("1.2", "rep_t12_orig"))
             if r.has(p, k) and math.isfinite(r(p, k))}
    fig = f"unigram repetition {greedy:.3f} under greedy decoding; " + ", ".join(
        f"{v} at T = {t}" for t, v in temps.items())
    if not temps:
        return verdict("inconclusive", fig + "no sampled temperature ran (n 0 temperatures)", run_part2(r, p))
    judged = [weigh(ev, 0.5 * greedy) for ev in temps.values()]
    return verdict(combine([s for s, _ in judged]), fig, run_part2(r, p), *[e for _, e in judged])


@rule
def iit_memory_written(r: Results) -> Verdict:
    """A code fact at any size: the memory's write priority can never exceed its threshold (ORIGINAL_REPOS.md,
    B.6), and the count of writes in training shows it."""
    p = "p2_training"
    writes = r(p, "memory_writes")
    count = Evidence(writes, fmt="d", exact="a count of the memory's writes, and a reading of its write condition")
    status, count = weigh(count, 1)
    return verdict(status, f"the IIT-guided memory was written {writes} times ({count}) over all training runs: its write priority "
                   "is at most 0.9 against a fixed threshold of 3.0 (webtilians/principiodelTodo@9a2da8af:"
                   "src/core/iit_guided_memory.py)", run_part2(r), count)


@rule
def iit_loss_helps(r: Results) -> Verdict:
    p = "p2_training"
    n = r(p, "n_seeds")
    status, ev = weigh(_seeds(r, p, "diff", n, ".2f", "paired t interval over seeds"), -math.inf, 0.0)
    least = max(r(p, "diff_p_floor"), floor(n))
    return verdict(status, f"the phi loss changes validation PPL by {ev} (unit the seed, n {n}; lower in "
                   f"{r(p, 'n_negative')} of {n}; exact sign-flip p {max(r(p, 'diff_p'), least):.4f}, the smallest "
                   f"{n} pairs allow {least:.4f})", run_part2(r), ev)


def _listed(r: Results, page: str, name: str) -> list[str]:
    text = r(page, name)
    return [] if text in ("", "none") else text.split("; ")


def _span(low: float, high: float) -> str:
    return f"below {high:g}" if low == -math.inf else f"{low:g}" if low == high else f"{low:g} to {high:g}"


# figures of the expectations page that are counts by construction: projection -> (glued count, scale, why)
PAGE_COUNTS = {"parameters": ("n_params_full", 1e-6, "a count of the 6-layer configuration's parameters at its "
                              "original size, in millions")}


@rule
def projection(r: Results, figure: str, low: float, high: float) -> Verdict:
    """One projection of 004: judged on the original's own run where it logged the figure (exact: the projection
    is about that run, and its log says what it reached), or where the figure holds by construction; else on
    what the expectations page glues: a count exactly; a measurement only with an interval, which the page does
    not glue ("inconclusive: no interval"); and as not testable here where the page says so."""
    for key in ("projection_run", "by_construction"):
        measured = r.original(key, "measured")
        if figure in measured:
            why = ("the original's own log of the run the projection was made for" if key == "projection_run"
                   else "by construction")
            status, ev = weigh(Evidence(measured[figure], exact=why, fmt="g"), low, high)
            return verdict(status, f"{measured[figure]:g} against the projected {_span(low, high)} (exact: {why}; "
                           f"{r.original(key, 'what')}; {r.original(key, 'cite')})", run_original(r, key), ev)
    p = "p2_expectations"
    if figure in PAGE_COUNTS and r.has(p, PAGE_COUNTS[figure][0]):
        name, scale, why = PAGE_COUNTS[figure]
        count = r(p, name)
        status, ev = weigh(Evidence(count * scale, exact=why, fmt=".2f"), low, high)
        return verdict(status, f"{count:,} parameters: {ev}, against the projected {_span(low, high)}",
                       run_part2(r, p), ev)
    verdicts = {"supported": "supported_list", "refuted": "refuted_list", "not testable here": "untestable_list"}
    for status, name in verdicts.items():
        if figure in _listed(r, p, name):
            shown = (f"the expectations page judges it {status} (projected {_span(low, high)}; {r(p, 'n_params_run'):,} "
                     f"parameters, {r(p, 'n_layer_run')} layers, on the corpus stated there)")
            if status == "not testable here":
                return Verdict(status, shown, run_part2(r, p))
            return verdict("inconclusive", f"{shown}; inconclusive: no interval (the page glues neither the value nor "
                           "an interval, from n 1 run)", run_part2(r, p))
    raise LedgerError(f"book/{p}.ipynb lists no projection {figure!r}")


@rule
def original_not_overfitting(r: Results) -> Verdict:
    """Judged on the original's own figures (its scale, exact as readings of what it reported): a best epoch
    before the last one run means validation got worse while training went on."""
    a = r.original("model_a")
    ratio = a["val_ppl"] / a["train_ppl"]
    run = run_original(r, "model_a")
    ev = Evidence(a["best_epoch"], fmt="d", exact=f"figures the original reported ({a['cite']})")
    fig = (f"model A's best validation epoch was {a['best_epoch']} of {a['epochs_planned']}, with early stopping "
           f"not triggered, and validation PPL {a['val_ppl']} is {ratio:.2f}x its train PPL {a['train_ppl']} "
           f"(exact: figures the original reported, {a['cite']})" + ("" if a.get("val_ppl_by_epoch") else
                                                                   "; the per-epoch log of that run is not in the "
                                                                   "repository"))
    log = a.get("val_ppl_by_epoch")  # absent: the repository keeps no per-epoch log of model A's run
    if log:
        best = min(range(len(log)), key=log.__getitem__)
        rise = log[-1] / log[best] - 1
        fig += f"; the log's validation PPL ends {rise:+.1%} above its best (epoch {best + 1} of {len(log)})"
        return verdict("refuted" if rise > 0.05 else "supported", fig, run, ev)
    if a["best_epoch"] < a["epochs_planned"] and not a["early_stopping_triggered"]:
        return verdict("not supported", fig, run, ev)
    return verdict("supported", fig, run, ev)


@rule
def model_b_changes(r: Results) -> Verdict:
    """Code reading: did model B differ from model A only in what 003 says?"""
    b = r.original("model_b")
    extra = [d for d in b["code_differences"] if d not in b["stated_changes"]]
    stated = ", ".join(b["stated_changes"])
    ev = Evidence(len(extra), fmt="d", exact=f"a reading of the original's scripts ({b['code_cite']})")
    status, ev = weigh(ev, 0, 0)
    if extra:
        return verdict(status, f"003 names {stated} ({b['stated_cite']}); the script also differs: "
                       f"{'; '.join(extra)}; {ev}", RunScale("the original's scripts"), ev)
    return verdict(status, f"the scripts differ only in {stated}; {ev}", RunScale("the original's scripts"), ev)


@rule
def ppl_range_normal(r: Results) -> Verdict:
    """003 calls 200-300 the normal validation PPL of a medium model on WikiText-2, to excuse model A's 216.
    Judged by a plain transformer of model A's size trained here on WikiText-2 to its best epoch, over seeds,
    where this book ran one: supported when its whole interval lies in 200-300, refuted when it lies wholly
    outside, else inconclusive. Otherwise by the original's own plain baseline on WikiText-2: a figure the
    original reported is exact as evidence of what it reported, so it supports the range when inside it; outside,
    one model is evidence against a range of what is "normal", not its refutation: "not supported"."""
    p = "p2_training"
    a, base = r.original("model_a"), r.original("baseline_no_iit")
    ours = _seeds(r, p, "ppl_plain", r(p, "n_seeds"))
    theirs = Evidence(base["val_ppl"], fmt="g", exact=f"a figure the original reported, after {base['epoch']} epochs "
                      f"of its plain baseline ({base['cite']}; one run)")
    run = run_part2(r, p)
    fig = (f"a plain transformer trained here reaches validation PPL {ours} ({run.what}); the original's own plain "
           f"baseline on {a['data']} reached {theirs}, against model A's {a['val_ppl']}")
    if run.data == a["data"] and run.params is not None and run.params >= a["params"]:
        status, ours = weigh(ours, 200, 300)
        return verdict(status, fig + "; this book's run is at model A's size on its corpus, so it judges", run, ours)
    status, theirs = weigh(theirs, 200, 300)
    if status == "refuted":  # one model outside a claimed "normal range" is evidence against it, not a refutation
        status = "not supported"
        fig += ("; one plain model of the original's own code outside the range counts against calling 200-300 "
                "normal, but a range of what is normal is not refuted by one model")
    return verdict(status, fig + "; this book's run is not at model A's size on its corpus, so the original's own "
                   "figure judges", RunScale(f"the original's own plain baseline on {a['data']}", None, a["data"]),
                   theirs)
