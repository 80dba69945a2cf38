"""White-box local backend: a causal LM under transformers, with batched KV-cached generation.

``LocalLM`` runs many :class:`~lab.dynamics.actions.Condition` rows in one batch (left-padded, one KV
cache): embedding noise (C) is added to the prompt's input embeddings, the logit tail bias (D) is a
per-row logit processor, and the shock (E) is forced into the sequence at its decoding step. The same
mechanics serve teacher-forced scoring, so the perturbed next-token distributions can be compared with
the control's exactly. ``lab.dynamics.chapter.open_backends`` opens this or the OpenAI-compatible client
(``lab.dynamics.api``) from a page's parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

from .. import models
from . import identity
from .actions import Condition


class BackendError(ValueError):
    """A backend that cannot be opened: unknown model, bad path, missing key."""


@dataclass
class Generation:
    condition: Condition
    tokens: list[int]  # the continuation (shock tokens included for E), without the EOS
    text: str


class LocalTokenizer:
    """A local model's tokenizer alone (an API model's token-level actions need no weights: an 8B model's
    tokenizer is megabytes, its weights 32 GB)."""

    def __init__(self, tokenizer, name: str = "local"):
        self.tokenizer, self.name = tokenizer, name

    @classmethod
    def load(cls, model: str) -> "LocalTokenizer":
        """The tokenizer of a registry name, a local HF directory, a .gguf file or a hub id, without the weights."""
        try:
            return cls(models.load_tokenizer(model), name=model)
        except KeyError as exc:
            raise BackendError(str(exc) if isinstance(exc, models.ModelUnavailable) else str(exc.args[0])) from None

    @cached_property
    def identity(self) -> str:
        """Content hash of the vocabulary and chat template (what the token-level actions depend on)."""
        import hashlib

        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        text = (backend.to_str() if backend is not None else repr(sorted(self.tokenizer.get_vocab().items())))
        text += str(getattr(self.tokenizer, "chat_template", None))
        return "tokenizer:" + hashlib.sha256(text.encode()).hexdigest()

    # ------------------------------------------------------------ vocabulary (see actions.Vocabulary)
    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    @property
    def has_chat_template(self) -> bool:
        return getattr(self.tokenizer, "chat_template", None) is not None

    def chat_prompt(self, text: str) -> list[int]:
        """``text`` as one user message through the model's own chat template (its default system prompt
        included), ready for the assistant's answer."""
        if not self.has_chat_template:
            raise BackendError(f"{self.name} has no chat template (a base model): the chat format cannot be run")
        out = self.tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                 tokenize=True)
        return list(out["input_ids"] if hasattr(out, "keys") else out)

    @cached_property
    def n_special_prefix(self) -> int:
        ids = self.encode("a")
        special = set(self.tokenizer.all_special_ids)
        return next((i for i, t in enumerate(ids) if t not in special), len(ids))

    @cached_property
    def rare_pool(self) -> list[int]:
        """500 rare tokens: the last-learned ordinary word pieces of the vocabulary.

        Frequency proxy: BPE vocabularies are numbered in merge order and SentencePiece ones by score,
        so the highest ids that decode to plain letters are among the least frequent pieces. Stated as
        a proxy, not a count."""
        special = set(self.tokenizer.all_special_ids)
        pool = []
        for tid in range(len(self.tokenizer) - 1, -1, -1):
            if tid in special:
                continue
            piece = self.tokenizer.decode([tid]).strip()
            if len(piece) >= 2 and piece.isalpha() and piece.isascii():
                pool.append(tid)
                if len(pool) == 500:
                    break
        if not pool:
            raise BackendError("the tokenizer has no plain-letter tokens to use as rare tokens")
        return pool



class LocalLM(LocalTokenizer):
    """A local causal LM (transformers) with token, embedding and logit access."""

    supports = {"logprobs": True, "exact_kl": True, "embeddings": True, "tail_bias": True}

    def __init__(self, model, tokenizer, name: str = "local", path=None, files_sha256: str | None = None):
        import torch

        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.path = path  # the files it was loaded from (None: built in memory)
        self._files_sha256 = files_sha256  # their hash, when the loader has already read them
        self.device = next(model.parameters()).device
        self.torch = torch
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (
            tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0)
        self.eos_id = tokenizer.eos_token_id

    @classmethod
    def load(cls, model: str, device: str = "cpu", dtype: str = "float32") -> "LocalLM":
        """A registry name (``smollm2-135m``, ``gemma3-270m``), a local HF directory, a .gguf file or a
        Hugging Face hub id, on ``device`` (``auto`` allowed) in ``dtype`` (see ``lab.models.load``)."""
        try:
            src = models.source(model)
        except KeyError as exc:
            raise BackendError(str(exc) if isinstance(exc, models.ModelUnavailable) else str(exc.args[0])) from None
        lm, tok = models.load(model, dtype=dtype, device=device)
        return cls(lm, tok, name=model, path=src.path, files_sha256=models.LOADED[model].files_sha256)

    @cached_property
    def identity(self) -> str:
        """Content hash of the model (weights, config, tokenizer files), never its name, with the dtype and
        device type it runs in (bf16 or a GPU kernel can change a greedy path): results cached under it are
        reused only for the same model run the same way (see ``lab.dynamics.identity``)."""
        dtype = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        where = f":{dtype}:{self.device.type}"
        if self.path is not None:
            return "files:" + (self._files_sha256 or identity.model_files(self.path)) + where
        return "weights:" + identity.state_dict(self.model) + where

    # ------------------------------------------------------------ mechanics shared by both passes
    def _embed(self, ids, mask, conditions: Sequence[Condition], prompt_lens: Sequence[int]):
        """Input embeddings of left-padded ``ids``, with C's noise on each row's prompt positions."""
        torch = self.torch
        emb = self.model.get_input_embeddings()(ids)
        width = ids.shape[1]
        for r, c in enumerate(conditions):
            if c.noise_alpha:
                n, d = prompt_lens[r], emb.shape[-1]
                start = width - int(mask[r].sum())  # first real token of the row
                g = torch.Generator().manual_seed(int(c.noise_seed))
                noise = torch.randn(n, d, generator=g) * (c.noise_alpha / (n * d) ** 0.5)
                emb[r, start:start + n] = emb[r, start:start + n] + noise.to(emb.dtype).to(emb.device)
        return emb

    def _process(self, logits, conditions: Sequence[Condition]):
        """D: add each row's bias to every logit outside its top-k. ``logits`` is [rows, ..., vocab]."""
        torch = self.torch
        bias = torch.tensor([c.tail_bias for c in conditions], dtype=logits.dtype, device=logits.device)
        if not bool((bias != 0).any()):
            return logits
        k = torch.tensor([max(c.tail_top_k, 1) for c in conditions], device=logits.device)
        kmax = int(k.max())
        top = logits.topk(kmax, dim=-1).indices
        keep = torch.arange(kmax, device=logits.device) < k.view(-1, *[1] * (logits.dim() - 1))
        tail = torch.ones_like(logits).scatter_(-1, top, (~keep).to(logits.dtype).expand_as(top))
        return logits + bias.view(-1, *[1] * (logits.dim() - 1)) * tail

    def _left_pad(self, rows: Sequence[Sequence[int]]):
        torch = self.torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = torch.tensor(list(r), dtype=torch.long)
            mask[i, width - len(r):] = 1
        return ids.to(self.device), mask.to(self.device)

    # ------------------------------------------------------------ generation
    def generate(self, conditions: Sequence[Condition], max_new_tokens: int, temperature: float = 0.0,
                 batch_size: int = 64, progress: Callable[[int], None] | None = None) -> list[Generation]:
        """Continue every condition; identical conditions are computed once. Greedy when temperature=0,
        else sampled with a generator seeded by each condition's seed."""
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        sampled = temperature > 0
        unique: dict[tuple, Condition] = {}
        for c in conditions:
            unique.setdefault(c.key(sampled), c)
        # Similar prompt lengths share a batch, which keeps padding (and wasted compute) small.
        order = sorted(unique, key=lambda k: len(unique[k].prompt_ids))  # stable: ties keep input order
        done: dict[tuple, list[int]] = {}
        for start in range(0, len(order), batch_size):
            keys = order[start:start + batch_size]
            for key, toks in zip(keys, self._generate_batch([unique[k] for k in keys], max_new_tokens,
                                                             temperature)):
                done[key] = toks
            if progress:
                progress(len(keys))
        out = []
        for c in conditions:
            toks = done[c.key(sampled)]
            out.append(Generation(c, toks, self.decode(toks)))
        return out

    def _generate_batch(self, conds: Sequence[Condition], max_new_tokens: int, temperature: float):
        torch = self.torch
        ids, mask = self._left_pad([c.prompt_ids for c in conds])
        with torch.inference_mode():
            emb = self._embed(ids, mask, conds, [len(c.prompt_ids) for c in conds])
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            out = self.model(inputs_embeds=emb, attention_mask=mask, position_ids=pos, use_cache=True,
                             logits_to_keep=1)
            # the logits alone go to float32 (tail bias, softmax, argmax ties); the model stays in its dtype
            cache, logits = out.past_key_values, out.logits[:, -1, :].float()
            gens = [torch.Generator().manual_seed(int(c.seed)) for c in conds] if temperature > 0 else None
            finished = torch.zeros(len(conds), dtype=torch.bool, device=self.device)
            chosen = []
            for step in range(max_new_tokens):
                logits = self._process(logits, conds)
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1).cpu()
                    nxt = torch.stack([torch.multinomial(probs[r], 1, generator=gens[r])[0]
                                       for r in range(len(conds))]).to(self.device)
                else:
                    nxt = logits.argmax(-1)
                for r, c in enumerate(conds):  # E: the shock replaces the model's choice for its steps
                    if c.shock_ids and c.shock_step is not None and 0 <= step - c.shock_step < len(c.shock_ids):
                        nxt[r] = c.shock_ids[step - c.shock_step]
                if self.eos_id is not None:
                    nxt = torch.where(finished, torch.full_like(nxt, self.eos_id), nxt)
                    finished |= nxt == self.eos_id
                chosen.append(nxt)
                if bool(finished.all()) or step == max_new_tokens - 1:
                    break
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                pos = pos[:, -1:] + 1
                out = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=pos,
                                 past_key_values=cache, use_cache=True)
                cache, logits = out.past_key_values, out.logits[:, -1, :].float()
        rows = torch.stack(chosen, dim=1).tolist()
        return [r[:r.index(self.eos_id)] if self.eos_id in r else r for r in rows]

    # ------------------------------------------------------------ teacher forcing
    def teacher_forced(self, conditions: Sequence[Condition], continuations: Sequence[Sequence[int]],
                       reduce: Callable, batch_size: int = 8) -> list:
        """For each row: the next-token log-probabilities [T, vocab] (float32, after the row's logit
        processor, temperature 1) that predict each token of its continuation, passed to
        ``reduce(row_index, logprobs, continuation)``; returns the reduced values in input order.

        The row's context is its prompt + continuation, with E's shock tokens placed at their decoding
        step (their own predictions are not scored), and C's noise on the prompt embeddings."""
        torch = self.torch
        results = [None] * len(conditions)
        for start in range(0, len(conditions), batch_size):
            idx = list(range(start, min(start + batch_size, len(conditions))))
            seqs, targets = [], []
            for i in idx:
                c, cont = conditions[i], list(continuations[i])
                seq, tpos = list(c.prompt_ids), []
                for j, tok in enumerate(cont):
                    if c.shock_ids and c.shock_step == j:
                        seq.extend(c.shock_ids)
                    tpos.append(len(seq) - 1)  # the position whose output predicts ``tok``
                    seq.append(tok)
                seqs.append(seq)
                targets.append(tpos)
            ids, mask = self._left_pad(seqs)
            width = ids.shape[1]
            keep = max(len(s) - t[0] for s, t in zip(seqs, targets) if t) if any(targets) else 1
            with torch.inference_mode():
                emb = self._embed(ids, mask, [conditions[i] for i in idx], [len(conditions[i].prompt_ids) for i in idx])
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = self.model(inputs_embeds=emb, attention_mask=mask, position_ids=pos,
                                    logits_to_keep=keep).logits.float()  # float32 log-softmax and KL only
                for r, i in enumerate(idx):
                    if not targets[r]:
                        results[i] = reduce(i, logits.new_zeros((0, logits.shape[-1])), [])
                        continue
                    offset = width - len(seqs[r])  # left padding of this row
                    rows = torch.tensor([offset + p - (width - keep) for p in targets[r]], device=logits.device)
                    row_logits = self._process(logits[r, rows][None], [conditions[i]])[0]
                    results[i] = reduce(i, torch.log_softmax(row_logits, dim=-1), list(continuations[i]))
        return results

    def generate_one_by_one(self, conditions: Sequence[Condition], max_new_tokens: int) -> list[list[int]]:
        """Baseline for the benchmark: one ``model.generate`` call per condition (greedy), with the same
        perturbations applied through generate's own hooks (inputs_embeds, a logits processor, and two
        calls around E's shock)."""
        torch = self.torch
        from transformers import LogitsProcessor, LogitsProcessorList

        lm = self

        class TailBias(LogitsProcessor):
            def __init__(self, c):
                self.c = c

            def __call__(self, input_ids, scores):
                return lm._process(scores, [self.c])

        outs = []
        for c in conditions:
            processors = LogitsProcessorList([TailBias(c)]) if c.tail_bias else None
            toks: list[int] = []

            def run(n: int) -> list[int]:
                ids = torch.tensor([list(c.prompt_ids) + toks], device=self.device)
                mask = torch.ones_like(ids)
                with torch.inference_mode():
                    emb = self._embed(ids, mask, [c], [len(c.prompt_ids)])
                    g = self.model.generate(inputs_embeds=emb, attention_mask=mask, max_new_tokens=n,
                                            do_sample=False, pad_token_id=self.pad_id, logits_processor=processors)
                return g[0].tolist()  # with inputs_embeds only, generate returns the new tokens only

            if c.shock_ids and c.shock_step is not None:
                toks = run(c.shock_step) if c.shock_step > 0 else []
                if self.eos_id not in toks and len(toks) == c.shock_step:
                    toks = (toks + list(c.shock_ids))[:max_new_tokens]
                    if len(toks) < max_new_tokens:
                        toks = toks + run(max_new_tokens - len(toks))
            else:
                toks = run(max_new_tokens)
            outs.append(toks[:toks.index(self.eos_id)] if self.eos_id in toks else toks)
        return outs
