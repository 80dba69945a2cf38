"""The A–E grid: seeds x attractors x magnitudes per action, run on a backend, measured, compared.

``run(backend, grid)`` returns one record per (attractor, seed, action, magnitude) with every
observable beside the original study's metrics. The book runs it one attractor at a time as a run step
(``lab.dynamics.runs.attractor_records``), keyed by the grid, the model and this measuring code, so that an
interrupted run resumes at the attractor it stopped in and a changed model or measuring function never reuses
a record. The statistics over the records are in ``lab.dynamics.comparisons``, apart, so that a change to them
never invalidates a record.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import actions as act
from . import attractors as attr
from . import observables as obs

OBSERVABLES = {
    # name: (description, is a difference from the control already)
    "kl_mean": ("mean per-step KL(control || perturbed), nats", True),
    "edit_distance": ("token edit distance to the control continuation", True),
    "onset": ("divergence onset step (max_new_tokens when identical)", True),
    "embedding_distance": ("1 - cosine of MiniLM embeddings, vs control", True),
    "matched_prefix": ("tokens matching the true continuation", False),
    "true_prob_mean": ("arithmetic mean p(true token) along the true continuation", False),
    "unperturbed_nll": ("mean NLL per token of what was generated, under the unperturbed model (nats)", False),
    "extractable_32": ("32-token extractable (Carlini)", False),
    "original_score": ("original composite 'memorization' score", False),
    "original_word_kl": ("original word-count 'KL' against the canonical text", False),
}


@dataclass(frozen=True)
class Grid:
    attractors: tuple[str, ...]
    magnitudes: dict = field(hash=False)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    max_new_tokens: int = 32
    prefix_tokens: int = 32
    temperature: float = 0.0
    batch_size: int = 64
    # Each prompt, after its action's edit, sent as one user message through the model's chat template (the
    # original sent its prompts to a chat API). Only for the seed-faithful actions: they edit the prompt's
    # text, while A-E proper act on raw-text token and embedding positions.
    chat: bool = False

    def __post_init__(self):
        problem = act.check_magnitudes(self.magnitudes) if self.magnitudes else None  # {} = controls only
        if problem:
            raise act.ActionError(problem)
        if self.chat and any(not name.endswith("_seed") for name in self.magnitudes):
            raise act.ActionError("the chat format runs only the seed-faithful actions (A_seed ... E_seed): "
                                  "A-E act on raw-text positions")
        attr.load(list(self.attractors))  # unknown names fail here, before any model work
        if not self.seeds:
            raise ValueError("give at least one seed")

    def actions(self) -> list[act.Action]:
        return act.expand(self.magnitudes) if self.magnitudes else []


def backend_identity(backend, vocab=None) -> str:
    """What the records depend on besides the grid and the code: the local model's content hash, or the
    API's base URL, model name, reported identity and the content hash of the local tokenizer that makes
    its token-level actions."""
    if hasattr(backend, "teacher_forced"):
        return json.dumps({"local": backend.identity})
    return json.dumps({"api": backend.base_url, "model": backend.name, "reported": backend.identity(),
                       "tokenizer": getattr(vocab, "identity", None)}, sort_keys=True)


def conditions_for(vocab, grid: Grid, attractor: attr.Attractor):
    """(true continuation, [(condition, ...)]) for one attractor: the control first, then every action
    at every magnitude for every seed."""
    prompt, true = attractor.split(vocab.encode, grid.prefix_tokens)
    # Greedy, one control is every seed's control; sampled, each seed's perturbed run has its own control, drawn
    # with the same seed (the original's control noise is what a ranking of its actions must stand out from).
    conds = [act.control(prompt, s) for s in (grid.seeds if grid.temperature > 0 else grid.seeds[:1])]
    for a in grid.actions():
        for s in grid.seeds:
            conds.append(a.apply(prompt, vocab, s, grid.max_new_tokens))
    if grid.chat:  # each edited prompt's text becomes the user message; the model answers as the assistant
        strip = vocab.n_special_prefix
        conds = [replace(c, prompt_ids=tuple(vocab.chat_prompt(vocab.decode(list(c.prompt_ids[strip:])))))
                 for c in conds]
    return prompt, true, conds


def _own_tokens(c: act.Condition, tokens: list[int]) -> list[int]:
    """E's continuation without the forced shock tokens: what the model itself produced."""
    if c.shock_ids and c.shock_step is not None and len(tokens) > c.shock_step:
        return tokens[:c.shock_step] + tokens[c.shock_step + len(c.shock_ids):]
    return tokens


def _record(attractor, c, prompt, true, gen_tokens, text, control_tokens, control_text, continuation, T):
    """One condition's row. The original's metrics compare the generated text with the whole canonical text,
    prompt included, as the original did (its reference was the full first sentence of the Quijote:
    ebaenamar/llm-controlled-dynamics@8d5dda35:src/experiments/quijote_experiments.py); ``original_ceiling`` is
    what a perfect continuation (``continuation``, the true text after the prompt) of the same length scores."""
    own = _own_tokens(c, gen_tokens)
    canonical = attractor.text
    onset = obs.divergence_onset(control_tokens, own)
    orig = obs.original_memorization(text, canonical)
    return {
        "attractor": attractor.name, "seed": c.seed, "action": c.action,
        "magnitude": c.magnitude, "prompt_tokens": len(c.prompt_ids), "generated_tokens": len(gen_tokens),
        "text": text, "edit_distance": obs.edit_distance(control_tokens, own),
        "onset": T if onset is None else onset,
        "matched_prefix": obs.matched_prefix_length(own, true),
        "extractable_32": obs.k_extractable(own, true, 32), "extractable_50": obs.k_extractable(own, true, 50),
        "original_score": orig["score"], "original_memorized": orig["memorized"],
        "original_word_kl": obs.original_word_kl(text, canonical),
        "original_ceiling": obs.original_ceiling(canonical, continuation, len(obs.original_words(text)) or 1),
    }


def _run_attractor_local(lm, grid: Grid, attractor: attr.Attractor) -> list[dict]:
    prompt, true, conds = conditions_for(lm, grid, attractor)
    T = grid.max_new_tokens
    gens = lm.generate(conds, T, temperature=grid.temperature, batch_size=grid.batch_size)
    control_tokens = gens[0].tokens
    continuation = lm.decode(true)
    # Teacher-forced on the control continuation: the control's distributions first, then everyone's KL.
    ref = lm.teacher_forced([conds[0]], [control_tokens], lambda i, lp, toks: lp)[0]
    unique = {}
    for c in conds:
        unique.setdefault(c.key(grid.temperature > 0), c)
    keys = list(unique)
    kls = lm.teacher_forced([unique[k] for k in keys], [control_tokens] * len(keys),
                            lambda i, lp, toks: obs.kl_per_step(ref, lp).tolist(), batch_size=8)
    probs = lm.teacher_forced([unique[k] for k in keys], [true[:T]] * len(keys),
                              lambda i, lp, toks: obs.true_token_probabilities(lp, toks), batch_size=8)
    by_key = {k: (kl, p) for k, kl, p in zip(keys, kls, probs)}
    # The unperturbed model's view of what each condition emitted: its continuation (E's forced tokens
    # included: they are part of what was emitted) scored after the control's prompt, with no noise and no
    # bias. A scale common to every level, and the one on which D's bias is not measured by construction:
    # D's KL and p(true) are read from the distribution the bias was added to.
    emitted = list(dict.fromkeys(tuple(g.tokens) for g in gens))
    nll = lm.teacher_forced([conds[0]] * len(emitted), emitted, lambda i, lp, toks: obs.mean_nll(lp, toks),
                            batch_size=8)
    view = dict(zip(emitted, nll))
    # a sampled run's divergence is from its own seed's control (greedy: the one control)
    own_control = {c.seed: g for c, g in zip(conds, gens) if c.action == "control"}
    paired = [own_control.get(c.seed, gens[0]) for c in conds]
    distances = obs.embedding_distances([(ctl.text, g.text) for ctl, g in zip(paired, gens)])
    records = []
    for c, g, ctl, dist in zip(conds, gens, paired, distances):
        kl, p = by_key[c.key(grid.temperature > 0)]
        r = _record(attractor, c, prompt, true, g.tokens, g.text, ctl.tokens, ctl.text, continuation, T)
        r.update(kl_steps=[round(v, 6) for v in kl], kl_mean=float(sum(kl) / len(kl)) if kl else 0.0,
                 kl_kind="exact", true_prob_mean=float(sum(p) / len(p)) if p else math.nan,
                 unperturbed_nll=view[tuple(g.tokens)], embedding_distance=dist)
        records.append(r)
    return records


NO_LOGPROBS = "the server returns no logprobs"
NO_SCORING = "an API does not score a given continuation (no teacher forcing)"
# observable: the record field that says how it was measured ("unavailable: why" when it was not)
KIND_OF = {"kl_mean": "kl_kind", "true_prob_mean": "true_prob_kind", "unperturbed_nll": "unperturbed_nll_kind"}


def _run_attractor_api(api, vocab, grid: Grid, attractor: attr.Attractor) -> list[dict]:
    """The same grid through an API: text in, text (and top-k log-probabilities where offered) out."""
    caps = api.capabilities()
    prompt, true, conds = conditions_for(vocab, grid, attractor)
    T, k_top = grid.max_new_tokens, 5
    strip = vocab.n_special_prefix

    def ids_of(text):
        return vocab.encode(text)[strip:]

    def call(c: act.Condition):
        text_prompt = vocab.decode(list(c.prompt_ids))
        bias = {t: max(-100.0, min(100.0, c.tail_bias)) for t in c.logit_bias_tokens} if c.tail_bias else None
        seed = c.seed if grid.temperature > 0 else None
        if c.shock_ids and c.shock_step is not None:
            first = api.complete(text_prompt, c.shock_step, grid.temperature, seed, k_top)
            shock = vocab.decode(list(c.shock_ids))
            rest_n = T - len(ids_of(first.text)) - len(c.shock_ids)
            rest = api.complete(text_prompt + first.text + shock, max(rest_n, 1), grid.temperature, seed, k_top)
            return first.text + shock + rest.text, first.top_logprobs
        out = api.complete(text_prompt, T, grid.temperature, seed, k_top, bias)
        return out.text, out.top_logprobs

    unavailable = {"C": "no input embeddings on an API"}
    if not caps.logit_bias:
        unavailable["D"] = "the endpoint does not honour logit_bias"
    if caps.endpoint != "completions":
        unavailable["E"] = "no raw completions endpoint to continue after the shock"
    control_text, control_top = call(conds[0])
    control_tokens = ids_of(control_text)
    continuation = vocab.decode(true)
    rows, pairs = [], []
    for c in conds:
        if c.action[0] in unavailable and not c.action.endswith("_seed"):
            continue
        text, top = (control_text, control_top) if c is conds[0] else call(c)
        tokens = ids_of(text)
        r = _record(attractor, c, prompt, true, tokens, text, control_tokens, control_text, continuation, T)
        # Before the continuations diverge both runs condition on the same generated prefix, so their
        # top-k log-probabilities there are teacher-forced on the control continuation.
        # The steps stop at the divergence point, so rows have different numbers of steps (by design:
        # ``mean_per_step`` aligns them on the decoding step).
        if top is not None and control_top is not None:
            n = min(r["onset"] + 1, len(top), len(control_top))
            steps = [obs.kl_topk_lower_bound(control_top[j], top[j]) for j in range(n)]
            r.update(kl_steps=steps, kl_mean=sum(steps) / len(steps) if steps else math.nan,
                     kl_kind="top-k lower bound, steps up to divergence")
        else:
            r.update(kl_steps=[], kl_mean=math.nan, kl_kind=f"unavailable: {NO_LOGPROBS}")
        r["true_prob_mean"] = math.nan  # scoring a given text needs echo+logprobs, which chat APIs lack
        r["true_prob_kind"] = f"unavailable: {NO_SCORING}"
        r["unperturbed_nll"], r["unperturbed_nll_kind"] = math.nan, f"unavailable: {NO_SCORING}"
        rows.append(r)
        pairs.append((control_text, text))
    for r, d in zip(rows, obs.embedding_distances(pairs)):
        r["embedding_distance"] = d
    for name, why in unavailable.items():
        if name in grid.magnitudes:
            rows.append({"attractor": attractor.name, "action": name, "unavailable": why})
    return rows


def run(backend, grid: Grid, vocab=None, progress: bool | None = None) -> list[dict]:
    """All records of the grid (a list of dicts), attractor by attractor."""
    from tqdm.auto import tqdm  # here: at import, in a kernel, tqdm.auto warns before the chapter quiets it

    if progress is None:  # executed notebooks set TQDM_DISABLE (bars carry times that differ every run)
        progress = os.environ.get("TQDM_DISABLE") != "1"
    local = hasattr(backend, "teacher_forced")
    if not local and vocab is None:
        raise ValueError("an API backend needs a vocabulary (tokenizer) for the token-level actions")
    records = []
    for a in tqdm(attr.load(list(grid.attractors)), desc=f"A-E grid on {backend.name}", disable=not progress):
        records.extend(_run_attractor_local(backend, grid, a) if local else _run_attractor_api(backend, vocab, grid, a))
    return records


def frame(records):
    df = pd.DataFrame([r for r in records if "unavailable" not in r])
    for col in ("extractable_32", "extractable_50", "original_memorized"):
        if col in df:
            df[col] = df[col].astype("float")  # None (unavailable) -> NaN, bools -> 0/1
    return df


def unavailable(records) -> list[dict]:
    return [r for r in records if "unavailable" in r]


def unavailable_observables(df) -> dict[str, str]:
    """{observable: why} for the observables this run could not measure at all (an API without logprobs:
    the KL; any API: the probability of the true continuation)."""
    out = {}
    for name, kind in KIND_OF.items():
        if kind in df and len(df) and df[kind].astype(str).str.startswith("unavailable").all():
            out[name] = str(df[kind].iloc[0]).removeprefix("unavailable: ")
    return out


def mean_per_step(step_lists):
    """(mean, rows) per decoding step of per-row step arrays of different lengths (API KL steps stop at the
    divergence point): aligned on the step, padded with NaN, averaged over the rows that reach the step.
    Rows without steps are left out; empty lists when no row has any."""
    rows = [list(s) for s in step_lists if s is not None and len(s)]
    if not rows:
        return [], []
    if len({len(s) for s in rows}) == 1:  # equal lengths (the exact local KL): the plain mean
        return np.mean(np.stack(rows), axis=0).tolist(), [len(rows)] * len(rows[0])
    padded = np.full((len(rows), max(len(s) for s in rows)), np.nan)
    for i, s in enumerate(rows):
        padded[i, :len(s)] = s
    return np.nanmean(padded, axis=0).tolist(), (~np.isnan(padded)).sum(axis=0).tolist()
