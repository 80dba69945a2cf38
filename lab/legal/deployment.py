"""Deployment of an adapter: the variants served (the base model, the adapter unmerged and merged, int8 dynamic and
weight-only), latency and memory of each in its own process, int8's agreement with float32 on the test split, and
sizes on disk."""
from __future__ import annotations

import ctypes
import gc
import math
import multiprocessing as mp
import queue as queues
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .. import models
from .data import Example, TaskSet
from .evaluate import INT8, VARIANTS, build_variant, class_scores, label_logprobs

def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak), in MB."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(f"no {field} in /proc/self/status")


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM, reset by exec, unlike getrusage's ru_maxrss,
    which a spawned child inherits from the parent it was forked from)."""
    try:
        return _status_mb("VmHWM")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _release_and_reset_peak() -> bool:
    """Return freed heap to the system and restart the peak count (Linux's clear_refs "5"), so that the
    peak measured next is that of serving queries, not of loading and converting the weights."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _measure(model, adapter_dir, variant, prompts, verbalisers, threads, repeats, queue):
    """Runs in a fresh process so that its memory belongs to this variant alone."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rss_start = peak_rss_mb()
    lm, tok = build_variant(model, adapter_dir, variant)
    load_peak = peak_rss_mb()
    reset = _release_and_reset_peak()
    label_logprobs(lm, tok, prompts[0], verbalisers)  # warm-up, not timed
    times, choices = [], []
    for _ in range(repeats):
        for p in prompts:
            t0 = time.perf_counter()
            choices.append(int(np.argmax(label_logprobs(lm, tok, p, verbalisers))))
            times.append(time.perf_counter() - t0)
    queue.put({"variant": variant, "latencies_s": times, "choices": choices[:len(prompts)],
               "serving_peak_mb": peak_rss_mb() if reset else math.nan,
               "load_peak_mb": load_peak, "rss_before_load_mb": rss_start})


def _result_of(proc, queue, variant: str, poll_s: float = 5.0) -> dict:
    """The measuring process's result, or a clear error as soon as it dies without one (an import error in the
    child, the out-of-memory killer) rather than a wait on an empty queue."""
    while True:
        try:
            return queue.get(timeout=poll_s)
        except queues.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"measuring {variant!r}: its process ended (exit code {proc.exitcode}) "
                                   "without a result; its error is above") from None


def median_interval(values, seed: int = 0) -> tuple[float, float, float]:
    """The median with scipy's bootstrap 95% interval (percentile method, 2,000 resamples)."""
    values = np.asarray(values, dtype=float)
    res = stats.bootstrap((values,), np.median, n_resamples=2000, confidence_level=0.95, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(np.median(values)), float(res.confidence_interval.low), float(res.confidence_interval.high)


def deployment_table(model: str, adapter_dir: str, taskset: TaskSet, examples: list[Example],
                     threads: int = 1, variants=VARIANTS, repeats: int = 3):
    """Latency per query (one classification: prompt pass + label scoring) and memory of each variant, each
    measured in its own process by the same harness: every example is timed ``repeats`` times, a query's
    latency is the median of its repeats, and the median over queries carries scipy's bootstrap interval over
    the queries. Memory: the peak while loading, and the peak while serving (counted afresh once loaded; the
    weights are mapped from their file and only become resident as the first query reads them, so the size
    right after loading would understate them).
    Also the share of these examples on which each variant picks the same class as the unmerged LoRA model."""

    prompts = [e.prompt for e in examples]
    verbalisers = [taskset.verbalisers[c] for c in taskset.labels]
    ctx = mp.get_context("spawn")
    results = []
    for variant in variants:
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure, args=(model, adapter_dir, variant, prompts, verbalisers, threads,
                                                  repeats, queue))
        proc.start()
        results.append(_result_of(proc, queue, variant))
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"measuring {variant!r} failed (exit code {proc.exitcode})")
    reference = next((r["choices"] for r in results if r["variant"] == "LoRA fp32 (unmerged)"), None)
    rows = []
    for r in results:
        ms = np.array(r["latencies_s"]).reshape(repeats, len(prompts)) * 1000
        per_query = np.median(ms, axis=0)
        p50, low, high = median_interval(per_query)
        rows.append({"variant": r["variant"], "queries": len(prompts), "repeats": repeats, "p50 ms": p50,
                     "p50 low": low, "p50 high": high, "p95 ms": np.percentile(per_query, 95),
                     "load peak MB": r["load_peak_mb"], "serving peak MB": r["serving_peak_mb"], "RSS after imports MB": r["rss_before_load_mb"],
                     "same class as LoRA fp32": (np.mean(np.array(r["choices"]) == np.array(reference))
                                                 if reference is not None else np.nan)})
    return pd.DataFrame(rows).set_index("variant").round(2)


MARGIN_BANDS = (0.0, 0.1, 0.5, math.inf)  # nats between the float32 model's first and second class


@dataclass(frozen=True)
class Int8Agreement:
    """An int8 variant against float32: agreement per task with its Wilson interval (``table``), the same within
    bands of the float32 margin between the first and second class (``by_margin``: are the disagreements
    near-ties?), the median absolute change of a class score (nats) and the median float32 margin."""
    table: pd.DataFrame
    by_margin: pd.DataFrame
    median_change: float
    median_margin: float


def int8_agreement(model: str, adapter_dir: str, tasks: dict[str, TaskSet], test: dict[str, list[Example]],
                   reference: dict[str, np.ndarray], variant: str = INT8) -> Int8Agreement:
    """An int8 variant's predictions on every classification test example against the float32 LoRA model's
    (``reference``: its class scores, from the same adapter), with the Wilson 95% interval of the agreement
    (scipy), within bands of the float32 margin, and the median changes (``Int8Agreement``)."""
    def wilson(same: int, n: int) -> tuple[float, float]:
        if n == 0:
            return math.nan, math.nan
        ci = stats.binomtest(same, n).proportion_ci(method="wilson")
        return ci.low, ci.high

    lm, tok = build_variant(model, adapter_dir, variant)
    rows, margins, agrees, changes = [], [], [], []
    for name, ts in tasks.items():
        if not ts.is_classification:
            continue
        fp32 = np.asarray(reference[name])
        int8 = class_scores(lm, tok, ts, test[name], progress=False)
        same_rows = int8.argmax(axis=1) == fp32.argmax(axis=1)
        ordered = np.sort(fp32, axis=1)
        margins.append(ordered[:, -1] - ordered[:, -2])
        agrees.append(same_rows)
        changes.append(np.abs(int8 - fp32).ravel())
        same, n = int(same_rows.sum()), len(same_rows)
        truth = np.array([ts.labels.index(e.label) for e in test[name]])
        rows.append({"task": name, "examples": n, "same class": same, "agreement": same / n,
                     **dict(zip(("low", "high"), wilson(same, n))),
                     "int8 accuracy": float(np.mean(int8.argmax(axis=1) == truth)),
                     "fp32 accuracy": float(np.mean(fp32.argmax(axis=1) == truth))})
    total, agree = sum(r["examples"] for r in rows), sum(r["same class"] for r in rows)
    rows.append({"task": "all", "examples": total, "same class": agree, "agreement": agree / total,
                 **dict(zip(("low", "high"), wilson(agree, total))), "int8 accuracy": np.nan, "fp32 accuracy": np.nan})
    table = pd.DataFrame(rows).set_index("task").round(4)
    margin, agreed = np.concatenate(margins), np.concatenate(agrees)
    bands = []
    for low, high in zip(MARGIN_BANDS[:-1], MARGIN_BANDS[1:]):
        inside = (margin >= low) & (margin < high)
        same, n = int(agreed[inside].sum()), int(inside.sum())
        bands.append({"float32 margin (nats)": f"{low} to {high}" if high < math.inf else f"{low} or more",
                      "examples": n, "same class": same, "agreement": same / n if n else math.nan,
                      **dict(zip(("low", "high"), wilson(same, n)))})
    return Int8Agreement(table, pd.DataFrame(bands).set_index("float32 margin (nats)").round(4),
                         float(np.median(np.concatenate(changes))), float(np.median(margin)))


def int8_sentence(agreement: Int8Agreement) -> str:
    """Why the int8 model disagrees where it does: the size of its score changes against the float32 margins."""
    bands = agreement.by_margin
    near, rest = bands.iloc[0], bands.iloc[1:]
    rest_n, rest_same = int(rest["examples"].sum()), int(rest["same class"].sum())
    total, same = int(agreement.table.loc["all", "examples"]), int(agreement.table.loc["all", "same class"])
    return (f"int8 moves a class's score by {agreement.median_change:.3f} nats at the median, against a "
            f"median float32 margin of {agreement.median_margin:.3f} nats between the first and second "
            f"class. Of the {total - same} disagreements out of {total}, {int(near['examples'] - near['same class'])} "
            f"are among the {int(near['examples'])} examples whose float32 margin is below "
            f"{MARGIN_BANDS[1]} nats; on the other {rest_n} the two models agree on {rest_same} "
            f"({rest_same / rest_n:.1%}).") if rest_n else "Every float32 margin is a near-tie."


def directory_mb(path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


SIZE_ROWS = ("base model weights (safetensors)", "LoRA adapter (safetensors)",
             "merged model, int8 dynamic (torch state dict)", "merged model, int8 weight-only (torch state dict)")


def size_table(model: str, adapter_dir: str):
    """Size on disk: the base model's weights, the LoRA adapter, and each int8 merged model's state dict."""
    import torch

    base = models.resolve(model)
    weights = sum(f.stat().st_size for f in Path(base).glob("*.safetensors")) / 2**20
    adapter = sum(f.stat().st_size for f in Path(adapter_dir).glob("adapter_model.*")) / 2**20
    quantized = []
    for variant in ("LoRA merged int8 (dynamic)", INT8):
        lm, _ = build_variant(model, adapter_dir, variant)
        with tempfile.TemporaryDirectory() as tmp:
            torch.save(lm.state_dict(), Path(tmp) / "int8.pt")
            quantized.append((Path(tmp) / "int8.pt").stat().st_size / 2**20)
        del lm
    return pd.DataFrame({"MB on disk": [weights, adapter, *quantized]}, index=list(SIZE_ROWS)).round(2)
