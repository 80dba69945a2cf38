"""A reader's own model: Hugging Face hub ids, device and dtype, tested offline against a real hub cache.

A tiny randomly initialised Llama is laid out as the hub cache lays out a download (blobs, a snapshot of
links, refs/main) under a temporary HF_HOME. With HF_HUB_OFFLINE=1 the id then loads through the same
``from_pretrained`` call a reader's download takes; an id that is not cached fails at the parameter check,
before any work, with a message that names the id and the fix.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub_cache import place_in_hub_cache

HERE = Path(__file__).resolve().parents[1]  # tests/
REPO_ID = "lab-test/tiny"
REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory, tiny_model):
    home = tmp_path_factory.mktemp("hf_home")
    place_in_hub_cache(tiny_model, home, REPO_ID, REVISION)
    return home


def _env(hf_home, **extra):
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(HERE.parent)}
    env.pop("HF_HUB_CACHE", None)
    return {**env, **extra}


SCRIPT = r"""
import json, sys, torch
from lab import models
from lab.dynamics.backends import LocalLM

out = {}
src = models.source(sys.argv[1])
out["source"] = [src.kind, src.repo_id, src.revision, src.slug]
pinned = models.source(sys.argv[1] + "@" + src.revision)
out["pinned_revision"] = pinned.revision
lm = LocalLM.load(sys.argv[1], device="auto", dtype="bfloat16")
out["param_dtype"] = str(next(lm.model.parameters()).dtype)
out["device"] = lm.device.type
out["identity"] = lm.identity
out["generated"] = len(models.greedy(lm.model, lm.tokenizer, "Four score and", 4))
row = models.loaded_table().loc[sys.argv[1]]
out["loaded"] = {k: str(v) for k, v in row.items()}
out["files_sha256"] = models.files_sha256(src.path)
print(json.dumps(out))
"""


def test_a_hub_id_loads_offline_from_the_cache_in_bfloat16(hf_home):
    run = subprocess.run([sys.executable, "-c", SCRIPT, REPO_ID], env=_env(hf_home), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["source"] == ["hub", REPO_ID, REVISION, f"lab-test--tiny@{REVISION[:12]}"]
    assert out["pinned_revision"] == REVISION
    assert out["param_dtype"] == "torch.bfloat16"  # loaded in bf16 and left there
    assert out["device"] == "cpu"  # auto on a machine without CUDA or MPS
    assert out["identity"].endswith(":bfloat16:cpu")  # a bf16 run never reuses an fp32 run's records
    assert out["generated"] >= 1
    assert out["loaded"]["kind"] == "hub" and out["loaded"]["revision"] == REVISION
    assert out["loaded"]["files_sha256"] == out["files_sha256"] and out["loaded"]["dtype"] == "bfloat16"


def test_an_uncached_id_fails_at_the_parameter_check_with_the_fix(hf_home, monkeypatch):
    from lab.dynamics import runs
    from lab.legal.runs import LegalDesign
    from lab.publish.design import defaults, validate
    from lab.publish.params import ParameterError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ParameterError) as err:
        validate(runs.ProbeDesign, {**defaults(runs.ProbeDesign), "model": "lab-test/absent",
                                    "extra_models": []}).check_here()
    assert time.perf_counter() - t0 < 5
    message = str(err.value)
    assert "lab-test/absent" in message and "HF_HUB_OFFLINE" in message
    assert "hf auth login" in message and "local Hugging Face directory" in message
    with pytest.raises(ParameterError, match="lab-test/absent"):
        validate(LegalDesign, {**defaults(LegalDesign), "model": "lab-test/absent"}).check_here()


def test_model_names_that_are_neither_path_nor_hub_id_list_every_form():
    from lab import models

    with pytest.raises(models.ModelUnavailable) as err:
        models.source("not a model")
    assert "hub id" in str(err.value) and "smollm2-135m" in str(err.value)
    assert models.HUB_ID.match("meta-llama/Llama-3.2-1B@main")["revision"] == "main"
    assert models.HUB_ID.match("mistralai/Mistral-7B-Instruct-v0.3")["repo"] == "mistralai/Mistral-7B-Instruct-v0.3"


def test_device_and_dtype_are_checked_before_any_model_is_loaded():
    import torch

    from lab import models

    assert models.pick_device("auto") in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert "no CUDA device" in models.device_problem("cuda")
    with pytest.raises(ValueError, match="valid choices"):
        models.load("smollm2-135m", dtype="int4")


def test_the_experiments_notebook_runs_a_hub_id_on_the_quick_grid(hf_home, tmp_path, monkeypatch):
    """`papermill notebooks/p1_experiments.ipynb out.ipynb -p model lab-test/tiny -p dtype bfloat16` with
    HF_HUB_OFFLINE=1: the published notebook, unchanged, on a model named by its hub id."""
    from lab.publish import runner

    for k, v in _env(hf_home, LAB_CACHE=str(tmp_path / "cache")).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(runner, "RUNS", tmp_path / "runs")
    out = tmp_path / "p1_hub.ipynb"
    runner.run("p1_experiments", "quick", {"model": REPO_ID, "dtype": "bfloat16"}, output=out)
    nb = json.loads(out.read_text())
    assert nb["metadata"]["lab"]["parameters"]["model"] == REPO_ID
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    provenance = [c for c in nb["cells"] if "runs.loaded_table(" in "".join(c["source"])]
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in provenance[0]["outputs"])
    assert REVISION in shown and "bfloat16" in shown
