"""Predictions, metrics, confidence intervals and paired tests, and the deployed model's variants (merged, int8).

Latency, memory, int8 agreement and sizes are measured in ``lab.legal.deployment``; the plan's success criteria
are judged in ``lab.legal.success``.

Statistics (``lab.inference``): every training seed is scored on the same test examples, so seeds and examples
are crossed. Intervals resample both (the two-way bootstrap, ``inference.crossed``): they carry the variation
between training runs as well as that between test items. Tests name their unit: over seeds (does the recipe
beat the baseline? n = the seeds, exact sign-flip, p >= 2 / 2^n) and, for the plan's "p < 0.05 vs random",
over test examples within each trained adapter (does this model beat random on the test set?), Holm-adjusted.

Classification is label scoring: the class whose verbaliser (" Argentina", " capital y acciones", ...)
has the highest total log-likelihood after the prompt; the same rule serves the zero-shot base model and
the LoRA model. Cloze answers are greedy continuations up to the first newline or end-of-sequence.
"""
from __future__ import annotations

import math
import os
import re
import time
import unicodedata
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import inference, models
from .data import Example, TaskSet

RESAMPLES = 2000
MAX_ANSWER_TOKENS = 16
PREDICT_BATCH = 8  # prompts scored together (left-padded); larger batches gain little on 2 CPU cores
AUTOCAST = ("none", "bfloat16")  # the arithmetic a run may ask of training, validation and the probe's features


# ---------------------------------------------------------------- inference

def autocast_to(lm, mode: str):
    """The context in which ``lm``'s matrix products run in ``mode`` (one of ``AUTOCAST``): bfloat16 by
    ``torch.autocast`` on the model's device, or float32 as loaded ("none")."""
    import torch

    if mode not in AUTOCAST:
        raise ValueError(f"autocast must be one of {', '.join(AUTOCAST)}, not {mode!r}")
    return torch.autocast(lm.device.type, dtype=torch.bfloat16, enabled=mode == "bfloat16")


def encode(tok, text: str, special: bool = True) -> list[int]:
    return tok(text, add_special_tokens=special).input_ids


def length_order(tok, prompts: list[str]) -> np.ndarray:
    """Indices of ``prompts`` from the shortest to the longest in tokens: batches of neighbours in this order pad
    little (in the order of the legal test split, padding is 10 to 14% of what a batch computes)."""
    return np.argsort([len(encode(tok, p)) for p in prompts], kind="stable")


def vocabulary_logits(lm, hidden):
    """The model's next-token logits from its decoder's hidden states, as its own forward computes them (the
    output projection, then Gemma's final soft cap where the config sets one); called on chosen positions only."""
    import torch

    logits = lm.get_output_embeddings()(hidden)
    cap = getattr(lm.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def label_logprobs(lm, tok, prompt: str, verbalisers: list[str]) -> np.ndarray:
    """Total log-probability of each verbaliser after one prompt: ``label_logprobs_batch`` of one prompt."""
    return label_logprobs_batch(lm, tok, [prompt], verbalisers)[0]


def label_logprobs_batch(lm, tok, prompts: list[str], verbalisers: list[str], batch_size: int = PREDICT_BATCH,
                        progress: bool = False, desc: str = "score") -> np.ndarray:
    """(prompts x verbalisers) total log-probability of each verbaliser after each prompt.

    Prompts are batched in order of length and left-padded so that they all end at the same position, with
    position ids counted from each prompt's first real token; one pass over the batch computes the logits of the
    last position only (``logits_to_keep=1``: the vocabulary projection of every other prompt position is never
    needed). Then one more pass feeds every verbaliser of a prompt side by side after its key/value cache, each
    seeing the prompt and its own earlier tokens only (``packed_verbaliser_mask``), at the positions that follow
    the prompt. Equal to scoring each (prompt, verbaliser) sequence on its own, which
    tests/integration/test_legal_evaluate.py checks.
    """
    import torch
    from tqdm.auto import tqdm  # here: at the top, in a kernel, it warns before the chapter quiets it

    label_ids = [encode(tok, v, special=False) for v in verbalisers]
    k = len(label_ids)
    fed = [ids[:-1] for ids in label_ids]  # a verbaliser's last token is only predicted, never fed
    packed = [t for ids in fed for t in ids]
    starts = np.cumsum([0] + [len(ids) for ids in fed])
    segment = torch.tensor([j for j, ids in enumerate(fed) for _ in ids], dtype=torch.long)
    within = torch.tensor([t for ids in fed for t in range(len(ids))], dtype=torch.long)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    out_scores = np.zeros((len(prompts), k), dtype=np.float64)
    first_ids = torch.tensor([ids[0] for ids in label_ids])
    encoded_all = [encode(tok, p) for p in prompts]  # once: both the length order and the batches use it
    order = np.argsort([len(e) for e in encoded_all], kind="stable")  # length_order without a second tokenisation
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, disable=not progress, leave=False):
        encoded = [encoded_all[i] for i in order[start:start + batch_size]]
        n, width = len(encoded), max(len(e) for e in encoded)
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded], device=lm.device)
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded], device=lm.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            out = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
            first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # float32 here, whatever the model's dtype
            scores = first[:, first_ids.to(lm.device)].double().cpu().numpy()
            if packed:
                attention = packed_verbaliser_mask(lm, mask, segment, within)
                hidden = lm.get_decoder()(input_ids=torch.tensor([packed] * n, device=lm.device),
                                          attention_mask=attention,
                                          position_ids=positions[:, -1:] + 1 + within.to(lm.device),
                                          past_key_values=out.past_key_values, use_cache=True).last_hidden_state
                for j, ids_ in enumerate(label_ids):
                    if len(ids_) > 1:  # the vocabulary projection only where a verbaliser token is scored
                        logp = torch.log_softmax(vocabulary_logits(lm, hidden[:, starts[j]:starts[j + 1]]).float(), dim=-1)
                        tail = logp.gather(2, torch.tensor(ids_[1:], device=lm.device).expand(n, -1)[..., None])
                        scores[:, j] += tail.sum((1, 2)).double().cpu().numpy()
        out_scores[order[start:start + n]] = scores
    return out_scores


def packed_verbaliser_mask(lm, prompt_mask, segment, within):
    """The 4-D attention mask (prompts x 1 x packed tokens x (prompt + packed tokens)) under which each packed
    verbaliser token sees its prompt's real tokens and the earlier tokens of its own verbaliser, never another
    verbaliser's: what feeding each verbaliser alone after the prompt would show it. Boolean (True: may attend)
    for torch's scaled-dot-product attention, additive (0 or the dtype's minimum) for the eager one, the two
    forms transformers takes a ready 4-D mask in. (Home-made: transformers builds such masks only for its own
    packing of whole sequences, not for branches that share one prefix.)"""
    import torch

    n, width, length = prompt_mask.shape[0], prompt_mask.shape[1], segment.numel()
    own = (segment[:, None] == segment[None, :]) & (within[:, None] >= within[None, :])
    allowed = torch.cat([prompt_mask.bool()[:, None, :].expand(n, length, width),
                         own.to(prompt_mask.device).expand(n, length, length)], dim=-1)[:, None]
    implementation = getattr(lm.config, "_attn_implementation", "sdpa")
    if implementation == "sdpa":
        return allowed
    if implementation == "eager":
        return torch.zeros(allowed.shape, dtype=lm.dtype, device=allowed.device).masked_fill(~allowed,
                                                                                            torch.finfo(lm.dtype).min)
    raise ValueError(f"label scoring builds masks for sdpa and eager attention, not {implementation!r}")


def greedy_answers(lm, tok, prompts: list[str], max_new_tokens: int = MAX_ANSWER_TOKENS,
                   batch_size: int = PREDICT_BATCH) -> list[str]:
    """Greedy continuation of each prompt up to its first newline or end-of-sequence, by ``generate`` on
    left-padded batches (transformers derives the position ids from the attention mask)."""
    import torch
    from transformers import GenerationConfig

    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
                              eos_token_id=tok.eos_token_id, stop_strings=["\n"])
    out = []
    for start in range(0, len(prompts), batch_size):
        encoded = [encode(tok, p) for p in prompts[start:start + batch_size]]
        width = max(len(e) for e in encoded)
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded], device=lm.device)
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded], device=lm.device)
        with torch.no_grad():
            produced = lm.generate(input_ids=ids, attention_mask=mask, generation_config=config, tokenizer=tok)
        out.extend(tok.decode(row[width:], skip_special_tokens=True).split("\n")[0].strip() for row in produced)
    return out


@contextmanager
def timed(timings: dict, phase: str):
    """Add the wall time of the block to ``timings[phase]`` (the chapter's time per phase)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - t0


def progress_default() -> bool:
    """Progress bars unless a chapter turned them off (lab.publish.chapter.quiet_progress sets TQDM_DISABLE)."""
    return os.environ.get("TQDM_DISABLE") != "1"


def class_scores(lm, tok, taskset: TaskSet, examples: list[Example], progress: bool | None = None) -> np.ndarray:
    """(examples x classes) label scores of a classification task, classes in ``taskset.labels`` order."""
    if not taskset.is_classification:
        raise ValueError(f"{taskset.task} is not a classification task")
    lm.eval()
    progress = progress_default() if progress is None else progress
    return label_logprobs_batch(lm, tok, [e.prompt for e in examples], [taskset.verbalisers[c] for c in taskset.labels],
                                progress=progress, desc=f"predict {taskset.task}")


def predict_scored(lm, tok, taskset: TaskSet, examples: list[Example],
                   progress: bool | None = None) -> tuple[list[str], np.ndarray | None]:
    """(predictions, class scores): the class of the highest score (classification, with the scores) or the
    greedy answer text (cloze, no scores)."""
    from tqdm.auto import tqdm  # here: at the top, in a kernel, it warns before the chapter quiets it

    if taskset.is_classification:
        scores = class_scores(lm, tok, taskset, examples, progress)
        return [taskset.labels[int(i)] for i in scores.argmax(axis=1)], scores
    lm.eval()
    progress = progress_default() if progress is None else progress
    prompts = [e.prompt for e in examples]
    order = length_order(tok, prompts)
    out = [""] * len(examples)
    for start in tqdm(range(0, len(examples), PREDICT_BATCH), desc=f"predict {taskset.task}", disable=not progress,
                      leave=False):
        rows = order[start:start + PREDICT_BATCH]
        for i, answer in zip(rows, greedy_answers(lm, tok, [prompts[i] for i in rows])):
            out[i] = answer
    return out, None


def predict(lm, tok, taskset: TaskSet, examples: list[Example], progress: bool | None = None) -> list[str]:
    """A predicted class (classification) or answer text (cloze) for every example."""
    return predict_scored(lm, tok, taskset, examples, progress)[0]


def prior_sentence(raw: list[str], calibrated: list[str], names: dict[str, str]) -> str:
    """How much of the zero-shot model's answering is one answer given whatever the article, before and after
    calibration (``names``: class -> verbaliser)."""
    def top(predictions):
        label, count = Counter(predictions).most_common(1)[0]
        return names[label].strip(), count, len(predictions)

    (a, n_a, total), (b, n_b, _) = top(raw), top(calibrated)
    return (f"Uncalibrated, the zero-shot model answers {a} for {n_a} of the {total} test articles ({n_a / total:.0%}); "
            f"calibrated, its most frequent answer ({b}) covers {n_b} ({n_b / total:.0%}).")


# ---------------------------------------------------------------- metrics

def normalise_answer(text: str) -> str:
    """Lower case, NFC, single spaces, no surrounding punctuation: the form compared by exact match."""
    text = unicodedata.normalize("NFC", text).lower()
    return " ".join(text.split()).strip(" .,;:")


class _WordTokenizer:
    """rouge-score's default tokenizer drops every non-ASCII letter ('días' -> 'd as'); keep Spanish words."""

    def tokenize(self, text: str) -> list[str]:
        return re.findall(r"\w+", normalise_answer(text))


def rouge_l(predictions: list[str], references: list[str]) -> np.ndarray:
    """Per-example ROUGE-L F-measure (rouge-score's implementation, Unicode word tokens)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_WordTokenizer())
    return np.array([scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)])


def exact_match(predictions: list[str], references: list[str]) -> np.ndarray:
    return np.array([float(normalise_answer(p) == normalise_answer(r)) for p, r in zip(predictions, references)])


def correct(predictions: list[str], references: list[str]) -> np.ndarray:
    return np.array([float(p == r) for p, r in zip(predictions, references)])


def macro_f1(predictions, references, labels) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(references, predictions, labels=list(labels), average="macro", zero_division=0))


@dataclass
class Scores:
    """Per-example scores of one system on one task (``primary`` is accuracy or exact match)."""

    task: str
    system: str
    predictions: list[str]
    primary: np.ndarray
    rouge: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def score(taskset: TaskSet, examples: list[Example], predictions: list[str], system: str) -> Scores:
    refs = [e.label for e in examples]
    if taskset.is_classification:
        return Scores(taskset.task, system, predictions, correct(predictions, refs))
    return Scores(taskset.task, system, predictions, exact_match(predictions, refs), rouge_l(predictions, refs))


def _codes(values, labels) -> np.ndarray:
    """Labels as integer codes 0..k-1; anything else (never a label) as k."""
    index = {c: i for i, c in enumerate(labels)}
    return np.array([index.get(v, len(labels)) for v in values], dtype=int)


def _macro_f1_codes(pred: np.ndarray, ref: np.ndarray, k: int) -> float:
    """``macro_f1`` on integer codes, for the thousands of bootstrap resamples (sklearn's call costs about a
    millisecond each); equal to it, which tests/integration/test_legal_evaluate.py checks."""
    tp = np.bincount(ref[pred == ref], minlength=k + 1)[:k]
    denom = np.bincount(pred, minlength=k + 1)[:k] + np.bincount(ref, minlength=k + 1)[:k]
    return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))


def _stack(runs: list[Scores], attr: str = "primary") -> np.ndarray:
    """(runs x examples) matrix of one per-example score."""
    return np.stack([np.asarray(getattr(r, attr), dtype=float) for r in runs])


def interval(runs: list[Scores], attr: str = "primary", baseline: Scores | None = None,
             resamples: int = RESAMPLES, seed: int = 0) -> inference.Interval:
    """Mean per-example score over the runs (minus ``baseline``'s, when given) with its two-way bootstrap 95%
    interval over runs and examples (one run: over examples only)."""
    m = _stack(runs, attr) - (0.0 if baseline is None else np.asarray(getattr(baseline, attr), dtype=float))
    return inference.crossed(lambda si, ei: m[np.ix_(si, ei)].mean(), m.shape[0], m.shape[1],
                             resamples=resamples, seed=seed)


def summary_table(taskset: TaskSet, examples: list[Example], systems: dict[str, list[Scores]],
                  resamples: int = RESAMPLES, seed: int = 0):
    """Each system's metrics with two-way bootstrap 95% CIs (``interval``); ``systems`` maps a name to its runs
    (one for a baseline, one per seed for LoRA), and macro-F1 is averaged over the runs the same way."""
    refs = np.array([e.label for e in examples], dtype=object)
    rows = []
    for name, runs in systems.items():
        acc = interval(runs, resamples=resamples, seed=seed)
        row = {"system": name, "runs": len(runs), "examples": len(refs)}
        if taskset.is_classification:
            ref_codes, pred_codes = _codes(refs, taskset.labels), [_codes(r.predictions, taskset.labels) for r in runs]
            k = len(taskset.labels)
            f1 = inference.crossed(
                lambda si, ei: float(np.mean([_macro_f1_codes(pred_codes[i][ei], ref_codes[ei], k) for i in si])),
                len(runs), len(refs), resamples=resamples, seed=seed)
            row.update({"accuracy": acc.estimate, "acc low": acc.low, "acc high": acc.high,
                        "macro-F1": f1.estimate, "F1 low": f1.low, "F1 high": f1.high})
        else:
            rl = interval(runs, "rouge", resamples=resamples, seed=seed)
            row.update({"exact match": acc.estimate, "EM low": acc.low, "EM high": acc.high,
                        "ROUGE-L": rl.estimate, "RL low": rl.low, "RL high": rl.high})
        rows.append(row)
    return pd.DataFrame(rows).set_index("system").round(4)


def paired_tests(runs: list[Scores], others: dict[str, Scores], resamples: int = RESAMPLES, seed: int = 0):
    """LoRA (``runs``, one per seed) against each baseline on the same examples: the mean difference with its
    two-way bootstrap 95% interval, and the exact sign-flip test over seeds (the unit: a training run), whose p
    cannot go below 2 / 2^seeds; Holm-adjusted across the comparisons of this task. For cloze both exact match
    and ROUGE-L are compared."""
    rows = []
    metrics = [("primary", "accuracy" if runs[0].rouge is None else "exact match")]
    if runs[0].rouge is not None:
        metrics.append(("rouge", "ROUGE-L"))
    for name, other in others.items():
        for attr, label in metrics:
            if getattr(other, attr) is None:
                continue
            iv = interval(runs, attr, other, resamples, seed)
            per_seed = (_stack(runs, attr) - np.asarray(getattr(other, attr), dtype=float)).mean(axis=1)
            row = {"versus": name, "metric": label, "difference": iv.estimate, "diff low": iv.low,
                   "diff high": iv.high, "seeds": len(runs), "p (seeds)": math.nan, "p floor": math.nan}
            if len(runs) >= 2:
                t = inference.paired(per_seed, "seed", seed=seed)
                row.update({"p (seeds)": t.p, "p floor": t.p_floor})
            rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        tested = table["p (seeds)"].notna()
        table["p (Holm)"] = math.nan
        if tested.any():
            table.loc[tested, "p (Holm)"] = inference.holm(table.loc[tested, "p (seeds)"].to_numpy())
    return table.set_index(["versus", "metric"]).round(4)


def seeds_sentence(n_seeds: int, alpha: float = 0.05) -> str:
    """What a test over n seeds can say, computed: its floor against alpha, and the plan's own five runs."""
    if n_seeds < 2:
        return "One seed: no test over training runs is possible; the intervals resample test examples only."
    floor = inference.design_floor(n_seeds)
    verdict = ("so no comparison over seeds can reach p < {:g}".format(alpha) if floor >= alpha
               else "so a comparison over seeds can reach p < {:g}".format(alpha))
    return (f"The tests over seeds have {n_seeds} paired units (training runs): the exact sign-flip test cannot go "
            f"below p = {floor:.4g}, {verdict}; the plan's five runs (§3.2) would give {inference.design_floor(5):.4g}. "
            "Their intervals are the evidence here.")


def per_class_table(examples: list[Example], systems: dict[str, Scores], labels):
    """Recall and F1 of each class, per system (the plan asks for per-class results)."""
    from sklearn.metrics import precision_recall_fscore_support

    refs = [e.label for e in examples]
    rows = []
    for name, s in systems.items():
        p, r, f, n = precision_recall_fscore_support(refs, s.predictions, labels=list(labels), zero_division=0)
        for k, c in enumerate(labels):
            rows.append({"system": name, "class": c, "n": int(n[k]), "precision": p[k], "recall": r[k], "F1": f[k]})
    return pd.DataFrame(rows).set_index(["system", "class"]).round(3)


def confusion(examples: list[Example], predictions: list[str], labels):
    from sklearn.metrics import confusion_matrix

    m = confusion_matrix([e.label for e in examples], predictions, labels=list(labels))
    return pd.DataFrame(m, index=[f"true {c}" for c in labels], columns=[f"pred {c}" for c in labels])


def mean_over_seeds(runs: list[Scores], system: str) -> Scores:
    """Per-example score averaged over training seeds (for the headline figures; intervals use the runs)."""
    first = runs[0]
    rouge = None if first.rouge is None else np.mean([r.rouge for r in runs], axis=0)
    return Scores(first.task, system, first.predictions, np.mean([r.primary for r in runs], axis=0), rouge,
                  {"seeds": len(runs)})


def seed_table(runs: dict[int, dict[str, Scores]]):
    """Each seed's test metric per task, with the mean and Student-t interval across seeds (the unit: a training
    run)."""
    tasks = sorted({t for by_task in runs.values() for t in by_task})
    per_seed = pd.DataFrame({seed: {t: float(by_task[t].primary.mean()) for t in tasks} for seed, by_task in runs.items()}).T
    per_seed.index.name = "seed"
    table = per_seed.copy()
    if len(runs) >= 2:
        for t in tasks:  # from the seeds' rows only, never from rows this loop adds
            values = per_seed[t].to_numpy()
            if np.ptp(values) == 0:  # equal seeds: the point itself (numpy's std of equal floats is ~1e-18, not 0)
                iv = inference.Interval(float(values[0]), float(values[0]), float(values[0]), 0.95)
            else:
                iv = inference.t_interval(values)
            table.loc["mean", t], table.loc["t95 low", t], table.loc["t95 high", t] = iv.estimate, iv.low, iv.high
    return table.round(4)


# ---------------------------------------------------------------- the deployed model and its variants

VARIANTS = ("base fp32", "LoRA fp32 (unmerged)", "LoRA merged fp32", "LoRA merged int8 (dynamic)",
            "LoRA merged int8 (weight-only)")
INT8 = "LoRA merged int8 (weight-only)"  # the int8 path the criteria judge; the dynamic one is shown beside it


def build_variant(model: str, adapter_dir: str | None, variant: str):
    """(model, tokenizer) of one deployment variant, in eval mode on the CPU."""
    import torch

    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    lm, tok = models.load(model)
    if variant != "base fp32":
        from peft import PeftModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # peft asks transformers a deprecated question
            lm = PeftModel.from_pretrained(lm, adapter_dir)
        if variant != "LoRA fp32 (unmerged)":
            lm = lm.merge_and_unload()
        if variant.endswith("int8 (dynamic)"):
            lm = quantize_int8(lm)
        elif variant.endswith("int8 (weight-only)"):
            lm = quantize_int8_weights(lm)
    return lm.eval(), tok


def _int8_weight_linear_class():
    import torch

    class _Int8WeightLinear(torch.nn.Module):
        """A linear layer whose weight is stored as int8 with one float32 scale per output channel
        (symmetric, round to nearest); activations stay in float. Home-made because torch.ao.quantization
        has no weight-only mode for CPU, and torchao (which has) is not among this book's dependencies; torch's
        own int8-weight kernel (``torch._weight_int8pack_mm``) ran 40 times slower than the float32 product on
        this book's CPU, so the product runs in float on the int8 weight and is scaled per channel after it
        (``(x W^T) s`` equals ``x (W s)^T``): the weight is resident as int8, and only one layer's float copy
        exists at a time."""

        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            weight = linear.weight.detach().float()
            scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
            self.register_buffer("weight_int8", torch.round(weight / scale[:, None]).clamp(-127, 127)
                                 .to(torch.int8).contiguous())
            self.register_buffer("scale", scale.contiguous())
            self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach().clone(),
                                                                             requires_grad=False)
            self.in_features, self.out_features = linear.in_features, linear.out_features

        def forward(self, x):
            out = torch.nn.functional.linear(x, self.weight_int8.to(x.dtype)) * self.scale.to(x.dtype)
            return out if self.bias is None else out + self.bias

    return _Int8WeightLinear


def quantize_int8_weights(lm):
    """Weight-only int8, in place, of the decoder's linear layers (``_int8_weight_linear_class``); the output
    projection stays in float32, as in ``quantize_int8``."""
    import torch

    make = _int8_weight_linear_class()
    decoder = lm.get_decoder()
    for name, module in list(decoder.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, child_name, make(child))
    _detach_from_file(lm)
    return lm


def _detach_from_file(lm) -> None:
    """The float32 weights were read from a memory-mapped file, and the tensors left in float32 (embeddings,
    norms) still point into that mapping, which keeps every page of it resident: copy them out so that the
    mapping, and the float32 copies of the quantized layers with it, can go."""
    import torch

    with torch.no_grad():
        for tensor in [*lm.parameters(), *lm.buffers()]:
            tensor.data = tensor.data.clone()


def quantize_int8(lm):
    """Dynamic int8 quantization, in place, of the decoder's linear layers, one scale per output channel.

    The output projection stays in float32: it is tied to the input embeddings in SmolLM2 and Gemma-3, so
    quantizing it adds an int8 copy beside the float32 table the embeddings still need (more memory, not
    less), and one scale for its whole 49,152 x 576 matrix is what moved most answers in the first version of
    this chapter (30% agreement with float32). The activations are still quantized at run time with one scale
    per tensor, which a few outlier features stretch (Dettmers et al. 2022); ``quantize_int8_weights`` keeps
    them in float."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    decoder = lm.get_decoder()
    prefix = next(name for name, module in lm.named_modules() if module is decoder)
    spec = {f"{prefix}.{name}": per_channel_dynamic_qconfig for name, module in decoder.named_modules()
            if isinstance(module, torch.nn.Linear)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        quantize_dynamic(lm, spec, dtype=torch.qint8, inplace=True)
    _detach_from_file(lm)
    return lm
