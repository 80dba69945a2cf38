"""The appendix's computing figures: a run step that two pages read counts once in the book's total."""
import json

from lab import steps
from lab.publish import reproducibility as rp


def _result(root, step: str, key: str, seconds: float) -> None:
    (root / step).mkdir(parents=True, exist_ok=True)
    (root / step / f"{key}.json").write_text(json.dumps({"computed": {"wall_time_s": seconds}}))


def test_shared_steps_count_once_in_the_total(tmp_path, monkeypatch):
    _result(tmp_path, "grid", "k1", 100.0)
    _result(tmp_path, "grid", "k2", 50.0)
    records = {
        "experiments": {"runs": {"steps": [{"step": "grid", "key": "k1", "call": "grid/k1", "wall_time_s": 0},
                                           {"step": "grid", "key": "k2", "call": "grid/k2", "wall_time_s": 0}]}},
        "analysis": {"runs": {"steps": [{"step": "grid", "key": "k1", "call": "grid/k1", "wall_time_s": 0}]}},
        "legacy": {"wall_time_s": 7.0},  # a page not built on run steps counts its whole notebook
    }
    monkeypatch.setattr(steps, "RESULTS", tmp_path)
    monkeypatch.setattr(rp, "recorded", records.__getitem__)
    monkeypatch.setattr(rp, "pages", lambda before=None: list(records))
    assert {p: rp.compute_seconds(p) for p in records} == {"experiments": 150.0, "analysis": 100.0, "legacy": 7.0}
    assert rp.book_compute_seconds() == 157.0  # not 257: the analysis page re-reads the experiments' step
