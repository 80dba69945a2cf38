"""Part II chapters (Infinito V5.2): parameters, data set-up and the experiments the notebooks call."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import corpus, leaks, textstats, train
from ..generate import DECODERS, generate
from ..infinito import ORIGINAL_PARAMETERS, Infinito, InfinitoConfig, original_config, scaled
from ..params import Param, Spec

RESULTS = Path(__file__).resolve().parents[2] / "runs" / "p2"
ORIGINAL_TRAIN_TOKENS = 2_391_884  # WikiText-2 train, GPT-2 BPE (issue 4)

# Figures reported by 003_3cc34b719484f3c9.txt, shown beside ours (never used in any computation).
REPORTED = {"model A val PPL": 216.46, "model A train PPL": 58.13, "model B val PPL": 207.15,
            "model B train PPL": 62.67, "baseline without IIT val PPL": 187.08, "fake val PPL": 18.99,
            "model A phi weights": {"temporal": 0.022, "integration": 0.109, "complexity": 0.447, "attention": 0.423}}


def _positive_ints(v):
    return None if v and all(x >= 0 for x in v) else "give a non-empty list of seeds >= 0"


COMMON = (
    Param("corpus", (str,), "training text", choices=("substitute", "wikitext-2")),
    Param("wikitext_path", (str,), "folder of the WikiText-2 raw files (corpus='wikitext-2' only)"),
    Param("vocab", (int,), "0: the full GPT-2 vocabulary; else the most frequent tokens + unk (CPU scale-down)",
          minimum=0),
    Param("n_layer", (int,), "blocks", minimum=1),
    Param("n_head", (int,), "attention heads", minimum=1),
    Param("n_embd", (int,), "model width", minimum=8),
    Param("seq_len", (int,), "window length", minimum=8),
    Param("batch_size", (int,), "global batch", minimum=1),
    Param("epochs", (int,), "passes over the training windows", minimum=1),
    Param("train_windows", (int,), "training windows used (0: all)", minimum=0),
    Param("val_windows", (int,), "validation windows used (0: all)", minimum=0),
    Param("lr", (float,), "AdamW learning rate", minimum=0.0),
    Param("eval_every", (int,), "steps between evaluations (0: every epoch)", minimum=0),
    Param("device", (str,), "torch device", choices=("cpu", "cuda")),
    Param("precision", (str,), "fp32, or bf16 autocast (GPU)", choices=("fp32", "bf16")),
    Param("compile", (bool,), "torch.compile the model (GPU)"),
)

SPEC_TRAINING = Spec(*COMMON,
                     Param("seeds", (list,), "seeds per condition (>= 3 for the chapter)", item_types=(int,),
                           check=_positive_ints),
                     Param("dropout_seeds", (int,), "seeds of the dropout-0.25 runs", minimum=1),
                     Param("lambda_phi", (float,), "weight of the IIT term", minimum=0.0),
                     Param("resamples", (int,), "bootstrap resamples", minimum=1000))
SPEC_COLLATE = Spec(*COMMON)
SPEC_COLLAPSE = Spec(*COMMON, Param("max_new_tokens", (int,), "tokens generated per prompt", minimum=1),
                     Param("prompts", (list,), "prompts", item_types=(str,)),
                     Param("decoders", (list,), "decoders", item_types=(str,), choices=tuple(DECODERS)))
SPEC_EXPECTATIONS = Spec(*COMMON, Param("max_new_tokens", (int,), "tokens generated per prompt", minimum=1),
                         Param("n_references", (int,), "validation passages continued for BLEU", minimum=2))


# ---------------------------------------------------------------- data

@dataclass
class Data:
    corpus: corpus.Corpus
    vocab: corpus.CompactVocab | None
    train: torch.Tensor
    val: torch.Tensor
    encoding: object
    vocab_size: int

    def to_gpt2(self, ids) -> list[int]:
        return self.vocab.decode_ids(ids) if self.vocab is not None else [int(i) for i in ids]

    def from_gpt2(self, ids) -> list[int]:
        return self.vocab.encode(ids).tolist() if self.vocab is not None else list(ids)

    def decode(self, ids) -> str:
        return self.encoding.decode(self.to_gpt2(ids))

    def encode(self, text: str) -> list[int]:
        return self.from_gpt2(self.encoding.encode_ordinary(text))


def load_data(p: dict) -> Data:
    from .. import assets

    enc = assets.gpt2_encoding()
    if p["corpus"] == "wikitext-2":
        c = corpus.wikitext2(p["wikitext_path"], enc)
    else:
        c = corpus.substitute(enc)
    vocab = None
    if p["vocab"]:
        c, vocab = corpus.compact(c, p["vocab"])
    tr = corpus.windows(c.train, p["seq_len"], pad_id=corpus.EOT if vocab is None else vocab.unk,
                        limit=p["train_windows"] or None)
    va = corpus.windows(c.validation, p["seq_len"], pad_id=corpus.EOT if vocab is None else vocab.unk,
                        limit=p["val_windows"] or None)
    return Data(c, vocab, tr, va, enc, p["vocab"] or 50257)


def model_config(p: dict, data: Data, causal: bool = True, iit: bool = True, dropout: float = 0.15,
                 lambda_phi: float = 0.3) -> InfinitoConfig:
    return scaled(original_config(), vocab_size=data.vocab_size, n_layer=p["n_layer"], n_head=p["n_head"],
                  n_embd=p["n_embd"], block_size=max(p["seq_len"], 8), causal_mask=causal, iit=iit,
                  dropout=dropout, lambda_phi=lambda_phi)


def train_config(p: dict, seed: int, **kw) -> train.TrainConfig:
    base = dict(lr=p["lr"], weight_decay=0.01, betas=(0.9, 0.999), batch_size=p["batch_size"], epochs=p["epochs"],
                grad_clip=1.0, scheduler="plateau", early_stopping=5, eval_every=p["eval_every"] or None,
                seed=seed, device=p["device"], precision=p["precision"], compile=p["compile"], progress=False)
    base.update(kw)
    return train.TrainConfig(**base)


def train_variant(p: dict, data: Data, seed: int, causal: bool = True, shift_labels: bool = True, iit: bool = True,
                  dropout: float = 0.15, lambda_phi: float = 0.3):
    """One training run of the Infinito design at the chapter's size; returns (model, TrainResult, seconds)."""
    torch.manual_seed(seed)
    model = Infinito(model_config(p, data, causal, iit, dropout, lambda_phi))
    collate = corpus.make_collate(shift_labels, pad_id=None if data.vocab is None else data.vocab.unk)
    enc = data.encoding if data.vocab is None else None  # per word / per byte only on the full vocabulary
    t0 = time.perf_counter()
    result = train.train(model, data.train, data.val, train_config(p, seed), collate, encoding=enc)
    model.eval()
    return model, result, time.perf_counter() - t0


def parameters_per_token(n_params: int, n_tokens: int) -> float:
    return n_params / n_tokens


# ---------------------------------------------------------------- evidence helpers

@torch.no_grad()
def position_nll(model, windows: torch.Tensor, batch_size: int = 32, device: str = "cpu") -> np.ndarray:
    """Mean next-token NLL at each position of the windows (shifted labels). The last position has no
    future token in its input, like every step of generation."""
    model.eval()
    total = None
    n = 0
    for i in range(0, windows.size(0), batch_size):
        x, y = corpus.collate(list(windows[i:i + batch_size]), shift_labels=True)
        logits, _ = model(x.to(device))
        nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), y.to(device), reduction="none",
                                                ignore_index=-100)
        total = nll.sum(0) if total is None else total + nll.sum(0)
        n += x.size(0)
    return (total / n).cpu().numpy()


def ngram_baselines(data: Data, k: float = 0.1) -> dict:
    """Validation perplexity of add-k unigram and bigram models fitted on the training windows: any real
    model must beat the unigram one; a reported PPL far below what the architecture can reach is a leak."""
    V = data.vocab_size
    tr = data.train[:, :-1].reshape(-1).numpy()
    va = data.val.numpy()
    uni = np.bincount(tr, minlength=V) + k
    uni = uni / uni.sum()
    x, y = va[:, :-1].reshape(-1), va[:, 1:].reshape(-1)
    uni_ppl = float(np.exp(-np.log(uni[y]).mean()))
    pairs = data.train.numpy()
    a, b = pairs[:, :-1].reshape(-1), pairs[:, 1:].reshape(-1)
    key = a.astype(np.int64) * V + b
    uniq, counts = np.unique(key, return_counts=True)
    ctx = np.bincount(a, minlength=V)
    q = x.astype(np.int64) * V + y
    pos = np.searchsorted(uniq, q)
    pos = np.minimum(pos, len(uniq) - 1)
    c = np.where(uniq[pos] == q, counts[pos], 0)
    bi = (c + k) / (ctx[x] + k * V)
    return {"unigram": uni_ppl, "bigram (add-0.1)": float(np.exp(-np.log(bi).mean()))}


def generations(model, data: Data, prompts: list[str], decoders: list[str], max_new_tokens: int, seed: int,
                context: int) -> list[dict]:
    rows = []
    for name in decoders:
        for i, prompt in enumerate(prompts):
            ids = generate(model, data.encode(prompt), max_new_tokens, DECODERS[name], seed=seed + i, context=context)
            rows.append({"decoder": name, "prompt": prompt, "ids": ids, "text": data.decode(ids)})
    return rows


def diversity_table(rows: list[dict]) -> dict:
    """textstats.summary per decoder over the prompts."""
    out = {}
    for name in dict.fromkeys(r["decoder"] for r in rows):
        sel = [r for r in rows if r["decoder"] == name]
        out[name] = textstats.summary([r["ids"] for r in sel], [r["text"] or " " for r in sel])
    return out


def leak_report(p: dict, data: Data) -> list[dict]:
    """Both leak tests on the original and the fixed set-up, on freshly initialised models of the chapter size."""
    rows = []
    for name, causal, shift in (("original", False, False), ("fixed", True, True)):
        torch.manual_seed(0)
        model = Infinito(model_config(p, data, causal=causal))
        shift_result = leaks.label_shift_test_collate(corpus.make_collate(shift))
        causal_result = leaks.causality_test(model, data.vocab_size, seq_len=min(p["seq_len"], 32))
        rows.append({"set-up": name, "label-shift test": "pass" if shift_result else "FAIL",
                     "causality test": "pass" if causal_result else "FAIL",
                     "label-shift detail": shift_result.detail, "causality detail": causal_result.detail})
    return rows


def save_results(stem: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=1, default=float))
    return path


def rounded(x: float, digits: int = 2) -> float:
    return float(round(x, digits)) if math.isfinite(x) else x


def final_train_loss(result, last: int = 5) -> float:
    """Mean language-model loss of the last training steps (without the IIT term)."""
    tail = result.history[-last:]
    return float(np.mean([h.get("lm_loss", h["loss"]) for h in tail]))
