"""Infinito V5.2 re-implemented from its description (003_3cc34b719484f3c9.txt) on top of ``lab.gpt``.

The original ("InfinitoV52Refactored", 65,324,439 parameters) is the clean GPT with these switches set:
no causal mask, post-LayerNorm blocks, PyTorch default initialisation, 1,000 learned positions, an
output projection with bias and no weight tying, plus four extras, each behind a flag here:

- ``iit``: the "IIT" auxiliary loss. On the last layer's hidden states h and the attention probabilities
  (averaged over layers, heads and queries, as the original code does) it computes four numbers in [0, 1]:
  temporal = mean cosine of consecutive positions mapped to [0, 1]; integration = mean |cos| between the
  means of the four quarters of the sequence; complexity = sigmoid(10 var(h)); attention diversity =
  entropy of the averaged attention / log T. "Learnable phi weights" w = softmax(four logits, initialised
  so that w = (0.3, 0.3, 0.2, 0.2)); phi_w = sum w_i c_i; phi_base = clamp(3 * sum w0_i c_i, 0, 10); the loss
  adds lambda_phi * [mean (phi_w - 1.2)^2 + mean relu(phi_base - phi_w)]. With ``iit=False`` nothing of this
  is computed and the phi logits never receive a gradient (the original's model B, whose script never
  computed the term).
- ``memory``: an external memory of 256 slots that is read (it is empty, so reads return zeros, which the
  original never adds to anything) and written only when a priority <= 0.8 + 0.1 exceeds a threshold
  initialised at 3.0: it never writes. Its parameters (two 512x512 projections, the threshold) still count.
- ``exploration``: Gaussian noise with a learnable scale (init 0.1) added after every block in training.
- two projections the original's IIT module creates and never uses (they count towards 65,324,439).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn as nn
from torch.nn import functional as F

from .gpt import GPT, GPTConfig

ORIGINAL_PARAMETERS = 65_324_439
COMPONENTS = ("temporal", "integration", "complexity", "attention")


@dataclass
class InfinitoConfig(GPTConfig):
    iit: bool = True
    lambda_phi: float = 0.3
    phi_init: tuple = (0.3, 0.3, 0.2, 0.2)
    target_phi: float = 1.2
    memory: bool = True
    memory_slots: int = 256
    memory_threshold: float = 3.0
    memory_alpha: float = 0.8
    exploration: bool = True
    exploration_sigma: float = 0.1
    unused_iit_projections: bool = True

    def __post_init__(self):
        super().__post_init__()
        if len(self.phi_init) != 4 or min(self.phi_init) <= 0:
            raise ValueError(f"phi_init needs four positive weights, got {self.phi_init!r}")
        self.phi_init = tuple(float(w) for w in self.phi_init)


def original_config(**overrides) -> InfinitoConfig:
    """The configuration of the reported model A (65,324,439 parameters)."""
    base = dict(vocab_size=50257, block_size=1000, n_layer=4, n_head=8, n_embd=512, dropout=0.15, bias=True,
                causal_mask=False, prenorm=False, tie_weights=False, init="torch", attn_out_dropout=False,
                mlp_hidden_dropout=True)
    base.update(overrides)
    return InfinitoConfig(**base)


def fixed_config(**overrides) -> InfinitoConfig:
    """The original with its attention bug fixed (causal mask on); everything else unchanged."""
    return original_config(**{"causal_mask": True, **overrides})


def scaled(config: InfinitoConfig, **sizes) -> InfinitoConfig:
    """The same design at another size (n_layer, n_head, n_embd, block_size, vocab_size...)."""
    known = {f.name for f in fields(InfinitoConfig)}
    unknown = sorted(set(sizes) - known)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}")
    return replace(config, **sizes)


# ---------------------------------------------------------------- the four "IIT" components

def temporal_coherence(h: torch.Tensor) -> torch.Tensor:
    n = F.normalize(h, dim=-1)
    return ((n[:, :-1] * n[:, 1:]).sum(-1).mean(1) + 1.0) / 2.0


def integration_strength(h: torch.Tensor) -> torch.Tensor:
    q = h.size(1) // 4
    means = torch.stack([h[:, i * q:(i + 1) * q].mean(1) for i in range(4)], 1)
    m = F.normalize(means, dim=-1)
    cos = m @ m.transpose(1, 2)
    i, j = torch.triu_indices(4, 4, offset=1, device=h.device)
    return cos[:, i, j].abs().mean(1)


def complexity(h: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(10.0 * h.var(dim=(1, 2)))


def attention_diversity(attn_mean: torch.Tensor) -> torch.Tensor:
    entropy = -(attn_mean * torch.log(attn_mean + 1e-10)).sum(-1)
    return entropy / math.log(attn_mean.size(-1))


class NeverWritingMemory(nn.Module):
    """The original's "IIT-guided memory", reduced to what it does: a write rule that never fires."""

    def __init__(self, config: InfinitoConfig):
        super().__init__()
        d, n = config.n_embd, config.memory_slots
        self.alpha = config.memory_alpha
        self.query_proj = nn.Linear(d, d)
        self.key_proj = nn.Linear(d, d)  # created by the original, never used
        self.threshold_logit = nn.Parameter(torch.tensor(config.memory_threshold).log())
        self.register_buffer("keys", torch.zeros(n, d))
        self.register_buffer("values", torch.zeros(n, d))
        self.register_buffer("write_count", torch.zeros((), dtype=torch.long))
        self.register_buffer("global_time", torch.zeros((), dtype=torch.long))

    def priority(self, phi: torch.Tensor) -> torch.Tensor:
        recency = 0.1 * torch.exp(-(self.global_time - self.write_count).float() / 100.0)
        return self.alpha * (phi / 10.0).clamp(0, 1) + recency

    @torch.no_grad()
    def write(self, summary: torch.Tensor, phi: torch.Tensor) -> int:
        wants = self.priority(phi) > self.threshold_logit.exp()
        slots = self.keys.size(0)
        n = int(min(int(wants.sum()), slots - int(self.write_count.clamp(max=slots))))
        if n > 0:  # never reached with the original settings; kept so the rule is the original's
            start = int(self.write_count)
            self.keys[start:start + n] = self.query_proj(summary[wants][:n])
            self.values[start:start + n] = summary[wants][:n]
            self.write_count += n
        self.global_time += 1
        return n

    def read(self, summary: torch.Tensor, top_k: int = 5) -> torch.Tensor:
        if int(self.write_count) == 0:
            return torch.zeros_like(summary)
        q = self.query_proj(summary)
        used = int(self.write_count.clamp(max=self.keys.size(0)))
        scores = q @ self.keys[:used].T / math.sqrt(q.size(-1))
        top, idx = scores.topk(min(top_k, used), dim=-1)
        return self.values[idx].mean(1)


class Infinito(GPT):
    def __init__(self, config: InfinitoConfig):
        super().__init__(config)
        d = config.n_embd
        if config.unused_iit_projections:
            self.unused_phi_projector = nn.Linear(d, d // 2)
            self.unused_complexity_analyzer = nn.Linear(d, 64)
        # Logits log(w0): a softmax over them starts exactly at the reported initial weights.
        self.phi_logits = nn.Parameter(torch.tensor(config.phi_init).log())
        self.register_buffer("phi_base_weights", torch.tensor(config.phi_init), persistent=False)
        self.memory = NeverWritingMemory(config) if config.memory else None
        self.exploration_sigma = nn.Parameter(torch.tensor(config.exploration_sigma)) if config.exploration else None
        self.last_metrics: dict = {}

    def phi_weights(self) -> dict:
        w = self.phi_logits.detach().softmax(0).tolist()
        return dict(zip(COMPONENTS, w))

    def _explore(self, layer: int, x: torch.Tensor):
        return x + torch.randn_like(x) * self.exploration_sigma

    def iit_terms(self, h: torch.Tensor, summaries: list) -> dict:
        attn = torch.stack(summaries, 0).mean(0).float()
        h = h.float()
        c = torch.stack([temporal_coherence(h), integration_strength(h), complexity(h), attention_diversity(attn)], 1)
        phi_base = (3.0 * (c * self.phi_base_weights).sum(1)).clamp(0, 10)
        phi_w = (c * self.phi_logits.softmax(0)).sum(1)
        aux = F.mse_loss(phi_w, torch.full_like(phi_w, self.config.target_phi)) + F.relu(phi_base - phi_w).mean()
        return {"components": c.mean(0).detach(), "phi_base": phi_base, "phi_w": phi_w, "aux": aux}

    def forward(self, idx: torch.Tensor, labels: torch.Tensor | None = None):
        cfg = self.config
        need_iit = cfg.iit and self.training
        hook = self._explore if (self.training and self.exploration_sigma is not None) else None
        h, summaries = self.trunk(idx, need_weights=need_iit, hook=hook)
        metrics = {}
        terms = self.iit_terms(h, summaries) if need_iit else None
        if self.memory is not None:
            summary = h.detach().mean(1)
            self.memory.read(summary)  # the original computes a read and never uses it
            phi = terms["phi_w"].detach() if terms is not None else torch.ones(h.size(0), device=h.device)
            metrics["memory_writes"] = self.memory.write(summary, phi)
        logits = self.lm_head(self.ln_f(h))
        loss = None
        if labels is not None:
            lm = self.lm_loss(logits, labels)
            loss = lm
            metrics["lm_loss"] = lm.detach()
            if terms is not None:
                loss = lm + cfg.lambda_phi * terms["aux"]
                metrics.update(aux_loss=terms["aux"].detach(), components=terms["components"],
                               phi_w=terms["phi_w"].detach().mean())
        self.last_metrics = metrics
        return logits, loss


def build(config: GPTConfig) -> GPT:
    """The model a config describes: ``Infinito`` for an ``InfinitoConfig``, else the clean ``GPT``."""
    return Infinito(config) if isinstance(config, InfinitoConfig) else GPT(config)
