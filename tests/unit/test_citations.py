"""Every statement about the original code cites `owner/repo@commit:path`; each such citation must name one of the
two original repositories, a commit the map of those repositories records, and a file the map describes."""
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAP = (REPO / "data" / "sources" / "ORIGINAL_REPOS.md").read_text()
CITATION = re.compile(r"\b([\w-]+/[\w.-]+)@([0-9a-f]{7,40}):([\w./-]+\w)")
REPOSITORIES = {"ebaenamar/llm-controlled-dynamics", "webtilians/principiodelTodo"}
# Files the book cites that the map does not describe, each checked in the repository itself.
OUTSIDE_THE_MAP = {"model_comparison_results/comparison_report.txt"}  # webtilians/principiodelTodo, seen 2026-12-02


def texts():
    for path in sorted((REPO / "book").glob("*.md")) + sorted((REPO / "data").glob("*.yml")) + \
            sorted((REPO / "lab").rglob("*.py")):
        yield path, path.read_text()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        yield path, "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


CITATIONS = [(path.relative_to(REPO), *m.groups()) for path, text in texts() for m in CITATION.finditer(text)]


def test_the_book_cites_the_original_code():
    assert len(CITATIONS) >= 25  # the scan finds them (a changed format would make every check below vacuous)


@pytest.mark.parametrize("where, repo, commit, path", CITATIONS, ids=lambda v: str(v))
def test_a_citation_names_a_mapped_repository_commit_and_file(where, repo, commit, path):
    assert repo in REPOSITORIES, f"{where}: {repo} is not one of the original repositories"
    assert commit[:7] in MAP, f"{where}: commit {commit} of {repo} is not in ORIGINAL_REPOS.md"
    assert Path(path).name in MAP or path in OUTSIDE_THE_MAP, f"{where}: {path} is not a file the map describes"
