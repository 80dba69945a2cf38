"""The Hugging Face hub cache's layout of a downloaded model, for tests that load a hub id offline."""
from __future__ import annotations

from pathlib import Path


def place_in_hub_cache(model_dir: Path, hf_home: Path, repo_id: str, revision: str = "a" * 40) -> str:
    """Lay ``model_dir`` out as the Hugging Face hub cache does after a download: content-addressed blobs,
    a snapshot of links to them under the commit ``revision``, and ``refs/main`` naming that commit."""
    import hashlib
    import os

    repo = Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for f in sorted(Path(model_dir).iterdir()):
        data = f.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / f.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return revision
