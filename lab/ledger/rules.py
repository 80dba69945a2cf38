"""The rules: each reads a part's glued figures through a ``Results`` and returns a ``Verdict`` with the scale of the
run it read. Every rule can return both "supported" and "refuted" (tests/unit/test_ledger_rules.py)."""
from __future__ import annotations

import math
from itertools import combinations

from ..legal import criteria as legal_plan
from .claims import LedgerError, RunScale, Verdict, reason, rule
from .readings import lcd_impacts, lcd_levels_off_their_level, lcd_noise, lcd_run
from .results import Results, run_ladder, run_original, run_part1, run_part2, run_part3, run_pretrained


def ci(value: float, low: float, high: float, fmt: str = ".3f") -> str:
    if any(map(math.isnan, (low, high))):
        return f"{value:{fmt}} (no interval: too few units, or every unit gave the same value)"
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def against(low: float, high: float, threshold: float) -> str:
    """supported: the whole 95% interval is past the threshold; refuted: all short of it; else inconclusive."""
    if low > threshold:
        return "supported"
    if high < threshold:
        return "refuted"
    return "inconclusive"


def ordering(figures: dict[str, tuple[float, float, float]], pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Judge claimed orderings X > Y from (estimate, low, high): held when the intervals are disjoint in the
    claimed direction, reversed when disjoint the other way, unresolved otherwise."""
    held, reversed_, notes = 0, 0, []
    for x, y in pairs:
        (_, xl, xh), (_, yl, yh) = figures[x], figures[y]
        if xl > yh:
            held += 1
        elif xh < yl:
            reversed_ += 1
            notes.append(f"{x} < {y}")
    if reversed_:
        return "refuted", notes
    if held == len(pairs):
        return "supported", notes
    return "inconclusive", notes


def _chain(order: list[str]) -> list[tuple[str, str]]:
    return list(combinations(order, 2))


def _drops(r: Results, actions, short: str = "drop") -> dict[str, tuple[float, float, float]]:
    """(estimate, low, high) per action of a figure p1_experiments glues as p1e_<short>_<action>."""
    return {a: tuple(r("p1_experiments", f"p1e_{short}_{a}{s}") for s in ("", "_low", "_high")) for a in actions}


def _ranked(figs: dict) -> str:
    return " > ".join(f"{a.replace('_seed', '')} {ci(*figs[a])}" for a in sorted(figs, key=lambda a: -figs[a][0]))


def _at_seed_scale(run: RunScale, r: Results) -> bool:
    """Whether this book's Part I run used a model at least as large as the smaller of the original's two."""
    return run.params is not None and run.params >= lcd_run(r).params


def _on_the_original(r: Results, pairs: list[tuple[str, str]], book: Verdict) -> tuple[str, str, list[str]]:
    """The claimed orderings judged on the original's own impacts: a pair holds, or is reversed, only when its gap
    exceeds the spread of the original's repeated control calls. Returns the status, the figure (with this book's
    run beside it, below the claim's scale) and the reversed pairs."""
    impacts, (noise, spread) = lcd_impacts(r), lcd_noise(r)
    status, notes = ordering({x: (v, v - noise / 2, v + noise / 2) for x, v in impacts.items()}, pairs)
    gaps = max(impacts.values()) - min(impacts.values())
    fig = ("on the original's own run, impact (mean |Δmem| over its two models): "
           + " > ".join(f"{x} {v:.3f}" for x, v in sorted(impacts.items(), key=lambda kv: -kv[1]))
           + f" ({r.original('lcd_run', 'delta_cite')}); the widest gap is {gaps:.3f}, and {spread}"
           + (f"; reversed: {', '.join(notes)}" if notes else "")
           + f". Beside it, this book's run ({book.run.what}, below the claim's scale) gives {book.status}: "
           + book.figure)
    return status, fig, notes


@rule
def action_impact_ranking(r: Results) -> Verdict:
    """C > B > A > D > E in Δ Mem: judged by this book's re-run of the original's own prompt edits where it ran a
    model of the original's size, else on the original's own figures, whose single calls resolve a gap only when
    it exceeds the spread of its repeated control calls."""
    seed = [f"{a}_seed" for a in "CBADE"]
    figs = _drops(r, seed)
    status, notes = ordering(figs, _chain(seed))
    book = Verdict(status, "drop in p(true continuation), original's prompt edits: " + _ranked(figs)
                   + (f"; reversed: {', '.join(n.replace('_seed', '') for n in notes)}" if notes else "")
                   + ". " + r("p1_experiments", "p1e_ranking_sentence"),
                   run_part1(r, "p1_experiments"))
    if _at_seed_scale(book.run, r):
        return book
    status, fig, _ = _on_the_original(r, _chain(list("CBADE")), book)
    return Verdict(status, fig, lcd_run(r))


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
    status, notes = ordering(figs, pairs)
    book = Verdict(status, "drop in generated tokens matching the true continuation, each action at its strongest "
                   "magnitude: " + _ranked(figs) + (f"; reversed: {', '.join(notes)}" if notes else "")
                   + "; rise in the unperturbed model's NLL of what was generated (nats per token), the other "
                   "common scale: " + _ranked(_drops(r, "ABCDE", "view"))
                   + "; drop in p(true continuation), where D measures its own bias: " + _ranked(_drops(r, "ABCDE"))
                   + " (an ordering of levels holds only for the magnitudes run: their units differ)",
                   run_part1(r, "p1_experiments"))
    if _at_seed_scale(book.run, r):
        return book
    status, fig, _ = _on_the_original(r, pairs, book)
    off = lcd_levels_off_their_level(r)
    if off:
        status = "not supported"
        fig = (f"the original's {' and '.join(off)} 'levels' edit the prompt's text ("
               f"{r.original('lcd_actions', 'cite')}), so its figures rank prompt wordings, not levels; " + fig)
    return Verdict(status, fig, lcd_run(r))


def _original_robustness(r: Results, shown: str) -> Verdict:
    """001's ranking on the original's own Δmem, by its report's definition (1 - |mean Δmem|) and by the book's
    (1 - mean |Δmem|, also the original's own figure). One call per cell gives no interval: a reversal is "not
    supported", an agreement "inconclusive"."""
    delta = r.original("lcd_run", "delta_mem")
    signed = {m: 1 - abs(sum(d.values()) / len(d)) for m, d in delta.items()}
    absolute = {m: 1 - sum(map(abs, d.values())) / len(d) for m, d in delta.items()}
    mistral, llama = (next(m for m in delta if key in m) for key in ("Mistral", "Llama"))
    fig = (f"on the original's own Δmem ({r.original('lcd_run', 'delta_cite')}): 1 - |mean Δmem| (its report) gives "
           f"Mistral-7B {signed[mistral]:.3f} against Llama-3-8B {signed[llama]:.3f}; 1 - mean |Δmem| (this book's, "
           f"and the original's own figure; {r.original('lcd_run', 'robustness_cite')}) gives Mistral-7B "
           f"{absolute[mistral]:.3f} against Llama-3-8B {absolute[llama]:.3f}: under the signed mean Mistral's "
           f"{min(delta[mistral].values()):+.3f} cancels its gains. One call per cell gives no interval. Mistral-7B "
           "and Llama-3-8B are not both among the models this book's page ran (the gpu-hub profile runs both on a "
           f"reader's GPU); the same score on the models it ran: {shown}")
    return Verdict("not supported" if absolute[mistral] < absolute[llama] else "inconclusive", fig, lcd_run(r))


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
    (m, mlo, mhi), (l, llo, lhi) = (r.interval(p, f"p1e_robustness_{k}") for k in named.values())
    fig = f"Mistral-7B {ci(m, mlo, mhi)} against Llama-3-8B {ci(l, llo, lhi)} (robustness = 1 - mean |Δ Mem|)"
    if any(map(math.isnan, (mlo, mhi, llo, lhi))):
        return Verdict("inconclusive", fig + "; without intervals two point estimates judge no gap", run_part1(r, p))
    if mlo > lhi:
        return Verdict("supported", fig, run_part1(r, p))
    if mhi < llo:
        return Verdict("refuted", fig, run_part1(r, p))
    return Verdict("inconclusive", fig + "; the intervals overlap", run_part1(r, p))


# Attractors whose continuation follows from a rule visible in the prompt: reproducing them needs no memory.
RULE_GENERATED = ("counting", "alphabet")


@rule
def small_models_do_not_memorize(r: Results) -> Verdict:
    """Judged on the pretrained models and natural texts, the setting the claim is about. The canaries of the
    ladder are shown, not judged: random strings and unseen text planted in a stream are not that setting."""
    p = "p5_memorization_scale"
    k, n = r(p, "p5_pretrained_extractable"), r(p, "p5_pretrained_tested")
    texts = [t for t in (r(p, "p5_pretrained_extractable_texts") or "").replace("none", "").split(", ") if t]
    natural = [t for t in texts if t not in RULE_GENERATED]
    top, tlo, thi = (r(p, x) for x in ("p5_top_rate", "p5_top_rate_low", "p5_top_rate_high"))
    fig = (f"the pretrained models reproduce {k} of {n} (model, attractor) pairs 32 tokens verbatim: "
           f"{', '.join(texts) or 'none'}; natural texts among them: {', '.join(natural) or 'none'} "
           f"({', '.join(RULE_GENERATED)} follow a rule the prompt shows). Not judged: the largest byte-level model "
           f"trained here reproduces a share {ci(top, tlo, thi, '.2f')} (Wilson) of the canaries seen "
           f"{r(p, 'p5_top_duplicates')} times per epoch")
    return Verdict("refuted" if natural else "supported", fig, run_pretrained(r))


@rule
def memorization_threshold_70b(r: Results) -> Verdict:
    p = "p5_memorization_scale"
    first, top_low = r(p, "p5_first_extracting_log10"), r(p, "p5_top_rate_low")
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
    near = math.log10(70e9) - 0.5  # within half a decade of 70B
    if math.isfinite(first) and top_low > 0 and first < near:
        return Verdict("refuted", f"extraction appears from 10^{first:.1f} parameters (the largest model "
                       f"reproduces a share of at least {top_low:.2f} of its canaries, Wilson 95% lower bound); "
                       + fig, run_ladder(r))
    if math.isfinite(first) and top_low > 0:
        return Verdict("supported", f"extraction appears only from 10^{first:.1f} parameters; " + fig, run_ladder(r))
    return Verdict("inconclusive", f"no model extracts its canaries beyond chance; " + fig, run_ladder(r))


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


@rule
def wikitext_ppl_reported(r: Results) -> Verdict:
    """Judges 003's two figures against models A and B trained by their own recipes, each over seeds with an
    interval (``model_a_recipe_ppl`` and ``_low``/``_high``); the scale gate lets that stand only for the
    original size on WikiText-2. One seed per recipe gives no interval, so no verdict."""
    p = "p2_training"
    ppl, lo, hi = (r(p, k) for k in ("ppl_iit", "ppl_iit_low", "ppl_iit_high"))
    ratio, n = r(p, "ratio"), r(p, "n_seeds")
    fig = (f"the fixed model with the IIT term reaches validation PPL {ci(ppl, lo, hi, '.1f')} ({n} seeds, "
           f"{ratio:.3g} parameters per token)")
    runs = {m.upper(): (*r.interval(p, f"model_{m}_recipe_ppl"), r(p, f"reported_{m}")) for m in ("a", "b")}
    fig += "; " + "; ".join(f"model {m} by its recipe {ci(v, lo_, hi_, '.1f')} against the reported {rep}"
                            for m, (v, lo_, hi_, rep) in runs.items())
    fig += f" ({r(p, 'recipe_seeds_run')} seed(s) per recipe)"
    if any(math.isnan(x) for v, lo_, hi_, _ in runs.values() for x in (lo_, hi_)):
        return Verdict("inconclusive", fig + "; without an interval a single run judges no reported figure",
                       run_part2(r, p))
    inside = [lo_ <= rep <= hi_ for v, lo_, hi_, rep in runs.values()]
    return Verdict("supported" if all(inside) else "refuted", fig, run_part2(r, p))


@rule
def memorization_score_protocol(r: Results) -> Verdict:
    """The threshold is a definition; what can be judged is whether a verbatim recall reaches it. That is
    arithmetic on the texts (the score of a perfect continuation), so it holds for any model."""
    p = "p1_attractors"
    below, n = r(p, "p1a_ceiling_below_07"), r(p, "p1a_n_attractors")
    top, top_text = r(p, "p1a_ceiling_max"), r(p, "p1a_ceiling_max_text")
    fig = (f"a perfect {r.parameter(p, 'max_new_tokens')}-token continuation scores below 0.7 for {below} of {n} "
           f"attractors (highest {top:.3f}, {top_text}): the score compares the continuation with the canonical "
           "text, prompt included (ebaenamar/llm-controlled-dynamics@8d5dda35:src/core/metrics.py)")
    return Verdict("refuted" if below else "supported", fig, RunScale(f"the score of a perfect continuation of {n} texts"))


@rule
def collate_bug_fake_ppl(r: Results) -> Verdict:
    """The claim has two parts: 18.99 is a false perplexity, and unshifted labels caused it. The second is judged
    by where one epoch of the copy bug leaves a model trained at the original's learning rate on an epoch of the
    original's length: far below 18.99 (under half), and the figure needs another cause (the page reads the
    original's pipelines) - "not supported", from one run; at or above it, "supported"; in between, "inconclusive".
    A curve at another learning rate cannot place 18.99: "inconclusive"."""
    p = "p2_collate_postmortem"
    fake, honest, reported = r(p, "fake"), r(p, "honest"), r(p, "reported_fake")
    run = run_part2(r, p)
    if not fake < honest / 5:
        return Verdict("refuted", f"unshifted labels give PPL {fake:.2f}, not far below the {honest:.2f} of the same "
                       f"model with shifted labels (reported {reported})", run)
    cross, epoch = r(p, "cross_step"), r(p, "steps_per_epoch")
    first = (f"unshifted labels give a false PPL ({fake:.2f} against {honest:.2f} with shifted labels, same "
             f"model and steps)")
    lr, original_lr = r.parameter(p, "curve_lr"), r.original("fake_ppl_run", "lr")
    if not math.isclose(lr, original_lr):
        # where one epoch of the bug ends depends on the learning rate: a curve at another one cannot place 18.99
        return Verdict("inconclusive", f"{first}; whether one epoch of the bug ends near {reported} is not judged: the "
                       f"copy curve ran at lr {lr:g}, the original at {original_lr:g} with an epoch of "
                       f"{r.original('fake_ppl_run', 'epoch_lines'):,} lines, so a curve at the original's settings is "
                       f"needed (this one passes {reported} at step {cross:.0f} of a {epoch:.0f}-step epoch)", run)
    at, step = r(p, "epoch1_ppl"), r(p, "epoch1_step")
    where = (f"at the original's lr {original_lr:g} and epoch of {r.original('fake_ppl_run', 'epoch_lines'):,} lines "
             f"({epoch:.0f} steps), the copy task passes {reported} at step {cross:.0f} and stands at {at:.2f} by step "
             f"{step:.0f} (one run)")
    if math.isnan(at):
        return Verdict("inconclusive", f"{first}; no evaluation of the copy curve falls within its first epoch", run)
    if at < reported / 2:
        return Verdict("not supported", f"{first}; but {where}, and the original's own copy-bug trainer stored "
                       f"{r(p, 'orig_epoch1'):.2f} after one epoch: one epoch of the bug gives far less than the "
                       "reported figure", run)
    if at >= reported:
        return Verdict("supported", f"{first}; {where}: one epoch of the copy task is still at or above the "
                       f"reported {reported}", run)
    return Verdict("inconclusive", f"{first}; {where}: below the reported figure by less than half", run)


@rule
def dropout_froze_phi_weights(r: Results) -> Verdict:
    p = "p2_training"
    m15, m25, plain = r(p, "move_iit_015"), r(p, "move_iit_025"), r(p, "move_plain")
    status = "refuted" if m25 >= 0.5 * m15 and m25 > 100 * plain else "supported"
    return Verdict(status, f"phi weights moved {m25:.4f} at dropout 0.25 and {m15:.4f} at 0.15 (largest change over "
                   f"the runs at each); {plain:.1e} with the phi loss off: the loss, not dropout, decides whether "
                   "they move", run_part2(r))


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
        return Verdict("not supported" if d25 >= d15 else "inconclusive",
                       fig + "; no interval of the difference, so neither supported nor refuted", run)
    d, lo, hi = (r(p, f"dropout_ppl_diff{s}") for s in ("", "_low", "_high"))  # PPL at 0.25 minus at 0.15
    if hi < 0:
        status = "supported"
    elif lo > 0:
        status = "refuted"
    else:
        status = "not supported" if d >= 0 else "inconclusive"
    return Verdict(status, fig + f"; difference {ci(d, lo, hi, '.1f')}", run)


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
    d, lo, hi = (r(p, f"rep_ratio_diff{s}") for s in ("", "_low", "_high"))
    status = "supported" if lo > 0 else "refuted" if hi < 0 else "inconclusive"
    return Verdict(status, f"greedy repetition at the highest ratio minus at the lowest {ci(d, lo, hi)}; " + fig,
                   run_part2(r, p))


@rule
def collapse_at_every_temperature(r: Results) -> Verdict:
    """Collapse at a temperature: repetition at least half of greedy decoding's. Refuted when one of the claim's
    temperatures falls below that, supported when all that ran stay above it."""
    p = "p2_mode_collapse"
    greedy = r(p, "rep_greedy_orig")
    temps = {t: r(p, k) for t, k in (("0.7", "rep_t07_orig"), ("1.0", "rep_t1_orig"), ("1.2", "rep_t12_orig"))
             if r.has(p, k) and math.isfinite(r(p, k))}
    fig = f"unigram repetition {greedy:.3f} under greedy decoding; " + ", ".join(
        f"{v:.3f} at T = {t}" for t, v in temps.items())
    if not temps:
        return Verdict("inconclusive", fig + "no sampled temperature ran", run_part2(r, p))
    status = "refuted" if any(v < 0.5 * greedy for v in temps.values()) else "supported"
    return Verdict(status, fig, run_part2(r, p))


@rule
def iit_memory_written(r: Results) -> Verdict:
    """A code fact at any size: the memory's write priority can never exceed its threshold (ORIGINAL_REPOS.md,
    B.6), and the count of writes in training shows it."""
    p = "p2_training"
    writes = r(p, "memory_writes")
    return Verdict("refuted" if writes == 0 else "supported",
                   f"the IIT-guided memory was written {writes} times over all training runs: its write priority "
                   "is at most 0.9 against a fixed threshold of 3.0 (webtilians/principiodelTodo@9a2da8af:"
                   "src/core/iit_guided_memory.py)", run_part2(r))


@rule
def iit_loss_helps(r: Results) -> Verdict:
    p = "p2_training"
    n = r(p, "n_seeds")
    d, lo, hi = r(p, "diff"), r(p, "diff_low"), r(p, "diff_high")
    status = "supported" if hi < 0 else "refuted" if lo > 0 else "inconclusive"
    return Verdict(status, f"the phi loss changes validation PPL by {ci(d, lo, hi, '.2f')} (paired t-interval, unit "
                   f"the seed, n {n}; lower in {r(p, 'n_negative')} of {n}; exact sign-flip p {r(p, 'diff_p'):.4f}, "
                   f"the smallest {n} pairs allow {r(p, 'diff_p_floor'):.4f})", run_part2(r))


def _listed(r: Results, page: str, name: str) -> list[str]:
    text = r(page, name)
    return [] if text in ("", "none") else text.split("; ")


def _span(low: float, high: float) -> str:
    return f"below {high:g}" if low == -math.inf else f"{low:g}" if low == high else f"{low:g} to {high:g}"


@rule
def projection(r: Results, figure: str, low: float, high: float) -> Verdict:
    """One projection of 004: judged on the original's own run where it measured the figure (its own scale),
    else as the expectations page judged it (which judges only at the projection's scope)."""
    for key in ("projection_run", "by_construction"):
        measured = r.original(key, "measured")
        if figure in measured:
            value = measured[figure]
            status = "supported" if low <= value <= high else "refuted"
            return Verdict(status, f"{value:g} against the projected {_span(low, high)} ("
                           f"{r.original(key, 'what')}; {r.original(key, 'cite')})", run_original(r, key))
    p = "p2_expectations"
    verdicts = {"supported": "supported_list", "refuted": "refuted_list", "not testable here": "untestable_list"}
    for status, name in verdicts.items():
        if figure in _listed(r, p, name):
            return Verdict(status, f"the expectations page judges it {status} "
                           f"(projected {_span(low, high)}; {r(p, 'n_params_run'):,} parameters, {r(p, 'n_layer_run')} "
                           "layers, on the corpus stated there)", run_part2(r, p))
    raise LedgerError(f"book/{p}.ipynb lists no projection {figure!r}")


@rule
def original_not_overfitting(r: Results) -> Verdict:
    """Judged on the original's own figures (its scale): a best epoch before the last one run means validation
    got worse while training went on."""
    a = r.original("model_a")
    ratio = a["val_ppl"] / a["train_ppl"]
    run = run_original(r, "model_a")
    fig = (f"model A's best validation epoch was {a['best_epoch']} of {a['epochs_planned']}, with early stopping "
           f"not triggered, and validation PPL {a['val_ppl']} is {ratio:.2f}x its train PPL {a['train_ppl']} "
           f"({a['cite']})" + ("" if a.get("val_ppl_by_epoch") else "; the per-epoch log of that run is not in the "
                                "repository"))
    log = a.get("val_ppl_by_epoch")  # absent: the repository keeps no per-epoch log of model A's run
    if log:
        best = min(range(len(log)), key=log.__getitem__)
        rise = log[-1] / log[best] - 1
        fig += f"; the log's validation PPL ends {rise:+.1%} above its best (epoch {best + 1} of {len(log)})"
        return Verdict("refuted" if rise > 0.05 else "supported", fig, run)
    if a["best_epoch"] < a["epochs_planned"] and not a["early_stopping_triggered"]:
        return Verdict("not supported", fig, run)
    return Verdict("supported", fig, run)


@rule
def model_b_changes(r: Results) -> Verdict:
    """Code reading: did model B differ from model A only in what 003 says?"""
    b = r.original("model_b")
    extra = [d for d in b["code_differences"] if d not in b["stated_changes"]]
    stated = ", ".join(b["stated_changes"])
    if extra:
        return Verdict("refuted", f"003 names {stated} ({b['stated_cite']}); the script also differs: "
                       f"{'; '.join(extra)} ({b['code_cite']})", RunScale("the original's scripts"))
    return Verdict("supported", f"the scripts differ only in {stated} ({b['code_cite']})",
                   RunScale("the original's scripts"))


@rule
def ppl_range_normal(r: Results) -> Verdict:
    """003 calls 200-300 the normal validation PPL of a medium model on WikiText-2, to excuse model A's 216.
    Judged by a plain transformer of that size trained on the same data to its best epoch, over seeds: supported
    when its whole interval lies in 200-300; refuted when it lies wholly outside (a plain model of that size
    does better, or worse, so the range is not what such a model reaches); else inconclusive. The scale gate
    lets it stand only for a run of the original's size on WikiText-2. The original's own plain baseline is
    quoted beside it: one run, no interval."""
    p = "p2_training"
    v, lo, hi = r.interval(p, "ppl_plain")
    base, a = r.original("baseline_no_iit"), r.original("model_a")
    fig = (f"a plain transformer reaches validation PPL {ci(v, lo, hi, '.1f')} ({r(p, 'n_seeds')} seeds); the "
           f"original's own plain baseline reached {base['val_ppl']} after {base['epoch']} epochs against model A's "
           f"{a['val_ppl']} ({base['cite']}; one run)")
    if any(math.isnan(x) for x in (lo, hi)):
        return Verdict("inconclusive", fig + "; without an interval one run judges no range", run_part2(r, p))
    if 200 <= lo and hi <= 300:
        status = "supported"
    elif hi < 200 or lo > 300:
        status = "refuted"
    else:
        status = "inconclusive"
    return Verdict(status, fig, run_part2(r, p))


def _legal(r: Results, task: str, threshold: float, label: str) -> Verdict:
    p = "p3_legal_lora"
    v, lo, hi = (r(p, k) for k in (f"p3_{task}_lora", f"p3_{task}_low", f"p3_{task}_high"))
    return Verdict(against(lo, hi, threshold), f"{label} {ci(v, lo, hi)} against {threshold:.2f}; majority class "
                   f"{r(p, f'p3_{task}_majority'):.3f}, random {r(p, f'p3_{task}_random'):.3f}", run_part3(r))


@rule
def legal_jurisdiction_accuracy(r: Results) -> Verdict:
    return _legal(r, "jurisdiction", legal_plan.EXPECTED["jurisdiction"][0], "jurisdiction accuracy")


@rule
def legal_concept_accuracy(r: Results) -> Verdict:
    return _legal(r, "topic", legal_plan.EXPECTED["topic"][0], "topic accuracy")


@rule
def legal_loss_reduction(r: Results) -> Verdict:
    """Convergence as the plan words it: the loss reduction past 50% (t interval over seeds), and every seed stopped
    by its plateau, not by the step cap. A seed still learning at the cap is training that did not converge."""
    p = "p3_legal_lora"
    v, lo, hi = (r(p, k) for k in ("p3_loss_reduction", "p3_loss_reduction_low", "p3_loss_reduction_high"))
    done, seeds = r(p, "p3_plateaued_seeds"), r(p, "p3_seeds")
    fig = (f"validation-loss reduction {ci(v, lo, hi)} (t interval over seeds); {done} of {seeds} seeds stopped "
           "because their validation loss stopped improving")
    if done < seeds:
        return Verdict("refuted" if hi < legal_plan.LOSS_REDUCTION else "not supported",
                       fig + "; the others were still learning at the step cap", run_part3(r))
    return Verdict(against(lo, hi, legal_plan.LOSS_REDUCTION), fig, run_part3(r))


PLAN_TASKS = ("jurisdiction", "topic")  # the plan's two accuracy criteria; cloze is the book's addition


@rule
def legal_beats_random(r: Results) -> Verdict:
    """Judged on the plan's tasks: supported when each beats random (every adapter's Holm p < 0.05, over test
    examples; the page glues the largest); refuted when one is
    significantly *below* random; not supported when none is worse but all point below; else inconclusive. The
    book's added cloze task is shown beside them, not judged."""
    p = "p3_legal_lora"
    parts, better, worse, below = [], [], [], []
    for t in PLAN_TASKS:
        d, lo, hi, pv = (r(p, f"p3_{t}_vs_random{s}") for s in ("", "_low", "_high", "_p_holm"))
        parts.append(f"{t} {ci(d, lo, hi)} (largest Holm p over the adapters {pv:.4f})")
        better.append(pv < legal_plan.P_VS_RANDOM and d > 0)
        worse.append(pv < legal_plan.P_VS_RANDOM and d < 0)
        below.append(d <= 0)
    status = ("supported" if all(better) else "refuted" if any(worse)
              else "not supported" if all(below) else "inconclusive")
    extra = ""
    if r.has(p, "p3_cloze_vs_random"):
        extra = f"; the book's added cloze task: {ci(*(r(p, f'p3_cloze_vs_random{s}') for s in ('', '_low', '_high')))}"
    return Verdict(status, "LoRA minus random, per task: " + "; ".join(parts) + extra, run_part3(r))


@rule
def legal_gain_over_base(r: Results) -> Verdict:
    p = "p3_legal_lora"
    d, lo, hi = (r(p, f"p3_jurisdiction_vs_base{s}") for s in ("", "_low", "_high"))
    lora, base = r(p, "p3_jurisdiction_lora"), r(p, "p3_jurisdiction_base")
    maj, rnd = r(p, "p3_jurisdiction_majority"), r(p, "p3_jurisdiction_random")
    topic, topic_maj = r(p, "p3_topic_lora"), r(p, "p3_topic_majority")
    where = "below" if base < rnd else "above"
    fairer = ""
    if r.has(p, "p3_jurisdiction_calibrated"):
        fairer = (f"; the fairer references: the calibrated zero-shot model {r(p, 'p3_jurisdiction_calibrated'):.3f}, "
                  f"a frozen-feature probe {r(p, 'p3_jurisdiction_probe'):.3f}")
    gain = legal_plan.GAIN_OVER_BASE
    return Verdict(against(lo, hi, gain), f"jurisdiction accuracy gain over the zero-shot base model {ci(d, lo, hi)} "
                   f"against +{gain:.2f}; the base model's {base:.3f} is {where} random ({rnd:.3f}), majority class "
                   f"{maj:.3f}: over the majority class LoRA ({lora:.3f}) gains {lora - maj:+.3f}, and on topic "
                   f"{topic - topic_maj:+.3f} ({topic:.3f} against {topic_maj:.3f}){fairer}", run_part3(r))


@rule
def legal_latency(r: Results) -> Verdict:
    ms, agree = r("p3_legal_lora", "p3_int8_p50_ms"), r("p3_legal_lora", "p3_int8_agreement")
    status = "supported" if ms < legal_plan.LATENCY_MS and agree >= legal_plan.INT8_AGREEMENT else "refuted"
    n = r("p3_legal_lora", "p3_int8_agreement_n") if r.has("p3_legal_lora", "p3_int8_agreement_n") else None
    return Verdict(status, f"int8 median latency {ms:.0f} ms on this book's CPU, one thread, same class as fp32 on "
                   f"{agree:.1%} of {f'{n} ' if n else ''}classification test examples (machine-dependent)",
                   run_part3(r))
