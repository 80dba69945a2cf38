"""Rules judged by reading the originals: their code, their own logged figures and the plan's own numbers
(``data/originals.yml``, each cited), never a run of this book. Their logic holds at any scale, so their claims
say ``independent`` in ``data/claims.yml``. Also the helpers that read the original controlled-dynamics run, which
the ranking rules of ``rules`` fall back on when this book did not run models of that size."""
from __future__ import annotations

import math

from ..legal import criteria as legal_plan
from .claims import RunScale, Verdict, rule
from .evidence import Evidence, verdict
from .results import Results

# ---------------------------------------------------------------- the original controlled-dynamics run (001)


def lcd_run(r: Results) -> RunScale:
    """The original's own run of its two 7-8B models: its figures are at 001's scale (the smaller model's size)."""
    run = r.original("lcd_run")
    return RunScale(run["what"], min(run["models"].values()))


def lcd_impacts(r: Results) -> dict[str, float]:
    """The original's impact per experiment: mean |Δmem| over its models (its rank_experiments_by_impact)."""
    delta = r.original("lcd_run", "delta_mem")
    return {x: sum(abs(d[x]) for d in delta.values()) / len(delta) for x in next(iter(delta.values()))}


def lcd_noise(r: Results) -> tuple[float, str]:
    """The spread (max - min) of the control calls that sent one identical prompt, the smallest over the models:
    a gap narrower than that could come from resampling a single call."""
    spreads = {m: (min(c.values()), max(c.values())) for m, c in r.original("lcd_run", "control_mem").items()}
    noise = min(hi - lo for lo, hi in spreads.values())
    text = ", ".join(f"{m} {lo:.3f} to {hi:.3f}" for m, (lo, hi) in spreads.items())
    return noise, (f"its control calls for the identical A-D prompt range over {text} (one call each, "
                   f"{r.original('lcd_run', 'control_cite')}), so a gap below {noise:.3f} is within resampling")


def lcd_levels_off_their_level(r: Results) -> list[str]:
    """The original's action levels whose code acts on something other than what the level is named after."""
    return [lv for lv, a in r.original("lcd_actions", "levels").items() if a["acts_on"] != lv]


def _reading(what: str) -> RunScale:
    return RunScale(what)


def _exact(status: str, figure: str, what: str) -> Verdict:
    """A verdict read off the originals: exact by construction (a reading of code, arithmetic on reported figures
    or on a configuration), as the ledger's standard allows (``evidence``), the figure saying so."""
    return verdict(status, f"{figure} (exact: {what})", _reading(what), Evidence(math.nan, exact=what))


# ---------------------------------------------------------------- 001: the framework's components


@rule
def original_action_levels(r: Results) -> Verdict:
    """001's "3 levels: token, embedding, logit": supported when every level's code acts at that level."""
    a = r.original("lcd_actions")
    off = lcd_levels_off_their_level(r)
    at = len(a["levels"]) - len(off)
    fig = (f"{len(a['levels'])} levels are named ({a['stated_cite']} states {a['stated_levels']}); "
           + "; ".join(f"{lv}: {x['how']}" for lv, x in a["levels"].items())
           + f" ({a['cite']}): {at} of {a['stated_levels']} act at the level they are named after")
    status = "supported" if not off and len(a["levels"]) >= a["stated_levels"] else "refuted"
    return _exact(status, fig, "a reading of the original code")


@rule
def original_metric_suite(r: Results) -> Verdict:
    """001's "10+ rigorous metrics": the metrics the code computes, less those that fail on their own reference
    text (they rank an empty reply closer than a verbatim continuation, or a verbatim continuation cannot reach
    their own pass mark); supported when at least the stated number remain."""
    m = r.original("lcd_metrics")
    computed, fails = m["computed"], m["fails"]
    sound = [x for x in computed if x not in fails]
    fig = (f"{len(computed)} metrics are computed per response ({', '.join(computed)}); "
           f"{', '.join(m['defined_never_computed'])} is defined but never computed ({m['cite']}): as a count, "
           f"'{m['stated']}+' {'holds' if len(computed) >= m['stated'] else 'fails'}; "
           f"{len(fails)} of them fail on the original's own text: "
           + "; ".join(f"{k}: {v}" for k, v in fails.items()) + f" ({m['fails_cite']}); {len(sound)} remain")
    status = "supported" if len(computed) >= m["stated"] and len(sound) >= m["stated"] else "refuted"
    return _exact(status, fig, "a reading of the original code, run on its own canonical text")


# ---------------------------------------------------------------- 000 / 001: the attractor validations


def _continuation_ceiling(r: Results) -> float:
    """The most a reply that does not repeat the prompt can score: exact match and leading words are then 0,
    so only the overlap term is left (at most its weight)."""
    w = r.original("lcd_attractors", "score_weights")
    return w["overlap"]


@rule
def attractor_command_expectation(r: Results, attractor: str, model: str, above: float) -> Verdict:
    """000's check before scaling up: the named validation command run on ``model`` should score ``attractor``
    above ``above``. Judged by what that command runs and the original's own logs of it, and by the score's
    ceiling for a reply that continues the prompt."""
    a = r.original("lcd_attractors")
    ran = [model] if a["reads_models_flag"] else list(a["models"])
    logged = {m: a["logged"][m][attractor] for m in ran if attractor in a["logged"].get(m, {})}
    ceiling = _continuation_ceiling(r)
    fig = (f"the command {'runs' if model in ran else 'ignores --models and runs'} {', '.join(ran)} "
           f"({a['script_cite']}); the original logged {attractor} at "
           + (", ".join(f"{v:.3f} ({m})" for m, v in logged.items()) or "nothing")
           + f" ({a['logged_cite']}). On its score a reply that continues the prompt without repeating it scores "
           f"at most {ceiling:.1f} ({a['score_cite']}); the verbatim {attractor} continuation scores "
           f"{a['continuation'][attractor]:.2f}, so more than {above} needs the prompt echoed, not recall")
    if model in logged:
        return _exact("supported" if logged[model] > above else "refuted", fig, "the original's logs")
    if ceiling < above or (model not in ran and logged and all(v <= above for v in logged.values())):
        return _exact("refuted", fig, "a reading of the original script and score")
    return Verdict("not testable here", fig + f"; no run of {model} is logged")


@rule
def small_models_max_memorization(r: Results) -> Verdict:
    """001's evidence for the threshold: the largest score of its 7-8B models, and the 70B+ figure. The first is
    checked against the original's own logs of the attractors 001 counts; the second needs a logged 70B+ run."""
    a = r.original("lcd_attractors")
    small, large = a["stated"]["small_max"], a["stated"]["large"]
    best = max(((v, m, t) for m, scores in a["logged"].items() for t, v in scores.items() if m in a["models"]))
    n = len({t for m in a["models"] for t in a["logged"][m]})
    big = {m: max(s.values()) for m, s in a["logged"].items() if m not in a["models"]}
    fig = (f"the original logged its two 7-8B models on {n} attractors; the highest score is {best[0]:.3f} "
           f"({best[1]}, {best[2]}) against the stated maximum {small:.3f} ({a['logged_cite']}); the {large} for "
           f"70B+ models is quoted from the literature: "
           + (", ".join(f"{m} {v:.3f}" for m, v in big.items()) if big else "no 70B+ model was run")
           + f", and on this score a reply that continues the prompt without repeating it scores at most "
           f"{_continuation_ceiling(r):.1f} ({a['score_cite']})")
    run = "the original's logged attractor scores and its score's arithmetic"
    if not math.isclose(best[0], small, abs_tol=5e-4):
        return _exact("refuted", fig, run)
    if big:
        return _exact("supported" if max(big.values()) >= large - 5e-4 else "refuted", fig, run)
    return _exact("not supported", fig, run)


# ---------------------------------------------------------------- 003: what the training scripts did


@rule
def original_training_setting(r: Results, setting: str) -> Verdict:
    """003's training environment (gradient accumulation, mixed precision) against the scripts of its two runs."""
    t = r.original("infinito_training")
    stated = t["stated"]
    if setting == "accumulation":
        claimed = f"accumulation {stated['accumulation']}, effective batch {stated['effective_batch']}"
        found = {s: (v["accumulation"], v["batch"] * v["accumulation"]) for s, v in t["scripts"].items()}
        ok = all(f == (stated["accumulation"], stated["effective_batch"]) for f in found.values())
        shown = "; ".join(f"{s}: batches of {t['scripts'][s]['batch']}, accumulation {a} (an optimizer step "
                          f"every {a} batch{'es' if a > 1 else ''}), effective batch {e}"
                          for s, (a, e) in found.items())
    else:
        claimed = stated["precision"]
        ok = all(v["precision"] == stated["precision"] for v in t["scripts"].values())
        shown = "; ".join(f"{s}: {v['precision']}" for s, v in t["scripts"].items())
    fig = f"003 states {claimed} ({t['stated_cite']}); the scripts: {shown} ({t['cite']})"
    return _exact("supported" if ok else "refuted", fig, "a reading of the original training scripts")


@rule
def phi_weights_learned(r: Results) -> Verdict:
    """003: model A "learned to prioritise" complexity and attention, the others being less relevant to
    WikiText-2. Refuted if the reported weights of those two did not rise; otherwise the mechanism is judged by
    the objective's arithmetic: with its target above the largest weighted sum the weights can reach, the loss
    always raises that sum, moving weight to whichever components are largest on any text ("not supported": the
    observation stands, the reading of it does not)."""
    p = r.original("phi_weights")
    init, end = p["initial"], p["reported"]
    rose = all(end[k] > init[k] for k in p["claimed_preferred"])
    target = min(p["targets"])
    complexity = 1 / (1 + math.exp(-p["complexity_gain"] * p["layernorm_variance"]))
    fig = (f"the weights moved from {', '.join(f'{k} {v:.2f}' for k, v in init.items())} to "
           f"{', '.join(f'{k} {v:.3f}' for k, v in end.items())} ({p['reported_cite']}); the objective pulls the "
           f"weighted sum (at most {p['component_max']:g}: the weights sum to 1 and each component lies in [0, 1]) "
           f"towards {target:g} or more ({p['targets_cite']}), so its gradient always raises the sum and weight "
           f"flows to the components above it, on any corpus; complexity is sigmoid({p['complexity_gain']:g} x "
           f"variance) of a LayerNorm output, {complexity:.5f} at unit variance ({p['cite']})")
    run = "a reading of the original objective and metrics"
    if not rose:
        return _exact("refuted", fig, run)
    return _exact("not supported" if target > p["component_max"] else "supported", fig, run)


# ---------------------------------------------------------------- 002: the plan's own numbers


def _lora_count(shape: dict, r_: int, modules: list[str]) -> int:
    """Trainable LoRA parameters: r x (in + out) for each adapted matrix of each layer."""
    d, q, kv, ff = shape["hidden"], shape["heads"] * shape["head_dim"], shape["kv_heads"] * shape["head_dim"], \
        shape["intermediate"]
    dims = {"q_proj": (d, q), "k_proj": (d, kv), "v_proj": (d, kv), "o_proj": (q, d), "gate_proj": (d, ff),
            "up_proj": (d, ff), "down_proj": (ff, d)}
    return shape["layers"] * sum(r_ * sum(dims[m]) for m in modules)


@rule
def lora_trainable_parameters(r: Results, tolerance: float) -> Verdict:
    """002's "~1B total, ~2M trainable (LoRA)", the trainable part counted from its own LoRA configuration on its
    own base model; "~" is read as within a factor of ``tolerance``."""
    plan, lora = r.original("plan_model"), r.original("plan_lora")
    n = _lora_count(plan["shape"], lora["r"], lora["target_modules"])
    ratio, total = n / lora["stated_trainable"], plan["params"] / lora["stated_total"]
    s = plan["shape"]
    fig = (f"{plan['params'] / 1e9:.2f}B total ({plan['cite']}), {total:.2f}x the stated ~1B; "
           f"r {lora['r']} on {', '.join(lora['target_modules'])} of {plan['name']} ({s['layers']} layers, hidden "
           f"{s['hidden']}, {s['heads']} query and {s['kv_heads']} key-value heads of {s['head_dim']}, intermediate "
           f"{s['intermediate']}; {plan['shape_cite']}) trains {n:,} parameters, r x (in + "
           f"out) per adapted matrix ({lora['cite']}): {ratio:.2f}x the stated {lora['stated_trainable'] / 1e6:g}M, "
           f"against a tolerance of a factor {tolerance:g} for '~'")
    within = all(1 / tolerance <= x <= tolerance for x in (ratio, total))
    return _exact("supported" if within else "refuted", fig, "arithmetic on the plan's configuration")


def _combined(readings: list[tuple[str, str, str]], decides: str | None) -> tuple[str, str]:
    """One verdict from several readings of the plan's words: the readings' common verdict; where they disagree,
    the reading the claim's own words single out (``decides``), else inconclusive."""
    statuses = {s for _, s, _ in readings}
    if len(statuses) == 1:
        status, how = statuses.pop(), "every reading agrees"
    elif decides is not None:
        status = next(s for name, s, _ in readings if name == decides)
        how = f"the readings disagree; the claim's own words single out '{decides}', which decides"
    else:
        status, how = "inconclusive", "the readings disagree and the plan's words decide neither"
    return status, "; ".join(f"reading '{name}': {text}: {s}" for name, s, text in readings) + f" ({how})"


@rule
def legal_deployment_size(r: Results) -> Verdict:
    """002's "<300MB quantized", read two ways: at int8 (one byte per parameter, what this book quantizes to), and
    at whatever precision, which 300 MB allows only below the lowest precision the plan names."""
    plan, q = r.original("plan_model"), r.original("plan_quantization")
    int8_mb = plan["params"] / 1e6
    bits = legal_plan.SIZE_MB * 1e6 * 8 / plan["params"]
    low_mb = plan["params"] * q["bits"] / 8 / 1e6
    readings = [("int8", "supported" if int8_mb < legal_plan.SIZE_MB else "refuted",
                 f"{int8_mb:,.0f} MB at one byte per parameter"),
                ("any precision", "supported" if bits >= q["bits"] else "refuted",
                 f"{legal_plan.SIZE_MB} MB holds {bits:.2f} bits per parameter, and the lowest precision the plan "
                 f"names is {q['bits']} bits ({q['cite']}), {low_mb:,.0f} MB")]
    status, text = _combined(readings, None)
    ours = r("p3_legal_lora", "p3_quantized_mb")
    return _exact(status, f"{plan['name']} has {plan['params'] / 1e9:.2f}B parameters ({plan['cite']}), against < "
                  f"{legal_plan.SIZE_MB} MB: {text}; this book's 135M model, quantized, is {ours:.0f} MB",
                  "arithmetic on the plan's model")


@rule
def lora_memory_reduction(r: Results, decides: str | None = None) -> Verdict:
    """002's "90%+ memory reduction vs 7B models (architectural advantage)", read two ways: the weights at equal
    precision (the parameter ratio), and the plan's int8 model against a 7B model at the 16 bits it is released in."""
    plan, big = r.original("plan_model"), r.original("seven_b_params")
    same = 1 - plan["params"] / big["params"]
    mixed = 1 - plan["params"] / (big["params"] * big["released_bytes_per_param"])
    cut = legal_plan.MEMORY_CUT
    readings = [("equal precision", "supported" if same >= cut else "refuted", f"{same:.1%} less memory"),
                ("int8 against 16-bit", "supported" if mixed >= cut else "refuted",
                 f"{mixed:.1%} less ({big['precision_cite']}), a cut that comes from the precision, not the "
                 "architecture")]
    status, text = _combined(readings, decides)
    return _exact(status, f"{plan['name']} ({plan['params'] / 1e9:.2f}B) against the smallest 7B model "
                  f"({big['params'] / 1e9:.2f}B, {big['cite']}), against {cut:.0%}: {text}",
                  "arithmetic on parameter counts")
