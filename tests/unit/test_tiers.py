"""The two tiers of tests/ hold what CONTRIBUTING.md says they hold: every test file is in one of them, and the
unit tier loads no transformers model, reads no downloaded asset and starts no process or server."""
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# what puts a test in the integration tier; a unit file that names one of these belongs there
INTEGRATION_MARKS = re.compile(r"\b(transformers|from_pretrained|models\.load|build_tiny\w*|LocalLM|assets\.\w+\(|"
                               r"subprocess|Popen|multiprocessing|papermill|nbclient|chromium|http://)")


def test_every_test_file_is_in_a_tier():
    assert not sorted(p.name for p in TESTS.glob("test_*.py"))
    assert list((TESTS / "unit").glob("test_*.py")) and list((TESTS / "integration").glob("test_*.py"))


def test_unit_files_use_no_model_asset_or_process():
    offenders = {p.name: sorted(set(INTEGRATION_MARKS.findall(p.read_text())))
                 for p in (TESTS / "unit").glob("test_*.py") if p.name != Path(__file__).name}
    assert not {name: marks for name, marks in offenders.items() if marks}


def test_the_rule_catches_a_model_load():
    assert INTEGRATION_MARKS.search("lm, tok = models.load(tiny)")
    assert not INTEGRATION_MARKS.search("table = evaluate.seed_table(runs)")
