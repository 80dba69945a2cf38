"""Loading pretrained causal LMs from the asset cache or a local directory, and scoring text with them."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from . import assets


def resolve(model: str) -> Path:
    """A registry model name (see ``lab.assets.MODELS``) or an existing local HF directory / GGUF file."""
    if model in assets.MODELS:
        return assets.model_dir(model)
    p = Path(model).expanduser()
    if p.exists():
        return p
    raise KeyError(f"unknown model {model!r}: valid choices are {', '.join(assets.MODELS)} "
                   "or the path of a local Hugging Face directory or .gguf file")


def load(model: str, dtype: str = "float32", device: str = "cpu"):
    """(model, tokenizer) in eval mode; never touches a hub (HF_HUB_OFFLINE is forced)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(model)
    kwargs = {"dtype": getattr(torch, dtype)}
    if path.suffix == ".gguf":
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        lm = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, **kwargs)
    else:
        tok = AutoTokenizer.from_pretrained(path)
        lm = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    return lm.to(device).eval(), tok


def parameter_counts(lm) -> dict:
    """Total, embedding and non-embedding parameters (tied embeddings counted once)."""
    seen, total = set(), 0
    for p in lm.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    emb = lm.get_input_embeddings().weight.numel()
    return {"total": total, "embedding": emb, "non_embedding": total - emb,
            "tied_embeddings": bool(getattr(lm.config, "tie_word_embeddings", False))}


@dataclass
class Scored:
    """Per-token log-probabilities (natural log) of a text under a model, scored in one window."""

    tokens: list[str]
    logprobs: list[float]  # for tokens[1:], each conditioned on all tokens before it
    n_words: int
    n_bytes: int

    @property
    def nll(self) -> float:
        return -sum(self.logprobs)

    @property
    def ppl_token(self) -> float:
        return math.exp(self.nll / len(self.logprobs))

    @property
    def ppl_word(self) -> float:
        """exp(total NLL / words): comparable across tokenizers, unlike per-token perplexity."""
        return math.exp(self.nll / self.n_words)

    @property
    def bits_per_byte(self) -> float:
        return self.nll / math.log(2) / self.n_bytes


def score(lm, tok, text: str, max_tokens: int = 1024) -> Scored:
    """Teacher-forced log-probabilities of ``text``; the first token (no context) is not scored."""
    import torch

    ids = tok(text, return_tensors="pt").input_ids[:, :max_tokens].to(lm.device)
    with torch.no_grad():
        logits = lm(ids).logits.float()
    logp = torch.log_softmax(logits[0, :-1], dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    scored_text = tok.decode(ids[0, 1:])
    return Scored(tokens=tok.convert_ids_to_tokens(ids[0].tolist()), logprobs=logp.tolist(),
                  n_words=len(scored_text.split()), n_bytes=len(scored_text.encode()))


def greedy(lm, tok, prompt: str, max_new_tokens: int) -> str:
    """Greedy continuation of a raw-text prompt (no chat template)."""
    import torch

    ids = tok(prompt, return_tensors="pt").input_ids.to(lm.device)
    with torch.no_grad():
        out = lm.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                          pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
