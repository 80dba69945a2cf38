"""Perturbations ("actions") A–E at token, embedding and logit level, and the original's prompt edits.

An action is a small frozen dataclass with one magnitude. ``action.apply(prompt_ids, vocab, seed,
max_new_tokens)`` returns a :class:`Condition`: everything a backend needs to run the perturbed
generation (the edited prompt, embedding noise, a logit processor, a shock inside the decoding loop).
Randomness (positions, replacement tokens, noise) comes only from ``seed``, so a condition is
reproducible and the same condition is rebuilt for generation and for teacher-forced scoring.

The level at which each action acts is the point of the study: the original (``000_7d8c1fa5ebf167ba.txt``,
``001_2f74044695a0fe33.txt``) ran C and D as instructions in the prompt and E as a string in the prompt,
through a chat API. Those edits are kept as the ``*_seed`` ("seed-faithful") actions so both can be run
on the same attractors.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Protocol


class ActionError(ValueError):
    """Unknown action or a magnitude of the wrong type or range."""


class Vocabulary(Protocol):
    """What an action needs from a backend's tokenizer."""

    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...
    @property
    def rare_pool(self) -> list[int]: ...
    @property
    def n_special_prefix(self) -> int: ...  # leading special tokens (BOS) that edits must not touch


@dataclass(frozen=True)
class Condition:
    """One perturbed (or control) run of one prompt."""

    action: str
    magnitude: float | int | None
    seed: int
    prompt_ids: tuple[int, ...]
    noise_alpha: float = 0.0  # C: Gaussian noise on the prompt's input embeddings
    noise_seed: int = 0
    tail_bias: float = 0.0  # D: added to every logit outside the top-k, at every decoding step
    tail_top_k: int = 0
    shock_step: int | None = None  # E: decoding step at which shock_ids are forced into the sequence
    shock_ids: tuple[int, ...] = ()
    logit_bias_tokens: tuple[int, ...] = ()  # D on APIs: a fixed token set biased with ``tail_bias``

    def key(self, sampled: bool = False) -> tuple:
        """Identity of the computation: conditions with the same key give the same generation."""
        k = (self.prompt_ids, self.noise_alpha, self.noise_seed if self.noise_alpha else 0, self.tail_bias,
             self.tail_top_k if self.tail_bias else 0, self.shock_step if self.shock_ids else None,
             self.shock_ids, self.logit_bias_tokens if self.tail_bias else ())
        return k + ((self.seed,) if sampled else ())


def control(prompt_ids: list[int], seed: int) -> Condition:
    return Condition("control", None, seed, tuple(prompt_ids))


def _rng(seed: int, salt: str) -> random.Random:
    # A separate stream per action so that changing one action never moves another's draws.
    return random.Random(f"{salt}:{seed}")


def _editable_positions(prompt_ids, vocab) -> range:
    start = min(vocab.n_special_prefix, len(prompt_ids) - 1)
    return range(max(start, 1) if len(prompt_ids) > 1 else 0, len(prompt_ids))


@dataclass(frozen=True)
class Action:
    name = ""  # class attributes, not fields: the letter and the level are fixed per class
    level = ""

    @property
    def magnitude(self):
        raise NotImplementedError

    def apply(self, prompt_ids: list[int], vocab: Vocabulary, seed: int, max_new_tokens: int) -> Condition:
        raise NotImplementedError

    def _condition(self, prompt_ids, seed, **kw) -> Condition:
        return Condition(self.name, self.magnitude, seed, tuple(prompt_ids), **kw)


@dataclass(frozen=True)
class TokenInsertion(Action):
    """A: insert ``n_tokens`` rare tokens at one seeded position of the prompt."""

    n_tokens: int = 1
    name = "A"
    level = "token"

    @property
    def magnitude(self):
        return self.n_tokens

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        rng = _rng(seed, "A")
        at = rng.choice(_editable_positions(prompt_ids, vocab))
        inserted = [rng.choice(vocab.rare_pool) for _ in range(self.n_tokens)]
        return self._condition(list(prompt_ids[:at]) + inserted + list(prompt_ids[at:]), seed)


@dataclass(frozen=True)
class RareTokenSubstitution(Action):
    """B: replace ``n_tokens`` seeded prompt tokens (never BOS) with rare tokens."""

    n_tokens: int = 1
    name = "B"
    level = "token"

    @property
    def magnitude(self):
        return self.n_tokens

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        rng = _rng(seed, "B")
        positions = list(_editable_positions(prompt_ids, vocab))
        ids = list(prompt_ids)
        for at in rng.sample(positions, min(self.n_tokens, len(positions))):
            ids[at] = rng.choice(vocab.rare_pool)
        return self._condition(ids, seed)


@dataclass(frozen=True)
class EmbeddingNoise(Action):
    """C: Gaussian noise on the prompt's input embeddings, std alpha/sqrt(L*d) per entry.

    NEFTune (Jain et al., 2023) scales uniform noise in [-1, 1] by alpha/sqrt(L*d); with Gaussian noise
    of that standard deviation the noise on the whole L x d prompt has Frobenius norm close to alpha,
    which makes alpha readable. Generated tokens are not perturbed.
    """

    alpha: float = 5.0
    name = "C"
    level = "embedding"

    @property
    def magnitude(self):
        return self.alpha

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        return self._condition(prompt_ids, seed, noise_alpha=float(self.alpha), noise_seed=seed)


@dataclass(frozen=True)
class LogitTailBias(Action):
    """D: add ``bias`` to the logit of every token outside the top-``top_k``, at every decoding step.

    On an API, where the logits are out of reach, the same bias goes through ``logit_bias`` on a fixed
    set of ``api_tokens`` rare tokens (APIs cap the set at a few hundred): a different, weaker action,
    reported under the same letter with that caveat.
    """

    bias: float = 2.0
    top_k: int = 20
    api_tokens: int = 300
    name = "D"
    level = "logit"

    @property
    def magnitude(self):
        return self.bias

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        return self._condition(prompt_ids, seed, tail_bias=float(self.bias), tail_top_k=self.top_k,
                               logit_bias_tokens=tuple(vocab.rare_pool[:self.api_tokens]))


@dataclass(frozen=True)
class MidSequenceShock(Action):
    """E: at a seeded decoding step t (1 <= t <= max_new_tokens/2), force ``n_tokens`` rare tokens into
    the sequence instead of the model's choice, then let it continue. The prompt is untouched."""

    n_tokens: int = 1
    name = "E"
    level = "decoding"

    @property
    def magnitude(self):
        return self.n_tokens

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        rng = _rng(seed, "E")
        step = rng.randint(1, max(1, max_new_tokens // 2))
        shock = tuple(rng.choice(vocab.rare_pool) for _ in range(self.n_tokens))
        return self._condition(prompt_ids, seed, shock_step=step, shock_ids=shock)


# ------------------------------------------------------------------ the original's prompt edits

def _words_edit(prompt_ids, vocab, edit) -> list[int]:
    """Apply a text edit to the prompt (decoded without special tokens) and re-encode it."""
    text = vocab.decode(list(prompt_ids))
    return vocab.encode(edit(text))


@dataclass(frozen=True)
class SeedStringInsertion(Action):
    """A (seed-faithful): the original inserted the string ``<ISO-2847>`` into the prompt text."""

    marker: str = "<ISO-2847>"
    name = "A_seed"
    level = "prompt text"

    @property
    def magnitude(self):
        return None

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        rng = _rng(seed, "A_seed")

        def edit(text):
            words = text.split(" ")
            at = rng.randint(1, max(1, len(words) - 1))
            return " ".join(words[:at] + [self.marker] + words[at:])
        return self._condition(_words_edit(prompt_ids, vocab, edit), seed)


@dataclass(frozen=True)
class SeedSymbolSubstitution(Action):
    """B (seed-faithful): the original replaced the word "lugar" with "∮"; here a seeded word."""

    symbol: str = "∮"
    name = "B_seed"
    level = "prompt text"

    @property
    def magnitude(self):
        return None

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        rng = _rng(seed, "B_seed")

        def edit(text):
            words = text.split(" ")
            candidates = [i for i, w in enumerate(words) if w.strip()] or [0]
            words[rng.choice(candidates)] = self.symbol
            return " ".join(words)
        return self._condition(_words_edit(prompt_ids, vocab, edit), seed)


@dataclass(frozen=True)
class SeedInstruction(Action):
    """C and D (seed-faithful): the original's "embedding" and "logit" actions were prompt prefixes."""

    instruction: str = "IMPORTANT: Rewrite in highly technical language."
    label: str = "C_seed"
    level = "prompt text"

    @property
    def name(self):  # the label doubles as the action name (C_seed, D_seed)
        return self.label

    @property
    def magnitude(self):
        return None

    def apply(self, prompt_ids, vocab, seed, max_new_tokens):
        return self._condition(_words_edit(prompt_ids, vocab, lambda t: f"{self.instruction}\n\n{t}"), seed)


@dataclass(frozen=True)
class SeedStringShock(SeedStringInsertion):
    """E (seed-faithful): the original inserted ``<X2F-ERROR>`` at a random word of the prompt."""

    marker: str = "<X2F-ERROR>"
    name = "E_seed"


# ------------------------------------------------------------------ registry

_PARAMETRIC = {
    "A": (TokenInsertion, "n_tokens", int, 1),
    "B": (RareTokenSubstitution, "n_tokens", int, 1),
    "C": (EmbeddingNoise, "alpha", float, 0.0),
    "D": (LogitTailBias, "bias", float, None),
    "E": (MidSequenceShock, "n_tokens", int, 1),
}
_SEED_FAITHFUL = {
    "A_seed": lambda: SeedStringInsertion(),
    "B_seed": lambda: SeedSymbolSubstitution(),
    "C_seed": lambda: SeedInstruction("IMPORTANT: Rewrite in highly technical language.", "C_seed"),
    "D_seed": lambda: SeedInstruction("Use highly unusual words.", "D_seed"),
    "E_seed": lambda: SeedStringShock(),
}
ACTION_NAMES = tuple(_PARAMETRIC) + tuple(_SEED_FAITHFUL)
DESCRIPTIONS = {
    "A": "token insertion", "B": "rare-token substitution", "C": "embedding noise",
    "D": "logit tail bias", "E": "mid-sequence shock",
    "A_seed": "original A: '<ISO-2847>' in the prompt", "B_seed": "original B: a word replaced by '∮'",
    "C_seed": "original C: 'technical language' instruction", "D_seed": "original D: 'unusual words' instruction",
    "E_seed": "original E: '<X2F-ERROR>' in the prompt",
}


def make(name: str, magnitude=None) -> Action:
    """The action ``name`` at ``magnitude`` (seed-faithful actions take no magnitude)."""
    if name in _SEED_FAITHFUL:
        if magnitude is not None:
            raise ActionError(f"action {name!r} is a fixed prompt edit and takes no magnitude")
        return _SEED_FAITHFUL[name]()
    if name not in _PARAMETRIC:
        raise ActionError(f"unknown action {name!r}; valid actions: {', '.join(ACTION_NAMES)}")
    cls, field_name, kind, minimum = _PARAMETRIC[name]
    check_magnitude(name, magnitude)
    return cls(**{field_name: kind(magnitude)})


def check_magnitude(name: str, magnitude) -> None:
    cls, field_name, kind, minimum = _PARAMETRIC[name]
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(magnitude, bool) or not isinstance(magnitude, ok_types):
        raise ActionError(f"action {name!r}: magnitude ({field_name}) must be {kind.__name__}, "
                          f"got {type(magnitude).__name__} {magnitude!r}")
    if minimum is not None and magnitude < minimum:
        raise ActionError(f"action {name!r}: magnitude ({field_name}) must be >= {minimum}, got {magnitude!r}")


def check_magnitudes(magnitudes: dict) -> str | None:
    """For ``lab.publish.params.Param(check=...)``: validate a {action: [magnitudes]} mapping."""
    if not isinstance(magnitudes, dict) or not magnitudes:
        return "give a mapping {action: [magnitude, ...]}"
    for name, values in magnitudes.items():
        if name in _SEED_FAITHFUL:
            if values not in (None, [], [None]):
                return f"action {name!r} is a fixed prompt edit: give [] (no magnitudes)"
            continue
        if name not in _PARAMETRIC:
            return f"unknown action {name!r}; valid actions: {', '.join(ACTION_NAMES)}"
        if not isinstance(values, list) or not values:
            return f"action {name!r}: give a non-empty list of magnitudes"
        try:
            for v in values:
                check_magnitude(name, v)
        except ActionError as exc:
            return str(exc)
    return None


def expand(magnitudes: dict) -> list[Action]:
    """All actions of a {action: [magnitudes]} mapping, in a fixed order (A..E, then seed-faithful)."""
    problem = check_magnitudes(magnitudes)
    if problem:
        raise ActionError(problem)
    out = []
    for name in ACTION_NAMES:
        if name not in magnitudes:
            continue
        if name in _SEED_FAITHFUL:
            out.append(make(name))
        else:
            out.extend(make(name, m) for m in magnitudes[name])
    return out


def with_seed(condition: Condition, seed: int) -> Condition:
    return replace(condition, seed=seed)
