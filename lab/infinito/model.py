"""Infinito V5.2 re-implemented from its code (the model file as of 17 November,
webtilians/principiodelTodo@9f3ad749:src/infinito_v5_2_refactored.py, before the final LayerNorm and memory gate
that the file at 9a2da8af adds, and the modules of ``src/core/`` it imports) on top of ``lab.gpt``; the results
it reports are those of 003_3cc34b719484f3c9.txt.

The original ("InfinitoV52Refactored", 65,324,439 parameters) is the clean GPT with these switches set:
no causal mask, post-LayerNorm blocks, PyTorch default initialisation, 1,000 learned positions, an
output projection with bias and no weight tying, plus four extras, each behind a flag here:

- ``iit``: the "IIT" auxiliary loss. On the last layer's hidden states h and the attention probabilities
  (averaged over layers, heads and queries, as the original code does) it computes four numbers in [0, 1]:
  temporal = mean cosine of consecutive positions mapped to [0, 1]; integration = mean |cos| between the
  means of the four quarters of the sequence; complexity = sigmoid(10 var(h)); attention diversity =
  entropy of the averaged attention / log T
  (webtilians/principiodelTodo@9a2da8af:src/core/iit_metrics_improved.py). "Learnable phi weights"
  w = softmax(four logits, initialised so that w = (0.3, 0.3, 0.2, 0.2)); phi_w = sum w_i c_i;
  phi_base = clamp(3 * sum w0_i c_i, 0, 10); the loss adds
  lambda_phi * [mean (phi_w - 1.2)^2 + mean relu(phi_base - phi_w)]
  (webtilians/principiodelTodo@9a2da8af:src/core/phi_learnable.py). With ``iit=False`` nothing of this is
  computed and the phi logits never receive a gradient (the original's model B, whose script,
  webtilians/principiodelTodo@9a2da8af:archive/training/train_wikitext103.py, never computed the term).
- ``memory``: an external memory of 256 slots. ``memory_kind="never-writing"`` is model A's "IIT-guided
  memory": read (it is empty, so reads return zeros, which the original never adds to anything) and written
  only when a priority <= 0.8 + 0.1 exceeds a threshold initialised at 3.0, so it never writes; its
  parameters (two 512x512 projections, the threshold) still count
  (webtilians/principiodelTodo@9a2da8af:src/core/iit_guided_memory.py). ``memory_kind="writing"`` is the
  29-October ``PriorityExternalMemory`` (webtilians/principiodelTodo@9a2da8af:src/core/memory.py): 64-wide
  slots, written on every forward call into the least important, least accessed, oldest slot; its read is
  computed and, as in that version's forward pass
  (webtilians/principiodelTodo@932a44ba:src/infinito_v5_2_refactored.py), never reaches the logits.
- ``exploration``: Gaussian noise with a learnable scale (init 0.1) added after every block in training.
- two projections the original's IIT module creates and never uses (they count towards 65,324,439;
  webtilians/principiodelTodo@9a2da8af:src/core/iit_metrics_improved.py).
- ``learnable_phi``: the four phi logits (absent before 11 November, when
  webtilians/principiodelTodo@a5066c45:src/core/phi_learnable.py added them), ``embd_dropout``: dropout on the
  embeddings (the 29-October model had none: webtilians/principiodelTodo@932a44ba:src/infinito_v5_2_refactored.py).

Named configurations, one per model a claim was made about (each has a parameter-count test):
``model_a_config`` (the reported model A, 65,324,439), ``model_b_config`` (the same network without the IIT
term and with dropout 0.25, trained by another script: see ``RECIPES``), ``october_config`` (the 6-layer model
of 29 October that the expectations document, 004_27d3d2876e77c6bd.txt, projected, 71,433,171) and
``fixed_config`` (model A with the causal mask). ``RECIPES`` pairs each with the optimiser, schedule, early
stopping and data stride of the script that trained it, cited by repository, commit and path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import torch
import torch.nn as nn
from torch.nn import functional as F

from ..gpt import GPT, GPTConfig

ORIGINAL_PARAMETERS = 65_324_439
# the 6-layer model of 29 October, as webtilians/principiodelTodo@0949b1fc:train_v5_2_wikitext_real.py built it
OCTOBER_PARAMETERS = 71_433_171
MEMORY_KINDS = ("never-writing", "writing")
COMPONENTS = ("temporal", "integration", "complexity", "attention")


@dataclass
class InfinitoConfig(GPTConfig):
    iit: bool = True
    lambda_phi: float = 0.3
    phi_init: tuple = (0.3, 0.3, 0.2, 0.2)
    target_phi: float = 1.2
    memory: bool = True
    memory_kind: str = "never-writing"
    memory_slots: int = 256
    memory_slot_size: int = 64  # the writing memory's slot width
    memory_threshold: float = 3.0
    memory_alpha: float = 0.8
    exploration: bool = True
    exploration_sigma: float = 0.1
    unused_iit_projections: bool = True
    learnable_phi: bool = True
    embd_dropout: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.memory_kind not in MEMORY_KINDS:
            raise ValueError(f"memory_kind {self.memory_kind!r}; valid choices: {', '.join(MEMORY_KINDS)}")
        if self.iit and not self.learnable_phi:
            raise ValueError("the IIT term needs the learnable phi weights (learnable_phi=True)")
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


def model_a_config(**overrides) -> InfinitoConfig:
    """Model A of the results document (003_3cc34b719484f3c9.txt): the original configuration."""
    return original_config(**overrides)


def model_b_config(**overrides) -> InfinitoConfig:
    """Model B: the same network (65,324,439 parameters); its script
    (webtilians/principiodelTodo@9a2da8af:archive/training/train_wikitext103.py) never computed the IIT term, and
    its documented run used dropout 0.25 (003_3cc34b719484f3c9.txt)."""
    return original_config(**{"iit": False, "dropout": 0.25, **overrides})


def october_config(**overrides) -> InfinitoConfig:
    """The 6-layer model of 29 October that the expectations document (004_27d3d2876e77c6bd.txt) projected
    (71,433,171 parameters): the writing PriorityExternalMemory, no IIT loss and no learnable phi weights,
    dropout 0.1 hard-coded on attention probabilities and the feed-forward, none on the embeddings
    (webtilians/principiodelTodo@932a44ba:src/infinito_v5_2_refactored.py, as
    webtilians/principiodelTodo@0949b1fc:train_v5_2_wikitext_real.py trained it)."""
    base = dict(n_layer=6, dropout=0.1, iit=False, learnable_phi=False, memory_kind="writing", embd_dropout=False)
    return original_config(**{**base, **overrides})


def fixed_config(**overrides) -> InfinitoConfig:
    """The original with its attention bug fixed (causal mask on); everything else unchanged."""
    return original_config(**{"causal_mask": True, **overrides})


_REPO = "webtilians/principiodelTodo"
_HEAD = "9a2da8afe9d94f526e316b631344af3d82b45ed4"
_OCTOBER = "0949b1fc1b259c010db6ccc98f128a1d6958d46a"


@dataclass(frozen=True)
class Recipe:
    """A named configuration: the model, the training settings of the script that trained it (``TrainConfig``
    fields, at the original size) and the data windows (``window_stride``: the step between window starts
    as a fraction of the window length; 1 is non-overlapping)."""
    name: str
    config: object  # a function returning the InfinitoConfig
    train: dict = field(default_factory=dict)
    window_stride: float = 1.0
    source: str = ""

    @property
    def n_layer(self) -> int:
        return self.config().n_layer


RECIPES = {r.name: r for r in (
    Recipe("model A", model_a_config,
           dict(lr=5e-4, batch_size=16, betas=(0.9, 0.999), eps=1e-9, weight_decay=0.01, grad_clip=1.0,
                scheduler="plateau", plateau_factor=0.5, plateau_patience=2, min_lr=1e-6, early_stopping=5,
                min_delta=0.01),
           source=f"{_REPO}@{_HEAD}:archive/training/train_v5_2_wikitext_real.py"),
    Recipe("model B", model_b_config,
           dict(lr=2e-4, batch_size=16, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05, grad_clip=1.0,
                scheduler="plateau", plateau_factor=0.5, plateau_patience=2, min_lr=1e-6, early_stopping=5,
                min_delta=0.0),
           window_stride=0.5, source=f"{_REPO}@{_HEAD}:archive/training/train_wikitext103.py"),
    Recipe("october 6-layer", october_config,
           dict(lr=1e-4, batch_size=32, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.01, grad_clip=1.0,
                scheduler="cosine", scheduler_interval="epoch", min_lr=1e-6, early_stopping=None, min_delta=0.0),
           source=f"{_REPO}@{_OCTOBER}:train_v5_2_wikitext_real.py"),
    Recipe("fixed", fixed_config,
           dict(lr=5e-4, batch_size=16, betas=(0.9, 0.999), eps=1e-9, weight_decay=0.01, grad_clip=1.0,
                scheduler="plateau", plateau_factor=0.5, plateau_patience=2, min_lr=1e-6, early_stopping=5,
                min_delta=0.01),
           source="model A's script, with the causal mask of this book"),
)}


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
    """The original's "IIT-guided memory" (webtilians/principiodelTodo@9a2da8af:src/core/iit_guided_memory.py),
    reduced to what it does: a write rule that never fires."""

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


class WritingMemory(nn.Module):
    """The 29-October ``PriorityExternalMemory``, rebuilt from its code
    (webtilians/principiodelTodo@9a2da8af:src/core/memory.py): every
    call writes the batch's mean hidden state, projected to a 64-wide slot, over the slot with the highest
    replacement score (least important, least accessed, oldest); reads address the slots with a softmax of a
    linear controller, weighted by slot importance. Nothing it returns reaches the logits, so it never
    receives a gradient; it runs under ``no_grad``."""

    def __init__(self, config: InfinitoConfig):
        super().__init__()
        d, n, w = config.n_embd, config.memory_slots, config.memory_slot_size
        self.read_controller = nn.Linear(d + 1, n)
        self.write_controller = nn.Linear(d + 1, n)  # its weights are computed by the original and unused
        self.content_processor = nn.Linear(d, w)
        self.importance_enhancer = nn.Linear(w, d)  # created by the original, never called
        self.utilization = nn.Parameter(torch.zeros(1))  # a running mean the original keeps as a parameter
        self.register_buffer("slots", torch.zeros(n, w))
        self.register_buffer("age", torch.zeros(n))
        self.register_buffer("importance", torch.full((n,), 0.1))
        self.register_buffer("access_count", torch.zeros(n))
        self.register_buffer("write_count", torch.zeros((), dtype=torch.long))

    @staticmethod
    def _with_level(query: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return torch.cat([query, level[:, None].to(query.dtype)], dim=-1)

    @torch.no_grad()
    def read(self, query: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        weights = self.read_controller(self._with_level(query, level)).softmax(-1) * self.importance
        weights = weights / (weights.sum(-1, keepdim=True) + 1e-6)
        self.access_count += (weights > 0.01).float().sum(0)
        self.utilization.mul_(0.9).add_(0.1 * weights.max(-1).values.mean())
        return weights @ self.slots

    @torch.no_grad()
    def write(self, content: torch.Tensor, level: torch.Tensor, phi_value: float = 0.0) -> int:
        """Writes one slot per call; returns 1."""
        score = (-self.importance - 0.1 * self.access_count / (self.access_count.max() + 1e-6)
                 + 0.05 * self.age / (self.age.max() + 1e-6))
        slot = int(score.argmax())
        self.slots[slot] = self.content_processor(content).mean(0)
        self.age += 1
        self.age[slot] = 0
        self.importance[slot] = float(level.mean()) * (1.0 + phi_value)
        self.access_count[slot] = 0
        self.write_count += 1
        return 1

    def statistics(self) -> dict:
        """The original's own memory statistics ("utilization" is its running mean of the largest read weight)."""
        return {"utilization": float(self.utilization.detach()), "avg_importance": float(self.importance.mean()),
                "occupied_slots": int((self.slots.abs().sum(1) > 0.01).sum()), "writes": int(self.write_count),
                "slots": self.slots.size(0)}


class Infinito(GPT):
    def __init__(self, config: InfinitoConfig):
        super().__init__(config)
        d = config.n_embd
        if config.unused_iit_projections:
            self.unused_phi_projector = nn.Linear(d, d // 2)
            self.unused_complexity_analyzer = nn.Linear(d, 64)
        if not config.embd_dropout:
            self.drop = nn.Identity()
        # Logits log(w0): a softmax over them starts exactly at the reported initial weights.
        self.phi_logits = nn.Parameter(torch.tensor(config.phi_init).log()) if config.learnable_phi else None
        self.register_buffer("phi_base_weights", torch.tensor(config.phi_init), persistent=False)
        memory = {"never-writing": NeverWritingMemory, "writing": WritingMemory}[config.memory_kind]
        self.memory = memory(config) if config.memory else None
        self.exploration_sigma = nn.Parameter(torch.tensor(config.exploration_sigma)) if config.exploration else None
        self.last_metrics: dict = {}

    def phi_weights(self) -> dict:
        """The learnable phi weights ({} for a configuration without them)."""
        if self.phi_logits is None:
            return {}
        w = self.phi_logits.detach().softmax(0).tolist()
        return dict(zip(COMPONENTS, w))

    def _explore(self, layer: int, x: torch.Tensor):
        return x + torch.randn_like(x) * self.exploration_sigma

    def _use_memory(self, h: torch.Tensor, terms: dict | None) -> int:
        """Both originals read and write the memory on every forward call and never use what they read."""
        summary = h.detach().mean(1)
        phi = terms["phi_w"].detach() if terms is not None else torch.ones(h.size(0), device=h.device)
        if isinstance(self.memory, WritingMemory):
            # The 29-October forward pass without metrics: integration level 1, phi value 0.
            self.memory.read(summary, phi)
            return self.memory.write(summary, phi, 0.0)
        self.memory.read(summary)
        return self.memory.write(summary, phi)

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
            metrics["memory_writes"] = self._use_memory(h, terms)
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
