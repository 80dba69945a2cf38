"""Pretrained causal LMs: where a model name points, loading it on a device in a dtype, and scoring text.

A model is named one of four ways: a registry name (``lab.models.assets.MODELS``, converted from registry packages
into the asset cache), a local Hugging Face directory, a local ``.gguf`` file, or a Hugging Face hub id
(``org/name``, optionally ``org/name@revision``). Hub ids load through ``from_pretrained`` exactly as a
reader's own download would, and obey the reader's ``HF_HUB_OFFLINE``, ``HF_HOME`` and ``HF_TOKEN``: nothing
here sets them. A hub model that cannot be had (not cached while offline, gated, private, misspelt) is one
``ModelUnavailable`` error, raised when the chapter checks its parameters, before any work.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from myst_nb import glue

from . import assets

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("float32", "bfloat16", "float16")
# org/name or org/name@revision (a branch, tag or commit), as the hub spells repository ids
HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?$")


class ModelUnavailable(KeyError):
    """A model name that points nowhere, or a hub model this machine cannot have; the message says the fix."""

    def __str__(self) -> str:  # KeyError's own str() quotes the message
        return str(self.args[0])


@dataclass(frozen=True)
class Source:
    """Where a model name points: ``kind`` is registry, local, gguf or hub; ``path`` the files loaded (for a
    hub id, the snapshot directory of the resolved commit in the reader's hub cache)."""

    name: str
    kind: str
    path: Path
    repo_id: str | None = None
    revision: str | None = None  # hub: the commit hash the name resolved to

    @property
    def slug(self) -> str:
        """A file-name-safe name for run directories."""
        if self.kind == "hub":
            return self.repo_id.replace("/", "--") + f"@{self.revision[:12]}"
        return self.name if self.kind == "registry" else self.path.stem if self.kind == "gguf" else self.path.name


def _offline() -> bool:
    # huggingface_hub's own rule, read now rather than at its import (a test or reader may set it later)
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


@lru_cache(maxsize=None)
def _hub_source(name: str, repo_id: str, revision: str | None, offline: bool) -> Source:
    """The snapshot of ``repo_id`` at ``revision`` in the hub cache, fetching only its config.json now (the
    weights follow in ``from_pretrained``); every way this can fail becomes one ModelUnavailable."""
    from huggingface_hub import snapshot_download, try_to_load_from_cache
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    where = f"{name!r} (Hugging Face hub id {repo_id}" + (f", revision {revision}" if revision else "") + ")"
    local = "or pass the path of a local Hugging Face directory"
    if offline:
        cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
        if not isinstance(cached, str):
            raise ModelUnavailable(
                f"model {where} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: unset HF_HUB_OFFLINE "
                f"to download it (a gated model also needs `hf auth login` or HF_TOKEN), point HF_HOME at a cache "
                f"that holds it, {local}")
        snapshot = Path(cached).parent
    else:
        try:
            snapshot = Path(snapshot_download(repo_id, revision=revision, allow_patterns=["config.json"]))
        except GatedRepoError:
            raise ModelUnavailable(
                f"model {where} is gated: accept its licence at https://huggingface.co/{repo_id} while logged in, "
                f"then log in here (`hf auth login`) or set HF_TOKEN; {local}") from None
        except RevisionNotFoundError:
            raise ModelUnavailable(f"model {where}: the hub has no revision {revision!r}; {local}") from None
        except RepositoryNotFoundError:
            raise ModelUnavailable(
                f"model {where} is not on the Hugging Face hub, or is private: check the id, log in "
                f"(`hf auth login` or HF_TOKEN) if it is yours, {local}") from None
        except LocalEntryNotFoundError:
            raise ModelUnavailable(
                f"model {where}: the hub cannot be reached and the model is not in the cache: connect, point "
                f"HF_HOME at a cache that holds it, {local}") from None
    return Source(name, "hub", snapshot, repo_id=repo_id, revision=snapshot.name)


def _looks_like_a_path(model: str) -> bool:
    """Absolute, home- or dot-relative, a .gguf file, or more folders deep than org/name: not a hub id."""
    return (model.startswith(("/", "./", "../", "~")) or model.endswith(".gguf")
            or model.split("@", 1)[0].count("/") > 1)


def source(model: str) -> Source:
    """Where ``model`` points. A local path wins over a hub id of the same spelling."""
    if model in assets.MODELS:
        return Source(model, "registry", assets.model_dir(model))
    p = Path(model).expanduser()
    if p.exists():
        return Source(model, "gguf" if p.suffix == ".gguf" else "local", p)
    if _looks_like_a_path(model):  # a missing folder is said to be missing, never looked up on the hub
        raise ModelUnavailable(f"no local model at {model!r}: the path does not exist (a local model is a Hugging "
                               "Face directory or a .gguf file; a hub id is org/name)")
    match = HUB_ID.match(model)
    if match:
        return _hub_source(model, match["repo"], match["revision"], _offline())
    raise ModelUnavailable(f"unknown model {model!r}: valid choices are {', '.join(assets.MODELS)}, the path of "
                           "a local Hugging Face directory or .gguf file, or a Hugging Face hub id such as "
                           "meta-llama/Llama-3.2-1B (optionally @revision)")


def resolve(model: str) -> Path:
    """The files ``model`` loads from (see ``source``)."""
    return source(model).path


def pick_device(device: str = "auto") -> str:
    """``auto``: CUDA where torch sees it, else Apple's MPS, else the CPU. An explicit device that is not
    there is an error, before any model is loaded."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid choices: {', '.join(DEVICES)}")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device here (use 'auto' or 'cpu')")
    if device == "mps" and not mps:
        raise ValueError("device 'mps' asked for, but torch sees no Apple MPS device here (use 'auto' or 'cpu')")
    return device


def device_problem(device: str) -> str | None:
    """For a parameter check: the reason ``device`` cannot be used here, or None."""
    try:
        pick_device(device)
    except ValueError as exc:
        return str(exc)
    return None


def model_problem(model: str) -> str | None:
    """For a parameter check: why ``model`` cannot be loaded here, or None."""
    try:
        source(model)
    except KeyError as exc:
        return str(exc) if isinstance(exc, ModelUnavailable) else str(exc.args[0])
    except Exception as exc:  # a registry asset that is missing or corrupt: say so before any work
        return str(exc)
    return None


def files_sha256(path: str | Path) -> str:
    """sha256 over the names and contents of a model's files: every file of a directory (weights, config,
    tokenizer; a hub snapshot's links followed to their blobs) or one .gguf file. Read in full on each call,
    so a file replaced at the same path with the same size and time stamp is still told apart."""
    p = Path(path).expanduser()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file()
                                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
    if not files:
        raise FileNotFoundError(f"no model files under {p}")
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        h.update(f"{f.relative_to(p) if f != p else f.name}:{digest}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Loaded:
    """What a chapter loaded, for its provenance and for the ledger's scale gate: the name given, where it
    pointed, the hub commit, a hash of the files the weights came from, the parameter count, and the device and
    dtype they were put on."""

    name: str
    kind: str
    repo_id: str | None
    revision: str | None
    files_sha256: str
    parameters: int
    device: str
    dtype: str


LOADED: dict[str, Loaded] = {}  # name -> record, in loading order, for ``loaded_table``


def load(model: str, dtype: str = "float32", device: str = "cpu"):
    """(model, tokenizer) in eval mode, on ``device`` (``auto`` allowed) in ``dtype``: the weights are loaded
    in that dtype and never upcast; code that needs float32 (a log-softmax, a KL) casts that computation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid choices: {', '.join(DTYPES)}")
    src, dev = source(model), pick_device(device)
    kwargs = {"dtype": getattr(torch, dtype)}
    if dev != "cpu":
        kwargs["device_map"] = dev  # straight onto the accelerator: an 8B model need not fit in host memory
    if src.kind == "gguf":
        tok = AutoTokenizer.from_pretrained(src.path.parent, gguf_file=src.path.name)
        lm = AutoModelForCausalLM.from_pretrained(src.path.parent, gguf_file=src.path.name, **kwargs)
    elif src.kind == "hub":  # the hub path a reader's download takes, pinned to the commit resolved above
        try:
            tok = AutoTokenizer.from_pretrained(src.repo_id, revision=src.revision)
            lm = AutoModelForCausalLM.from_pretrained(src.repo_id, revision=src.revision, **kwargs)
        except OSError as exc:
            raise ModelUnavailable(f"model {model!r} (hub id {src.repo_id}@{src.revision}) could not be loaded: "
                                   f"{exc}") from exc
    else:
        tok = AutoTokenizer.from_pretrained(src.path)
        lm = AutoModelForCausalLM.from_pretrained(src.path, **kwargs)
    # hashed after loading: a hub snapshot holds the weights only once from_pretrained has fetched them
    LOADED[model] = Loaded(model, src.kind, src.repo_id, src.revision, files_sha256(src.path),
                           parameter_counts(lm)["total"], dev, dtype)
    return (lm if "device_map" in kwargs else lm.to(dev)).eval(), tok


def load_tokenizer(model: str):
    """The tokenizer of ``model`` alone, without its weights: what an API model's token counts and edits need."""
    from transformers import AutoTokenizer

    src = source(model)
    if src.kind == "gguf":
        return AutoTokenizer.from_pretrained(src.path.parent, gguf_file=src.path.name)
    if src.kind == "hub":
        return AutoTokenizer.from_pretrained(src.repo_id, revision=src.revision)
    return AutoTokenizer.from_pretrained(src.path)


def loaded_table():
    """The models this process loaded (see ``Loaded``), one row each: a chapter's model provenance."""
    import pandas as pd  # here, not above: pandas costs 0.6 s and `lab assets` imports this package

    rows = [asdict(r) for r in LOADED.values()]
    return pd.DataFrame(rows, columns=list(Loaded.__dataclass_fields__)).set_index("name")


def weights_record(model: str | list[str], glue_as: str):
    """``loaded_table()``, the last cell of a chapter, after gluing under ``glue_as`` the parameter count of
    ``model`` (the largest of a list) for the claims ledger's scale gate. A model this process did not load (one
    behind an API) has no weights here to count: nothing is glued, and the ledger says the scale is unknown."""
    loaded = loaded_table()
    here = [m for m in ([model] if isinstance(model, str) else model) if m in loaded.index]
    if here:
        glue(glue_as, int(loaded.loc[here, "parameters"].max()), display=False)
    return loaded


@contextmanager
def explain_oom(what: str, knob: str = "batch_size"):
    """Turn a CUDA out-of-memory error inside the block into one that says what to change."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        raise torch.cuda.OutOfMemoryError(
            f"CUDA ran out of memory while {what}: lower the parameter {knob!r}, load the model with dtype "
            f"'bfloat16' (half the memory of float32), or use a smaller model or a larger GPU. ({exc})") from exc


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
        logits = lm(ids).logits.float()  # float32 for the log-softmax only
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
