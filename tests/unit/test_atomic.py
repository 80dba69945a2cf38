"""lab.atomic: a write interrupted mid-way leaves the previous file whole and no temporary file behind."""
import json

import pytest
import torch

from lab import atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "cache.json"
    atomic.write_json(target, {"rows": [1, 2]})

    def half_then_fail(handle):
        handle.write('{"rows": [1')
        raise KeyboardInterrupt  # a kill arriving mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic.write(target, half_then_fail)
    assert json.loads(target.read_text()) == {"rows": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]


def test_json_text_and_torch_round_trip(tmp_path):
    atomic.write_json(tmp_path / "a" / "b.json", {"x": 0.1234567}, indent=1)  # parent folders are made
    assert json.loads((tmp_path / "a" / "b.json").read_text()) == {"x": 0.1234567}
    atomic.write_text(tmp_path / "c.txt", "é\n")
    assert (tmp_path / "c.txt").read_text(encoding="utf-8") == "é\n"
    atomic.torch_save({"w": torch.arange(3)}, tmp_path / "d.pt")
    assert torch.equal(torch.load(tmp_path / "d.pt")["w"], torch.arange(3))
