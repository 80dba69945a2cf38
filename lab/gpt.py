"""A clean GPT language model (nanoGPT-style), with switches for the choices Part II re-examines.

One file, one model. Attention goes through ``F.scaled_dot_product_attention`` (flash / memory-efficient
kernels where available). The switches exist so that the Infinito V5.2 re-implementation (``lab.infinito``)
is this model plus its extras, one flag apart from the clean version:

- ``causal_mask``: off lets every position attend to the future (the original's bug);
- ``prenorm``: pre-LayerNorm blocks plus a final LayerNorm (GPT-2) or post-LayerNorm blocks (the
  original, like ``nn.TransformerEncoderLayer``), which have no final LayerNorm;
- ``init``: GPT-2 initialisation (normal 0.02) or PyTorch's defaults (the original);
- ``tie_weights``, ``bias``, ``dropout`` and where dropout sits (``attn_out_dropout``, ``mlp_hidden_dropout``).

``forward(idx, labels)`` returns ``(logits, loss)``; labels are already aligned with the logits (the
data pipeline shifts them, see ``lab.corpus.collate``), and ``-100`` marks positions without a target.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

IGNORE_INDEX = -100


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 256  # learned positions available (the longest input)
    n_layer: int = 4
    n_head: int = 8
    n_embd: int = 512
    dropout: float = 0.0
    bias: bool = True
    causal_mask: bool = True
    prenorm: bool = True
    tie_weights: bool = False
    init: str = "gpt2"  # "gpt2" | "torch"
    attn_out_dropout: bool = True  # dropout after the attention projection (nanoGPT); the original has none
    mlp_hidden_dropout: bool = False  # dropout after the GELU (the original); nanoGPT has none
    pos_init_std: float = 0.02

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if self.init not in ("gpt2", "torch"):
            raise ValueError(f"init must be 'gpt2' or 'torch', got {self.init!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class SelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.causal = config.causal_mask
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.out_dropout = nn.Dropout(config.dropout if config.attn_out_dropout else 0.0)

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        """Returns (output, attention summary). The summary, only with ``need_weights``, is the attention
        probability each key receives, averaged over heads and queries: [batch, seq]."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        p = self.attn_dropout if self.training else 0.0
        summary = None
        if need_weights:
            # SDPA does not return the probabilities; this path computes the same attention explicitly.
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
            if self.causal:
                mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
                scores = scores.masked_fill(~mask, float("-inf"))
            att = F.dropout(scores.softmax(dim=-1), p=p, training=self.training)
            summary = att.mean(dim=(1, 2))
            y = att @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.out_dropout(self.c_proj(y)), summary


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.hidden_dropout = nn.Dropout(config.dropout if config.mlp_hidden_dropout else 0.0)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.hidden_dropout(self.gelu(self.c_fc(x)))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.prenorm = config.prenorm
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, need_weights: bool = False):
        if self.prenorm:
            a, summary = self.attn(self.ln_1(x), need_weights)
            x = x + a
            return x + self.mlp(self.ln_2(x)), summary
        a, summary = self.attn(x, need_weights)
        x = self.ln_1(x + a)
        return self.ln_2(x + self.mlp(x)), summary


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Parameter(torch.randn(config.block_size, config.n_embd) * config.pos_init_std)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        # Post-LN blocks end in a LayerNorm already; a final one is part of the pre-LN design only.
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias) if config.prenorm else nn.Identity()
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=not config.tie_weights and config.bias)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight
        if config.init == "gpt2":
            self.apply(self._init_weights)
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):  # GPT-2's scaled init of the residual projections
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"sequence of length {T} exceeds block_size {self.config.block_size}")
        return self.drop(self.wte(idx) + self.wpe[:T])

    def trunk(self, idx: torch.Tensor, need_weights: bool = False, hook=None):
        """Hidden states after the last block (before ln_f) and the per-layer attention summaries.
        ``hook(layer, hidden)``, if given, may return a replacement for the hidden state after a block."""
        x = self.embed(idx)
        summaries = []
        for i, block in enumerate(self.blocks):
            x, summary = block(x, need_weights)
            summaries.append(summary)
            if hook is not None:
                out = hook(i, x)
                x = x if out is None else out
        return x, summaries

    @staticmethod
    def lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.reshape(-1),
                               ignore_index=IGNORE_INDEX)

    def forward(self, idx: torch.Tensor, labels: torch.Tensor | None = None):
        x, _ = self.trunk(idx)
        logits = self.lm_head(self.ln_f(x))
        loss = None if labels is None else self.lm_loss(logits, labels)
        return logits, loss

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token (forward + backward), PaLM appendix B: 6N + 12 L H Q T."""
        c = self.config
        n = self.num_parameters() - self.wpe.numel()
        return 6 * n + 12 * c.n_layer * c.n_head * (c.n_embd // c.n_head) * seq_len

    def configure_optimizer(self, lr: float, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8,
                            decay_all: bool = True):
        return make_adamw(self, lr, weight_decay, betas, eps, decay_all)


def make_adamw(model: nn.Module, lr: float, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8,
               decay_all: bool = True) -> torch.optim.AdamW:
    """AdamW. ``decay_all`` decays every parameter (the original: ``AdamW(model.parameters())``); else
    only matrices are decayed (nanoGPT), not biases, LayerNorm gains or scalars."""
    params = [p for p in model.parameters() if p.requires_grad]
    if decay_all:
        groups = [{"params": params, "weight_decay": weight_decay}]
    else:
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps)
