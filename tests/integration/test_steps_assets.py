"""lab.steps.asset: a registry asset enters a run step's key by the sha256 its registry entry pins (hashing a
model's files at every call would cost more than many steps)."""
from __future__ import annotations

from lab import steps
from lab.models import assets


def test_an_asset_counts_by_its_pinned_sha(tmp_path, monkeypatch):
    name = next(iter(assets.ASSETS))
    monkeypatch.setattr(assets, "require", lambda n: tmp_path / n)
    reads = steps.Reads()
    token = steps._active.set((reads,))
    try:
        assert steps.asset(name) == tmp_path / name
    finally:
        steps._active.reset(token)
    assert reads.files == {f"asset:{name}": assets.get(name).payload_sha256}
    assert steps.current_sha(f"asset:{name}") == assets.get(name).payload_sha256
