"""The collate-bug postmortem (Part II): where the original's validation perplexity of 18.99 comes from, measured.

What the original's code does (webtilians/principiodelTodo at commit 9a2da8af, read with ``git show``):

- The buggy trainers (``archive/experiments/quick_experiment.py``,
  ``archive/training/train_20_epochs_validated.py``) tokenise every raw text line on its own (truncated at
  128 or 256 tokens), keep lines of more than 10 tokens, right-pad each batch of 16 lines with token id 0 to
  the batch's longest line, set the labels to a copy of the inputs, and average an unweighted cross-entropy
  over every position of a batch, padding included, then over batches.
- ``archive/experiments/validate_full_dataset.py`` is the same pipeline with the labels shifted inside the
  collate (the last column's label is the end-of-text id); padding still counts.

This module rebuilds that line-level pipeline on any tokenised text, measures the padding share of its
batches, trains a set-up to a plateau (a stated rule that can fail) and splits the loss over padded and
real positions. The notebook ``p2_collate_postmortem`` only calls it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from .. import corpus
from ..corpus import EOT, make_collate
from ..gpt import make_adamw
from ..models import assets
from ..publish.params import Param, Spec
from . import chapter as part2
from . import leaks
from . import textstats
from .chapter import load_data, save_results  # noqa: F401  (the page reads its corpus and saves its results here)
from .collate_sentences import (at_epoch, attribution_sentence, copy_sentence, leak_sentence, padding_sentence,
                                verdict_sentence)
from .collate_sentences import conclusion_sentence  # noqa: F401  (the page's conclusion calls it as pm.)
from .model import Infinito

ORIGINAL_REPO = "webtilians/principiodelTodo"
ORIGINAL_COMMIT = "9a2da8af"
ORIGINAL_FILES = {
    "quick": "archive/experiments/quick_experiment.py",
    "train20": "archive/training/train_20_epochs_validated.py",
    "validate": "archive/experiments/validate_full_dataset.py",
    "report": "model_comparison_results/comparison_report.txt",
    "results": "archive/docs/RESULTADOS_FINALES.md",
}



def fake_ppl_run() -> dict:
    """The original's copy-bug run as data/originals.yml cites it: its learning rate, its epoch of lines, the
    reported 18.99 and the perplexities its checkpoints stored (used as the line the curves are read against and
    in the arithmetic of ``share_needed``, which the page labels as arithmetic)."""
    return part2.originals()["fake_ppl_run"]


def model_a_ppl() -> float:
    return part2.originals()["model_a"]["val_ppl"]

# The original line-level pipeline's constants (both buggy trainers and validate_full_dataset.py).
BATCH_SIZE = 16
MAX_LENGTH = 256
MIN_TOKENS = 10  # a line is kept when it has MORE than this many tokens
PAD_GPT2 = 0  # GPT-2's "!": the original pads with token id 0
SENTINEL = -1  # marks the end of a line inside a packed tensor of lines


def cite(key: str) -> str:
    """``owner/repo@commit:path`` of one of the original's files."""
    return f"{ORIGINAL_REPO}@{ORIGINAL_COMMIT}:{ORIGINAL_FILES[key]}"


def _spec() -> Spec:
    return Spec(*part2.COMMON,
                Param("curve_steps", (int,), "optimiser steps of each line-level run", minimum=1),
                Param("curve_eval_every", (int,), "steps between evaluations of the curves", minimum=1),
                Param("curve_val_lines", (int,), "validation lines scored at each evaluation", minimum=16),
                Param("curve_lr", (float,), "AdamW learning rate of the line-level runs (the original's: 5e-4)",
                      minimum=0.0),
                Param("curve_epoch_lines", (int,), "training lines of the copy curve's epoch (the original's quick "
                      "experiment: its first 5,000; 0: every line)", minimum=0),
                Param("sensitivity_lr", (float,), "learning rate of a second copy curve over every line, beside "
                      "the first as a sensitivity check (0: none)", minimum=0.0),
                Param("shifted_steps", (int,), "optimiser steps of the shifted-label line-level run", minimum=1),
                Param("plateau_window", (int,), "plateau rule: evaluations looked back", minimum=1),
                Param("plateau_tol", (float,), "plateau rule: relative PPL improvement below which it stops",
                      minimum=0.0))


SPEC = _spec()


# ---------------------------------------------------------------- lines, as the original read them

def text_lines(files, holdout_every: int = 10) -> dict[str, list[str]]:
    """Raw lines (each keeping its newline, as a ``datasets`` text row does) of the files, split like
    ``corpus.substitute``: every ``holdout_every``-th file in sorted order is validation."""
    out: dict[str, list[str]] = {"train": [], "validation": []}
    for i, f in enumerate(sorted(files, key=lambda p: Path(p).name)):
        split = "validation" if i % holdout_every == holdout_every - 1 else "train"
        out[split] += Path(f).read_text(encoding="utf-8", errors="replace").splitlines(True)
    return out


def tokenise_lines(lines, encode, max_length: int = MAX_LENGTH, min_tokens: int = MIN_TOKENS) -> list[list[int]]:
    """Each line tokenised alone, truncated at ``max_length``, kept when it has more than ``min_tokens``
    tokens. Lines of at most ``min_tokens`` bytes are skipped untokenised: a GPT-2 token covers a byte or more."""
    out = []
    for line in lines:
        if len(line.encode("utf-8")) <= min_tokens:
            continue
        ids = encode(line)[:max_length]
        if len(ids) > min_tokens:
            out.append(ids)
    return out


def to_vocabulary(lines: list, encode_ids) -> list[list[int]]:
    """Lines of GPT-2 ids mapped through a vocabulary's ``encode`` (e.g. ``CompactVocab.encode``) in one call."""
    lengths = [len(s) for s in lines]
    flat = np.asarray(encode_ids(np.concatenate([np.asarray(s, dtype=np.int64) for s in lines])))
    return [part.tolist() for part in np.split(flat, np.cumsum(lengths)[:-1])]


def padding_share(lengths, batch_size: int = BATCH_SIZE, order=None) -> dict:
    """Share of padded positions when consecutive groups of ``batch_size`` lines (in ``order``) are each
    right-padded to their longest line, as the original's collate does."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if order is not None:
        lengths = lengths[np.asarray(order)]
    if lengths.size == 0:
        raise ValueError("no lines")
    n_batches = math.ceil(lengths.size / batch_size)
    padded = np.full(n_batches * batch_size, -1, dtype=np.int64)
    padded[:lengths.size] = lengths
    groups = padded.reshape(n_batches, batch_size)
    rows = (groups >= 0).sum(1)
    positions = int((groups.max(1) * rows).sum())
    real = int(lengths.sum())
    return {"share": (positions - real) / positions, "padded": positions - real, "positions": positions,
            "lines": int(lengths.size), "batches": n_batches}


def shuffled_order(n: int, seed: int) -> np.ndarray:
    """One epoch's order of a shuffling loader (the original shuffles the training lines, not validation)."""
    return np.random.default_rng(seed).permutation(n)


def pack(lines: list) -> torch.Tensor:
    """[n, longest] tensor of lines, each followed by SENTINEL: rows a training loop can index and shuffle."""
    width = max(len(s) for s in lines)
    out = torch.full((len(lines), width), SENTINEL, dtype=torch.long)
    for i, s in enumerate(lines):
        out[i, :len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out


@dataclass(frozen=True)
class LineCollate:
    """The original's collate on packed lines: right-pad the batch with ``pad_id`` to its longest line.

    ``shift_labels=False``: labels = inputs (quick_experiment.py, train_20_epochs_validated.py).
    ``shift_labels=True``: labels[:, :-1] = inputs[:, 1:], last column = ``eos_id`` (validate_full_dataset.py).
    Padding is a label like any other in both: nothing is ignored by the loss."""

    shift_labels: bool
    pad_id: int
    eos_id: int

    def __call__(self, rows: torch.Tensor):
        lengths = (rows != SENTINEL).sum(1)
        ids = rows[:, :int(lengths.max())].clone()
        ids[ids == SENTINEL] = self.pad_id
        labels = ids.clone()
        if self.shift_labels:
            labels[:, :-1] = ids[:, 1:]
            labels[:, -1] = self.eos_id
        return ids, labels

    def real_mask(self, rows: torch.Tensor) -> torch.Tensor:
        """True where the label is a token of the line itself (not padding, not the appended end-of-text)."""
        lengths = (rows != SENTINEL).sum(1)
        width = int(lengths.max())
        last = lengths - 1 if self.shift_labels else lengths
        return torch.arange(width)[None, :] < last[:, None]


# ---------------------------------------------------------------- losses over padded and real positions

@torch.no_grad()
def position_losses(model, rows: torch.Tensor, collate: LineCollate, batch_size: int = BATCH_SIZE) -> dict:
    """The original's validation perplexity of ``model`` on packed lines (batches in order: exp of the mean
    over batches of each batch's mean cross-entropy over all positions, padding included), and the loss
    split by position: over labels that are the line's own tokens and over the others (padding)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batch_means, real_sum, real_n, pad_sum, pad_n = [], 0.0, 0, 0.0, 0
    try:
        for i in range(0, rows.size(0), batch_size):
            b = rows[i:i + batch_size]
            x, y = (t.to(device) for t in collate(b))
            logits = model(x)[0].float()
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")
            real = collate.real_mask(b).to(device)
            batch_means.append(nll.mean().item())
            real_sum += nll[real].sum().item()
            real_n += int(real.sum())
            pad_sum += nll[~real].sum().item()
            pad_n += int((~real).sum())
    finally:
        model.train(was_training)
    loss_original = float(np.mean(batch_means))
    return {"ppl_original": math.exp(loss_original), "loss_original": loss_original,
            "ppl_real": math.exp(real_sum / real_n), "loss_real": real_sum / real_n,
            "loss_padded": pad_sum / pad_n if pad_n else float("nan"),
            "padded_label_share": pad_n / (pad_n + real_n)}


# ---------------------------------------------------------------- training to a plateau

@dataclass
class Curve:
    steps: list = field(default_factory=list)
    ppl: list = field(default_factory=list)  # the original's validation PPL (padding counted)
    ppl_real: list = field(default_factory=list)  # over the lines' own tokens only
    seconds: float = 0.0


def train_curve(model, train_rows: torch.Tensor, val_rows: torch.Tensor, collate: LineCollate, steps: int,
                eval_every: int, lr: float, seed: int, batch_size: int = BATCH_SIZE,
                weight_decay: float = 0.01) -> Curve:
    """The original's loop (AdamW on every parameter, constant learning rate, clipping at 1.0, loss = the
    model's LM loss plus its IIT term), shuffled lines, evaluated every ``eval_every`` steps and at step 0."""

    torch.manual_seed(seed)
    device = next(model.parameters()).device
    opt = make_adamw(model, lr, weight_decay, decay_all=True)
    curve = Curve()
    t0 = time.perf_counter()

    def record(step):
        m = position_losses(model, val_rows, collate, batch_size)
        curve.steps.append(step)
        curve.ppl.append(m["ppl_original"])
        curve.ppl_real.append(m["ppl_real"])

    record(0)
    model.train()
    order, epoch, at = shuffled_order(train_rows.size(0), seed), 0, 0
    for step in range(1, steps + 1):
        if at + batch_size > order.size:  # the loader's last, short batch is kept by the original; we
            epoch, at = epoch + 1, 0  # start the next epoch instead, so every step has a full batch
            order = shuffled_order(train_rows.size(0), seed + epoch)
        x, y = (t.to(device) for t in collate(train_rows[torch.as_tensor(order[at:at + batch_size])]))
        at += batch_size
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % eval_every == 0 or step == steps:
            record(step)
            model.train()
    model.eval()
    curve.seconds = time.perf_counter() - t0
    return curve


def plateau(steps, ppl, window: int, tol: float) -> dict | None:
    """The first evaluation i (i >= window) at which the perplexity improved by less than ``tol`` (relative)
    over the last ``window`` evaluations: (ppl[i - window] - ppl[i]) / ppl[i - window] < tol. None when the
    curve is still falling that fast at its end: the rule has failed within the budget."""
    for i in range(window, len(ppl)):
        if (ppl[i - window] - ppl[i]) / ppl[i - window] < tol:
            return {"index": i, "step": int(steps[i]), "ppl": float(ppl[i])}
    return None


def first_step_below(steps, ppl, level: float) -> int | None:
    """The first evaluated step whose perplexity is at or below ``level`` (None if none is)."""
    return next((int(s) for s, v in zip(steps, ppl) if v <= level), None)


# ---------------------------------------------------------------- the chapter's data

@dataclass
class Lines:
    """The line-level data of a run: GPT-2 lengths at the original's truncation (for the padding share) and
    packed rows in the run's vocabulary, truncated at the model's window (for training)."""

    corpus: str
    lengths: dict  # split -> np.ndarray of token counts (truncated at MAX_LENGTH)
    rows: dict  # split -> packed tensor
    pad_id: int
    eos_id: int


def raw_lines(p: dict) -> dict[str, list[str]]:
    if p["corpus"] == "wikitext-2":
        texts = corpus.load_wikitext2(p["wikitext_path"])
        return {"train": texts["train"].splitlines(True), "validation": texts["validation"].splitlines(True)}
    return text_lines(assets.corpus_files(corpus.SUBSTITUTE))


def load_lines(p: dict, data) -> Lines:
    """Every line of the run's corpus as the original's loaders would read it (``data``: part2.load_data)."""
    gpt2 = {k: tokenise_lines(v, data.encoding.encode_ordinary) for k, v in raw_lines(p).items()}
    to_run = (lambda ls: ls) if data.vocab is None else (lambda ls: to_vocabulary(ls, data.vocab.encode))
    pad, eos = ((PAD_GPT2, EOT) if data.vocab is None else
                (int(data.vocab.encode([PAD_GPT2])[0]), int(data.vocab.encode([EOT])[0])))
    return Lines(corpus=data.corpus.name, lengths={k: np.array([len(s) for s in v]) for k, v in gpt2.items()},
                 rows={k: pack([s[:p["seq_len"]] for s in to_run(v)]) for k, v in gpt2.items()},
                 pad_id=pad, eos_id=eos)


def padding_shares(lines: Lines, seed: int) -> dict:
    """The original's padding share on this corpus: one shuffled training epoch and the validation lines in
    order (its validation loader does not shuffle), batches of 16, lines truncated at 256 tokens."""
    n = lines.lengths["train"].size
    return {"train": padding_share(lines.lengths["train"], order=shuffled_order(n, seed)),
            "validation": padding_share(lines.lengths["validation"])}


def baselines(p: dict, data) -> list[dict]:
    """Unigram and Kneser-Ney bigram fitted on the whole training split: in the run's vocabulary (the figures
    the page's models are compared with) and, with bits per byte, on the full GPT-2 vocabulary."""
    rows = []
    for name, fit in textstats.ngram_baselines(data.corpus.train, data.corpus.validation, data.vocab_size).items():
        rows.append({"model": name, "vocabulary": f"{data.vocab_size:,} ids (this run)", "ppl": fit["ppl"],
                     "bits_per_byte": float("nan"), "train tokens": int(data.corpus.train.size)})
    full = data.corpus if data.vocab is None else (
        corpus.wikitext2(p["wikitext_path"], data.encoding) if p["corpus"] == "wikitext-2"
        else corpus.substitute(data.encoding))
    byte_lengths = textstats.token_byte_lengths(data.encoding, 50257)
    for name, fit in textstats.ngram_baselines(full.train, full.validation, 50257, byte_lengths).items():
        rows.append({"model": name, "vocabulary": "50,257 ids (GPT-2)", "ppl": fit["ppl"],
                     "bits_per_byte": fit["bits_per_byte"], "train tokens": int(full.train.size)})
    return rows


def share_needed(target_ppl: float, real_ppl: float, padded_loss: float = 0.0) -> float:
    """Padding share s at which exp((1 - s) ln(real_ppl) + s padded_loss) equals ``target_ppl``."""
    real = math.log(real_ppl)
    return (real - math.log(target_ppl)) / (real - padded_loss)


def corpus_sentence(lines: Lines, shares: dict) -> str:
    """Which corpus the line-level measurements used, and the padding share they found."""
    what = ("WikiText-2 (raw), the original's corpus" if lines.corpus == "wikitext-2" else
            "the substitute corpus (Shakespeare's plays and Milton's poems, Project Gutenberg texts), not WikiText-2, "
            "whose files are not available to this run")
    tr, va = shares["train"], shares["validation"]
    return (f"These line-level measurements use {what}. Read line by line as the original reads its corpus, "
            f"{tr['lines']:,} training lines and {va['lines']:,} validation lines have more than {MIN_TOKENS} GPT-2 "
            f"tokens. In batches of {BATCH_SIZE} right-padded with id {PAD_GPT2}, padding is {tr['share']:.1%} of the "
            f"positions of a shuffled training epoch ({tr['batches']:,} batches) and {va['share']:.1%} of the "
            f"validation positions (in order, as the original's validation loader reads them).")


# ---------------------------------------------------------------- what the page shows
# Each function returns what one cell of p2_collate_postmortem shows (part2.Shown: a table or figure, the values
# it glues in the page's order, what it records).

def reported_figures() -> dict:
    """The original's own figures and pipeline constants the page's prose cites."""
    run = fake_ppl_run()
    return {"reported_fake": run["reported_val_ppl"], "orig_fake_loss": run["checkpoints"]["validated_1epoch"]["val_loss"],
            "orig_epoch1": run["checkpoints"]["best_epoch1"]["val_ppl"],
            "orig_epoch2": run["checkpoints"]["best_epoch2"]["val_ppl"], "orig_lr": run["lr"],
            "orig_epoch_lines": run["epoch_lines"],
            "orig_batch": BATCH_SIZE, "orig_min_tokens": MIN_TOKENS, "orig_max_length": MAX_LENGTH,
            "orig_pad": PAD_GPT2}


def collate_example():
    """What each collate makes of one window of nine token ids: inputs and labels."""
    rows = {}
    for name, shift in (("original (labels = inputs)", False), ("fixed (labels shifted)", True)):
        x, y = make_collate(shift)([torch.arange(100, 109)])
        rows[(name, "input")] = x[0].tolist()
        rows[(name, "label")] = y[0].tolist()
    return pd.DataFrame(rows).T


def collate_checks():
    """The label-shift test on both collates."""
    rows = []
    for name, shift in (("original", False), ("fixed", True)):
        result = leaks.label_shift_test_collate(make_collate(shift))
        rows.append({"collate": name, "label-shift test": "pass" if result else "FAIL", "detail": result.detail})
    return pd.DataFrame(rows).set_index("collate")


def padding_report(p: dict, data, lines: Lines, seed: int):
    """The padding share of the original's batches on this corpus, with the sentences that place it."""
    shares = padding_shares(lines, seed)
    glued = {"share_train": shares["train"]["share"], "share_val": shares["validation"]["share"],
             "corpus_sentence": Markdown(corpus_sentence(lines, shares)),
             "page_corpus_sentence": Markdown(part2.corpus_sentence(p, data))}
    table = pd.DataFrame(shares).T[["lines", "batches", "positions", "padded", "share"]]
    return part2.Shown(table, glued, {"padding_shares": shares})


COPY_RUN = "labels = inputs (copy-bug trainers)"
SENSITIVITY_RUN = "labels = inputs, another learning rate, every line"
SHIFTED_RUN = "shifted labels, padding counted (validate_full_dataset.py)"


@dataclass
class LineRuns:
    """The two line-level runs, each with its model, collate and validation curve."""

    runs: dict  # name -> {"model", "collate", "curve", "lr", "epoch_lines"}
    val_rows: torch.Tensor  # the validation lines scored along the curves
    shares: dict  # padding_shares of the run

    @property
    def copy(self) -> Curve:
        return self.runs[COPY_RUN]["curve"]

    def steps_per_epoch(self, name: str = COPY_RUN) -> int:
        """Optimiser steps in one epoch of a run's lines (batches of 16, the last one short)."""
        return math.ceil(self.runs[name]["epoch_lines"] / BATCH_SIZE)

    @property
    def shifted(self) -> Curve:
        return self.runs[SHIFTED_RUN]["curve"]


def train_line_runs(p: dict, data, lines: Lines, shares: dict, seed: int) -> LineRuns:
    """The original's line-level pipeline, trained with labels = inputs (the copy bug) at the original's learning
    rate on an epoch of its length, with shifted labels and padding counted (validate_full_dataset.py), and, as a
    sensitivity check, with labels = inputs at another learning rate over every line; each on the run's model
    without a causal mask."""
    val_rows = lines.rows["validation"][:p["curve_val_lines"]]
    every = lines.rows["train"].size(0)
    first = min(p["curve_epoch_lines"] or every, every)
    plan = [(COPY_RUN, False, p["curve_steps"], p["curve_lr"], first),
            (SHIFTED_RUN, True, p["shifted_steps"], p["curve_lr"], every)]
    if p["sensitivity_lr"]:
        plan.append((SENSITIVITY_RUN, False, p["curve_steps"], p["sensitivity_lr"], every))
    runs = {}
    for name, shift, steps, lr, n_lines in plan:
        torch.manual_seed(seed)
        model = Infinito(part2.model_config(p, data, causal=False)).to(p["device"])
        collate = LineCollate(shift, lines.pad_id, lines.eos_id)
        curve = train_curve(model, lines.rows["train"][:n_lines], val_rows, collate, steps, p["curve_eval_every"],
                            lr, seed)
        runs[name] = {"model": model, "collate": collate, "curve": curve, "lr": lr, "epoch_lines": n_lines}
    return LineRuns(runs, val_rows, shares)


def copy_curve_report(p: dict, line_runs: LineRuns):
    """Where the copy-bug curve reaches the reported 18.99 and where it plateaus (the stated rule), as a figure,
    the glued figures and sentences, and the copy-bug curve's table; ``record`` holds the plateau and crossing."""
    import plotly.graph_objects as go  # plotly takes about a second to import; only the pages draw

    copy, shifted = line_runs.copy, line_runs.shifted
    reported = fake_ppl_run()["reported_val_ppl"]
    found = plateau(copy.steps, copy.ppl, p["plateau_window"], p["plateau_tol"])
    cross = first_step_below(copy.steps, copy.ppl, reported)
    steps_per_epoch = line_runs.steps_per_epoch()
    fig = go.Figure()
    fig.add_scatter(x=copy.steps, y=copy.ppl, name=f"{COPY_RUN}, lr {p['curve_lr']:g}", mode="lines+markers")
    sensitivity = {"sens_lr": 0.0, "sens_steps_per_epoch": -1, "sens_plateau_ppl": float("nan"), "sens_cross_step": -1}
    if SENSITIVITY_RUN in line_runs.runs:
        other = line_runs.runs[SENSITIVITY_RUN]["curve"]
        fig.add_scatter(x=other.steps, y=other.ppl, name=f"{SENSITIVITY_RUN} (lr {p['sensitivity_lr']:g})",
                        mode="lines", line={"dash": "dash"})
        found_other = plateau(other.steps, other.ppl, p["plateau_window"], p["plateau_tol"])
        cross_other = first_step_below(other.steps, other.ppl, reported)
        sensitivity = {"sens_lr": p["sensitivity_lr"], "sens_steps_per_epoch": line_runs.steps_per_epoch(SENSITIVITY_RUN),
                       "sens_plateau_ppl": found_other["ppl"] if found_other else float("nan"),
                       "sens_cross_step": cross_other if cross_other is not None else -1}
    fig.add_scatter(x=shifted.steps, y=shifted.ppl, name=SHIFTED_RUN, mode="lines+markers")
    fig.add_scatter(x=shifted.steps, y=shifted.ppl_real, name="shifted labels, the lines' own tokens only",
                    mode="lines", line={"dash": "dot"})
    fig.add_hline(y=reported, line_dash="dash", annotation_text=f"reported {reported:.2f}")
    if found is not None:
        fig.add_scatter(x=[found["step"]], y=[found["ppl"]], name="plateau (rule)", mode="markers",
                        marker={"size": 12, "symbol": "x"})
    fig.update_layout(xaxis_title="optimiser step", yaxis_title="validation perplexity", yaxis_type="log",
                      height=420, legend={"orientation": "h", "y": -0.25})
    epoch = at_epoch(copy.steps, copy.ppl, steps_per_epoch)
    glued = {"plateau_ppl": found["ppl"] if found else float("nan"), "plateau_step": found["step"] if found else -1,
             "epoch1_ppl": epoch["ppl"] if epoch else float("nan"), "epoch1_step": epoch["step"] if epoch else -1,
             "cross_step": cross if cross is not None else -1, "steps_per_epoch": steps_per_epoch,
             "curve_lr": p["curve_lr"], "curve_epoch_lines": line_runs.runs[COPY_RUN]["epoch_lines"], **sensitivity,
             "copy_sentence": Markdown(copy_sentence(copy, found, cross, steps_per_epoch, p["plateau_window"],
                                                     p["plateau_tol"], reported)),
             "verdict_sentence": Markdown(verdict_sentence(epoch, found, copy.ppl[-1], steps_per_epoch, reported))}
    table = pd.DataFrame({"step": copy.steps, "val PPL (padding counted)": copy.ppl}).set_index("step").iloc[
        :: max(len(copy.steps) // 8, 1)].round(3).T
    return part2.Shown(table, glued, {"figure": fig, "plateau": found, "cross_step": cross, "epoch": epoch})


def loss_split_report(p: dict, line_runs: LineRuns, curves) -> "part2.Shown":
    """Each line-level model's validation loss split over padded and real labels, and the padding share the
    reported 18.99 would need (arithmetic); ``curves``: copy_curve_report's result."""
    reported = fake_ppl_run()["reported_val_ppl"]
    splits = {name: position_losses(r["model"], line_runs.val_rows, r["collate"]) for name, r in line_runs.runs.items()}
    shifted = splits[SHIFTED_RUN]
    needed = share_needed(reported, model_a_ppl())
    glued = {"pad_loss_copy": splits[COPY_RUN]["loss_padded"], "pad_loss_shifted": shifted["loss_padded"],
             "shifted_ppl_original": shifted["ppl_original"], "shifted_ppl_real": shifted["ppl_real"],
             "share_needed": needed,
             "attribution_sentence": Markdown(attribution_sentence(
                 curves.record["epoch"], needed, shifted["ppl_real"] / shifted["ppl_original"], reported)),
             "padding_sentence": Markdown(padding_sentence(shifted, p["shifted_steps"], needed, line_runs.shares,
                                                           model_a_ppl(), reported))}
    columns = {"ppl_original": "val PPL as the original computes it", "ppl_real": "PPL over the lines' own tokens",
               "loss_padded": "loss per padded label (nats)", "padded_label_share": "share of labels that are padding"}
    table = pd.DataFrame(splits).T.rename(columns=columns)[list(columns.values())].round(3)
    return part2.Shown(table, glued, {"position_losses": splits})


# The four window-level set-ups: each bug alone, both, neither (the labels, then the mask).
SETUPS = (("labels = inputs, no causal mask (Experiment 1)", False, False),
          ("labels = inputs, causal mask", True, False),
          ("shifted labels, no causal mask (models A and B)", False, True),
          ("shifted labels, causal mask (fixed)", True, True))


def setup_runs(p: dict, data, seed: int):
    """The four set-ups trained on the page's windows: validation PPL through each set-up's own pipeline, both
    leak tests, and how much each model's next-token prediction relies on seeing the future."""
    rows, reliance = [], {}
    for name, causal, shift in SETUPS:
        model, result, _ = part2.train_variant(p, data, seed, causal=causal, shift_labels=shift)
        best = min(result.evals, key=lambda e: e["loss"])
        shift_test = leaks.label_shift_test_collate(make_collate(shift))
        causal_test = leaks.causality_test(model, data.vocab_size, seq_len=min(p["seq_len"], 32))
        reliance[name] = leaks.future_reliance(model, data.val)
        rows.append({"set-up": name, "val PPL (its own pipeline)": best["ppl"],
                     "label-shift test": "pass" if shift_test else "FAIL",
                     "causality test": "pass" if causal_test else "FAIL",
                     "next-token PPL, whole window visible": reliance[name]["ppl_full"],
                     "next-token PPL, past only": reliance[name]["ppl_past_only"]})
        if not causal and shift:
            leaky_params = sum(t.numel() for t in model.parameters())
    results = pd.DataFrame(rows).set_index("set-up")
    leak = reliance[SETUPS[2][0]]
    glued = {"fake": float(results.iloc[0]["val PPL (its own pipeline)"]),
             "leaky_a": float(results.iloc[2]["val PPL (its own pipeline)"]),
             "honest": float(results.iloc[3]["val PPL (its own pipeline)"]),
             "leak_ratio": leak["ratio"], "leak_sentence": Markdown(leak_sentence(leak, leaky_params))}
    return part2.Shown(results.round(2), glued, {"setups": rows, "future_reliance": reliance})


def baseline_report(p: dict, data, honest: float):
    """Unigram and bigram baselines (baselines()), and where the fixed model (``honest``, its validation PPL)
    lands among them."""
    base = pd.DataFrame(baselines(p, data))
    run_vocab = base[base["vocabulary"].str.contains("this run")].set_index("model")["ppl"]
    gpt2 = base[base["vocabulary"].str.startswith("50,257")].set_index("model")
    uni, bi = list(run_vocab.index)
    model_tokens = int(data.train[:, :-1].numel())
    order = "beats" if run_vocab[bi] < run_vocab[uni] else "does not beat"
    place = ("below both" if honest < run_vocab[bi] else "between the bigram and the unigram"
             if honest < run_vocab[uni] else "above both")
    glued = {"unigram": float(run_vocab[uni]), "bigram": float(run_vocab[bi]),
             "unigram_gpt2": float(gpt2.loc[uni, "ppl"]), "bigram_gpt2": float(gpt2.loc[bi, "ppl"]),
             "unigram_bpb": float(gpt2.loc[uni, "bits_per_byte"]), "bigram_bpb": float(gpt2.loc[bi, "bits_per_byte"]),
             "baseline_tokens": int(base["train tokens"].iloc[0]), "model_tokens": model_tokens,
             "baseline_sentence": Markdown(
                 f"The smoothed bigram {order} the unigram ({run_vocab[bi]:.2f} against {run_vocab[uni]:.2f} per "
                 f"token in this run's vocabulary). The fixed model of the table, at {honest:.2f}, lands {place}; it "
                 f"was trained on {model_tokens:,} tokens, the n-gram models on {int(base['train tokens'].iloc[0]):,}.")}
    return part2.Shown(base.round(3), glued, {"ngram": base.to_dict("records")})


def page_record(padding, line_runs: LineRuns, curves, splits, setups, base) -> dict:
    """What p2_collate_postmortem writes to runs/p2/p2_collate_postmortem.json, in its order."""
    return {"setups": setups.record["setups"], "ngram": base.record["ngram"],
            "padding_shares": padding.record["padding_shares"],
            "curves": {name: {"steps": r["curve"].steps, "ppl": r["curve"].ppl, "ppl_real": r["curve"].ppl_real}
                       for name, r in line_runs.runs.items()},
            "plateau": curves.record["plateau"], "cross_step": curves.record["cross_step"],
            "position_losses": splits.record["position_losses"],
            "future_reliance": setups.record["future_reliance"]}
