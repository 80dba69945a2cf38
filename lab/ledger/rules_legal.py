"""The rules of Part III (the legal LoRA plan, 002): each reads p3_legal_lora's glued figures, with their intervals,
and asks the ledger's standard (``evidence``) for the verdict against the plan's own criteria (``lab.legal.criteria``)."""
from __future__ import annotations

import math

from ..legal import criteria as legal_plan
from .claims import Verdict, rule
from .evidence import Evidence, ci, combine, verdict, weigh
from .results import Results, run_part3

PLAN_TASKS = ("jurisdiction", "topic")  # the plan's two accuracy criteria; cloze is the book's addition


def _legal(r: Results, task: str, threshold: float, label: str) -> Verdict:
    p = "p3_legal_lora"
    status, ev = weigh(_bootstrap(r, f"p3_{task}", f"p3_{task}_lora"), threshold)
    return verdict(status, f"{label} {ev} against {threshold:.2f}; majority class "
                   f"{r(p, f'p3_{task}_majority'):.3f}, random {r(p, f'p3_{task}_random'):.3f}", run_part3(r), ev)


def _bootstrap(r: Results, name: str, value: str | None = None) -> Evidence:
    """A Part III figure with its bootstrap interval over seeds and test examples (n: the seeds)."""
    p = "p3_legal_lora"
    return Evidence(r(p, value or name), r(p, f"{name}_low"), r(p, f"{name}_high"), n=r(p, "p3_seeds"),
                    unit="seeds (and their test examples)", method="bootstrap over seeds and test examples")


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
    done, seeds = r(p, "p3_plateaued_seeds"), r(p, "p3_seeds")
    ev = Evidence(*r.interval(p, "p3_loss_reduction"), n=seeds, unit="seeds", method="t interval over seeds")
    fig = (f"validation-loss reduction {ev}; {done} of {seeds} seeds stopped "
           "because their validation loss stopped improving")
    status, ev = weigh(ev, math.nextafter(legal_plan.LOSS_REDUCTION, math.inf))
    if done < seeds:
        return verdict("refuted" if status == "refuted" else "not supported",
                       fig + "; the others were still learning at the step cap", run_part3(r), ev)
    return verdict(status, fig, run_part3(r), ev)


@rule
def legal_beats_random(r: Results) -> Verdict:
    """Judged on the plan's tasks: supported when each beats random (its interval above 0 and every adapter's Holm
    p < 0.05, over test examples; the page glues the largest); refuted when one is significantly *below* random
    (interval below 0 and Holm p < 0.05); not supported when none is worse but all point below; else
    inconclusive. The book's added cloze task is shown beside them, not judged."""
    p = "p3_legal_lora"
    parts, judged, below = [], [], []
    for t in PLAN_TASKS:
        ev, pv = _bootstrap(r, f"p3_{t}_vs_random"), r(p, f"p3_{t}_vs_random_p_holm")
        if r.has(p, f"p3_{t}_vs_random_n"):
            ev = Evidence(ev.estimate, ev.low, ev.high, n=r(p, f"p3_{t}_vs_random_n"), unit="test examples",
                          method="bootstrap over seeds and test examples")
        status, ev = weigh(ev, math.nextafter(0.0, math.inf))
        parts.append(f"{t} {ev} (largest Holm p over the adapters {pv:.4f})")
        judged.append(("inconclusive" if pv >= legal_plan.P_VS_RANDOM and status in ("supported", "refuted")
                       else status, ev))
        below.append(ev.estimate <= 0)
    statuses = [s for s, _ in judged]
    status = ("refuted" if "refuted" in statuses else "supported" if all(s == "supported" for s in statuses)
              else "not supported" if all(below) else "inconclusive")
    extra = ""
    if r.has(p, "p3_cloze_vs_random"):
        extra = f"; the book's added cloze task: {ci(*(r(p, f'p3_cloze_vs_random{s}') for s in ('', '_low', '_high')))}"
    return verdict(status, "LoRA minus random, per task: " + "; ".join(parts) + extra, run_part3(r),
                   *[e for s, e in judged if status not in ("supported", "refuted") or s == status])


@rule
def legal_gain_over_base(r: Results) -> Verdict:
    p = "p3_legal_lora"
    lora, base = r(p, "p3_jurisdiction_lora"), r(p, "p3_jurisdiction_base")
    maj, rnd = r(p, "p3_jurisdiction_majority"), r(p, "p3_jurisdiction_random")
    topic, topic_maj = r(p, "p3_topic_lora"), r(p, "p3_topic_majority")
    where = "below" if base < rnd else "above"
    fairer = ""
    if r.has(p, "p3_jurisdiction_calibrated"):
        fairer = (f"; the fairer references: the calibrated zero-shot model {r(p, 'p3_jurisdiction_calibrated'):.3f}, "
                  f"a frozen-feature probe {r(p, 'p3_jurisdiction_probe'):.3f}")
    gain = legal_plan.GAIN_OVER_BASE
    status, ev = weigh(_bootstrap(r, "p3_jurisdiction_vs_base"), math.nextafter(gain, math.inf))
    return verdict(status, f"jurisdiction accuracy gain over the zero-shot base model {ev} "
                   f"against +{gain:.2f}; the base model's {base:.3f} is {where} random ({rnd:.3f}), majority class "
                   f"{maj:.3f}: over the majority class LoRA ({lora:.3f}) gains {lora - maj:+.3f}, and on topic "
                   f"{topic - topic_maj:+.3f} ({topic:.3f} against {topic_maj:.3f}){fairer}", run_part3(r), ev)


@rule
def legal_latency(r: Results) -> Verdict:
    """Both parts with their intervals: the int8 median latency below the plan's bound, and its agreement with
    fp32 at least the plan's share (Wilson over test examples); without intervals, single values only point."""
    p = "p3_legal_lora"
    n = r(p, "p3_int8_agreement_n") if r.has(p, "p3_int8_agreement_n") else None
    ms = Evidence(*r.interval(p, "p3_int8_p50_ms"), unit="timed calls", method="bootstrap over timed calls",
                  fmt=".0f")
    agree = Evidence(*r.interval(p, "p3_int8_agreement"), n=n, unit="classification test examples",
                     method="interval over test examples", fmt=".1%")
    fast, ms = weigh(ms, -math.inf, math.nextafter(legal_plan.LATENCY_MS, -math.inf))
    same, agree = weigh(agree, legal_plan.INT8_AGREEMENT)
    return verdict(combine([fast, same]), f"int8 median latency {ms} ms on this book's CPU, one thread; same class "
                   f"as fp32 on {agree} (machine-dependent)", run_part3(r),
                   *[e for s, e in ((fast, ms), (same, agree)) if s == combine([fast, same]) or
                     combine([fast, same]) not in ("supported", "refuted")])
