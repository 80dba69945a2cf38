"""Decoding from a ``lab.gpt`` model: greedy, temperature, top-k, top-p and repetition penalty, seeded."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class Decoder:
    name: str
    temperature: float = 0.0  # 0 = greedy
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0  # CTRL-style: divides positive logits of seen tokens, multiplies negative

    def __post_init__(self):
        if self.temperature < 0 or self.repetition_penalty <= 0:
            raise ValueError(f"decoder {self.name!r}: temperature must be >= 0 and repetition_penalty > 0")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"decoder {self.name!r}: top_p must be in (0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)


# The three presets of the script that produced the reported generations, each 50 tokens, stopping at the
# end-of-text token, on its five prompts: webtilians/principiodelTodo@9a2da8afe9d94f526e316b631344af3d82b45ed4:
# archive/analysis/analyze_trained_model.py (test_generation_quality, generate_text). Every preset samples
# after top-k and top-p filtering; "Greedy" is greedy only through top-k 1.
SCRIPT_SOURCE = ("webtilians/principiodelTodo@9a2da8afe9d94f526e316b631344af3d82b45ed4:"
                 "archive/analysis/analyze_trained_model.py")
SCRIPT_PRESETS = {d.name: d for d in (
    Decoder("Greedy (script)", temperature=0.1, top_k=1, top_p=1.0),
    Decoder("Balanced (script)", temperature=0.8, top_k=50, top_p=0.9),
    Decoder("Creative (script)", temperature=1.2, top_k=40, top_p=0.95),
)}
SCRIPT_MAX_NEW_TOKENS = 50
SCRIPT_PROMPTS = ("The meaning of life is", "In the beginning", "Artificial intelligence", "Once upon a time",
                  "The future of humanity")

# The book's own decoders, an addition to the script's: argmax, plain temperatures, top-k, top-p alone and a
# repetition penalty (no end-of-text stop, length set by the chapter).
BOOK_DECODERS = {d.name: d for d in (
    Decoder("greedy"),
    Decoder("temperature 0.7", temperature=0.7),
    Decoder("temperature 1.0", temperature=1.0),
    Decoder("temperature 1.2", temperature=1.2),
    Decoder("top-k 40", temperature=0.9, top_k=40),
    Decoder("top-p 0.9", temperature=1.0, top_p=0.9),
    Decoder("repetition penalty 1.3", temperature=0.7, repetition_penalty=1.3),
)}
DECODERS = {**SCRIPT_PRESETS, **BOOK_DECODERS}


def _filter(logits: torch.Tensor, d: Decoder, seen: torch.Tensor | None) -> torch.Tensor:
    if d.repetition_penalty != 1.0 and seen is not None and seen.numel():
        picked = logits[seen]
        logits[seen] = torch.where(picked > 0, picked / d.repetition_penalty, picked * d.repetition_penalty)
    if d.temperature == 0:
        return logits
    logits = logits / d.temperature
    if d.top_k is not None:
        kth = torch.topk(logits, min(d.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if d.top_p is not None:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # The script's rule: drop a token once the mass before it exceeds top_p (the first token always stays).
        drop = cumulative - sorted_logits.softmax(-1) > d.top_p
        logits[order[drop]] = float("-inf")
    return logits


@torch.no_grad()
def generate(model, prompt: list[int], max_new_tokens: int, decoder: Decoder, seed: int = 0,
             context: int | None = None, stop_id: int | None = None) -> list[int]:
    """Continuation token ids (without the prompt). ``context``: the longest window fed to the model
    (default its block_size); training on windows of T makes T the natural choice. ``stop_id``: generation
    ends when this token is drawn (it is not returned), as the script stops at the end-of-text token."""
    if not prompt:
        raise ValueError("generate needs a non-empty prompt")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    context = context or model.config.block_size
    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = torch.tensor(prompt, dtype=torch.long, device=device)
    out = []
    try:
        for _ in range(max_new_tokens):
            window = ids[-context:]
            logits = model(window[None])[0][0, -1].float().cpu().clone()
            logits = _filter(logits, decoder, ids.cpu().unique() if decoder.repetition_penalty != 1.0 else None)
            if decoder.temperature == 0:
                nxt = int(logits.argmax())
            else:
                nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=g))
            if stop_id is not None and nxt == stop_id:
                break
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([nxt], device=device)])
    finally:
        model.train(was_training)
    return out
