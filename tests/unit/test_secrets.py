"""No API key, token or machine path in an executed notebook, the built book or a results file."""
import os
import re
from pathlib import Path

import pytest

from lab.publish import runner

ROOT = runner.REPO
KEY_PATTERNS = [
    # a key starts a token: "task-trained-to-its-plateau" (a heading's anchor) holds "sk-" but is no key
    r"(?<![A-Za-z0-9])sk-or-v1-[0-9a-f]{32,}",  # OpenRouter
    r"(?<![A-Za-z0-9])sk-(?:proj-)?[A-Za-z0-9_-]{20,}",  # OpenAI style
    r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
    r"AKIA[0-9A-Z]{16}",  # AWS
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
]


def _secret_values():
    return [v for k, v in os.environ.items()
            if re.search(r"(_API_KEY|_TOKEN|_SECRET)$", k) and len(v) >= 8]


def _path_patterns():
    pats = [r"/root/", r"/home/[A-Za-z0-9_.-]+/", r"/Users/[A-Za-z0-9_.-]+/", r"[A-Z]:\\\\Users\\\\"]
    for p in {str(Path.home()), str(ROOT)}:
        if len(p) > 1:
            pats.append(re.escape(p.rstrip("/") + "/"))
    return pats


def scan_text(text: str) -> list[str]:
    found = [m.group(0)[:12] + "…" for p in KEY_PATTERNS for m in re.finditer(p, text)]
    found += ["value of a *_API_KEY/_TOKEN variable" for v in _secret_values() if v in text]
    found += [m.group(0) for p in _path_patterns() for m in re.finditer(p, text)]
    return found


def published_files() -> list[Path]:
    files = list((ROOT / "notebooks").glob("*.ipynb")) + list((ROOT / "book").glob("*.ipynb"))
    files += list((ROOT / "book").glob("*.md")) + list((ROOT / "data").rglob("results*"))
    html = ROOT / "book" / "_build" / "html"
    files += [p for p in html.rglob("*") if p.suffix in {".html", ".ipynb", ".txt", ".json"} and "_static" not in p.parts]
    # files being written by a run in progress (".running-*") are not results yet
    return sorted(f for f in files if not f.name.startswith("."))


def test_the_scanner_finds_planted_secrets_and_paths(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "not-a-pattern-but-a-value-1234")
    planted = "key sk-or-v1-" + "ab" * 32 + " and not-a-pattern-but-a-value-1234 in " + str(Path.home()) + "/x"
    hits = scan_text(planted)
    # each of the three detections, by name: a key pattern, the value of a key variable, the home directory
    assert ("sk-or-v1-aba" + "…") in hits
    assert "value of a *_API_KEY/_TOKEN variable" in hits
    assert str(Path.home()).rstrip("/") + "/" in hits
    # a variable's value is found only while it is set, and only for key-like names
    monkeypatch.delenv("OPENROUTER_API_KEY")
    monkeypatch.setenv("SOME_SETTING", "not-a-pattern-but-a-value-1234")
    assert "value of a *_API_KEY/_TOKEN variable" not in scan_text(planted)
    assert scan_text("a clean line with /usr/lib/python3 and sk-short") == []
    assert scan_text('href="#the-copy-task-trained-to-its-plateau"') == []  # "sk-" inside a word
    assert scan_text("OPENAI_API_KEY=sk-proj-" + "Ab1_" * 6) and scan_text('"sk-' + "x" * 24 + '"')


def test_published_outputs_hold_no_secrets_or_machine_paths():
    files = published_files()
    assert any(f.suffix == ".ipynb" for f in files)
    problems = {str(f.relative_to(ROOT)): hits for f in files if (hits := scan_text(f.read_text(errors="replace")))}
    assert problems == {}


@pytest.mark.skipif(not (ROOT / "book" / "_build" / "html" / "index.html").exists(), reason="book not built")
def test_the_built_book_is_scanned():
    assert any("_build" in f.parts for f in published_files())
