"""A page's record says "uncommitted changes" for edits of code or data, not for what the publication itself
wrote before it (earlier pages of the same `lab book` run, their run steps' results)."""
import subprocess

from lab.publish import provenance


def _repo(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    for d in ("book", "results/step", "lab"):
        (tmp_path / d).mkdir(parents=True)
    for f in ("book/p1.ipynb", "book/p1.glue.json", "book/index.md", "results/step/k.json", "lab/x.py"):
        (tmp_path / f).write_text("0\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def test_published_outputs_are_not_uncommitted_changes(tmp_path):
    repo = _repo(tmp_path)
    assert provenance.git_state(repo)["dirty"] is False
    for f in ("book/p1.ipynb", "book/p1.glue.json", "results/step/k.json"):
        (repo / f).write_text("1\n")
    assert provenance.git_state(repo)["dirty"] is False


def test_code_and_prose_edits_are(tmp_path):
    for edited in ("lab/x.py", "book/index.md"):
        repo = _repo(tmp_path / edited.replace("/", "_"))
        (repo / edited).write_text("1\n")
        assert provenance.git_state(repo)["dirty"] is True, edited
