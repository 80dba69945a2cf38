"""Every command README.md shows is run here, so none can rot: a chapter run on the quick profile (the README's
own arguments otherwise), a command with a placeholder (`X`, `[NAME]`) or one that would rebuild the book as
`--help` of its subcommand (every option it uses must be listed there), and `make` targets as `make -n`
(their recipes expand). A README command that no rule covers fails the suite."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PY = sys.executable
COMMAND = re.compile(r"^(?:\.venv/bin/)?(?:python -m lab|lab|papermill|make) [a-z.]")


def readme_commands() -> list[str]:
    """Commands of the README's ```bash blocks (comments dropped) and of its inline code spans."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#") and COMMAND.match(line):
                out.append(line)
    out += [span for span in re.findall(r"`([^`\n]+)`", README) if COMMAND.match(span)]
    return list(dict.fromkeys(out))


def _lab_argv(command: str) -> list[str]:
    words = shlex.split(command)
    words = words[1:] if words[0].endswith("python") else words
    if words[:2] == ["-m", "lab"]:
        words = words[2:]
    elif words[0] == "lab":
        words = words[1:]
    return words


# ------------------------------------------------------------------ how each kind of command is exercised

def run_make(command, tmp_path):
    target = shlex.split(command)[1]
    proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "-m lab" in proc.stdout or "pytest" in proc.stdout


def run_help(command, tmp_path):
    words = _lab_argv(command)
    sub = words[0]
    proc = subprocess.run([PY, "-m", "lab", sub, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for word in words[1:]:
        if word.startswith("--") or word in ("list", "fetch", "verify"):
            assert word in proc.stdout, f"{command}: {word} is not an option of `lab {sub}`"


def run_assets_list(command, tmp_path):
    proc = subprocess.run([PY, "-m", "lab", *_lab_argv(command)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "smollm2-135m" in proc.stdout


def run_chapter_quick(command, tmp_path):
    """`lab run notebooks/X.ipynb --profile cpu -p ...`: the same command on the quick profile."""
    words = _lab_argv(command)
    assert words[0] == "run"
    words = [("quick" if w == "cpu" and words[i - 1] == "--profile" else w) for i, w in enumerate(words)]
    out = tmp_path / "run.ipynb"
    proc = subprocess.run([PY, "-m", "lab", *words, "--output", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(out.read_text())["metadata"]["lab"]
    overrides = dict(zip(words[words.index("-p") + 1::3], words[words.index("-p") + 2::3]))
    assert record["profile"] == "quick"
    assert {k: str(record["parameters"][k]) for k in overrides} == overrides


def run_papermill(command, tmp_path):
    """Plain papermill, as written, plus the quick profile's other parameters (so that it runs in seconds)."""
    words = shlex.split(command)
    src = Path(words[1])
    quick = yaml.safe_load((ROOT / "notebooks" / "params" / f"{src.stem}.yml").read_text())["quick"]
    given = {}
    for flag, value in zip(words[3:], words[4:]):
        if flag == "-y":
            given.update(yaml.safe_load(value))
    models = given.get("models", [])
    try:
        from lab.models import assets

        for m in models:
            assets.model_dir(m)
    except Exception as exc:  # an optional asset (Gemma) this machine has not fetched
        pytest.skip(f"{command}: {exc}")
    rest = {k: v for k, v in quick.items() if k not in given}
    out = tmp_path / words[2]
    argv = [str(Path(PY).with_name("papermill")), words[1], str(out), *words[3:], "-y", yaml.safe_dump(rest),
            "--cwd", str(ROOT)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    injected = [c for c in json.loads(out.read_text())["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert all(f"{k} = {v!r}".replace("'", '"') in "".join(injected[0]["source"]) for k, v in given.items())


def run_gpu_hub_refused_here(command, tmp_path):
    """`lab run ... --profile gpu-hub` names CUDA and gated hub models, neither of which this machine has: it must
    refuse in the parameters cell, naming what is missing and the fix, before any work. Run as written (on a
    machine without CUDA the device is refused first), then with `-p device cpu` (the model is refused)."""
    import os

    words = _lab_argv(command)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    model = yaml.safe_load((ROOT / "notebooks" / "params" / f"{Path(words[1]).stem}.yml").read_text())["gpu-hub"]["model"]
    for extra in ([], ["-p", "device", "cpu"]):
        proc = subprocess.run([PY, "-m", "lab", *words, *extra, "--output", str(tmp_path / f"run{len(extra)}.ipynb")],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and "ParameterError" in proc.stderr, proc.stderr[-3000:]
        missing_model = model in proc.stderr and "hf auth login" in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr
        assert missing_model or (not extra and "no CUDA device" in proc.stderr), proc.stderr[-3000:]


def run_status(command, tmp_path):
    """`lab status` reports every notebook page, current or stale with a reason, and exits 0 or 1 accordingly."""
    from lab.publish.book import notebook_chapters

    proc = subprocess.run([PY, "-m", "lab", *_lab_argv(command)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == notebook_chapters(), proc.stderr[-3000:]
    assert all(re.match(r"^\w+: (current|stale) \(\S+\)", line) for line in lines), lines
    from lab.publish.runner import page_source

    default_stale = [line for line in lines if ": stale (" in line and page_source(line.split(":")[0])[1] is None]
    assert proc.returncode == (1 if default_stale else 0), proc.stdout


RULES = [  # (pattern, how, slow)
    (r"^make (book|test|unit)$", run_make, False),
    (r"^(\.venv/bin/)?python -m lab assets list$", run_assets_list, False),
    (r"^(\.venv/bin/)?python -m lab status$", run_status, False),
    (r"^(\.venv/bin/)?python -m lab run notebooks/\w+\.ipynb --profile cpu( -p \w+ \S+)*$", run_chapter_quick, True),
    (r"^(\.venv/bin/)?papermill notebooks/\w+\.ipynb out\.ipynb( -y '[^']*')+$", run_papermill, True),
    (r"^(\.venv/bin/)?python -m lab run notebooks/\w+\.ipynb --profile gpu-hub$", run_gpu_hub_refused_here, False),
    # placeholders (X, [NAME]), the book (hours on the cpu profile) and bare subcommand names: --help
    (r"^(python -m lab|lab) (assets fetch \[NAME\]|refresh notebooks/X\.ipynb|book --only X|run|book)$", run_help,
     False),
]


def _rule(command):
    matches = [(how, slow) for pattern, how, slow in RULES if re.match(pattern, command)]
    return matches


def test_every_readme_command_has_exactly_one_rule():
    commands = readme_commands()
    assert len(commands) >= 8, commands
    uncovered = [c for c in commands if len(_rule(c)) != 1]
    assert not uncovered, f"README commands no rule of this file runs (or two do): {uncovered}"


@pytest.mark.parametrize("command", [pytest.param(c, marks=[pytest.mark.slow] if any(s for _, s in _rule(c)) else [])
                                     for c in readme_commands()])
def test_readme_command_runs(command, tmp_path):
    (how, _slow), = _rule(command)
    how(command, tmp_path)
