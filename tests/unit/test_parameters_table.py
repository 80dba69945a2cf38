"""book/_ext/parameters_table.py: a page shows its run's parameters once, as a table, not as two raw cells."""
import importlib.util

import pytest

from lab.publish import book, runner

ROOT = runner.REPO
HTML = ROOT / "book" / "_build" / "html" / "book"


def _extension():
    spec = importlib.util.spec_from_file_location("parameters_table", ROOT / "book" / "_ext" / "parameters_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_assignments_keep_the_values_as_written():
    code = '# Parameters\nseeds = [0, 1, 2]\nlr = 1e-3\nname = "smollm2-135m"\nmagnitudes = {"A": [1, 2]}\n'
    assert _extension().assignments(code) == {"seeds": "[0, 1, 2]", "lr": "1e-3", "name": '"smollm2-135m"',
                                              "magnitudes": '{"A": [1, 2]}'}


@pytest.mark.skipif(not (HTML / "index.html").exists(), reason="book not built")
def test_every_chapter_shows_one_parameters_table_and_no_raw_parameter_cells():
    for page in book.notebook_chapters():
        html = (HTML / f"{page}.html").read_text()
        assert html.count('class="run-parameters-block') == 1, page
        assert "tag_injected-parameters" not in html and "tag_parameters" not in html, page
        assert "this run" in html or "default" in html, page
