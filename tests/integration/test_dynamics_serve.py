"""Part I's three notebooks, on their quick grid with every action A-E, through real OpenAI-compatible
servers on 127.0.0.1: ``transformers serve`` over the local SmolLM2 (no logprobs, no logit_bias, a model name
it is pinned to, a /v1/models that answers 500) and the project's logprob-returning server
(tests/dynamics_server.py, API KL steps that stop at the divergence point, so of different lengths).

Each notebook must run to its last cell, glue every value its prose cites, and say "unavailable" (never a
number) for what the server cannot give."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lab.models import assets
from lab.publish import runner


pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parents[1]  # tests/, where the fixtures live
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
PART_ONE = ("p1_attractors", "p1_experiments", "p1_analysis")
# the quick grid's actions: all five letters, whatever a server can do
assert set("ABCDE") <= set(runner.profile_parameters("p1_experiments", "quick")["magnitudes"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TransformersServe:
    """`transformers serve MODEL_DIR` (pinned to that model) on 127.0.0.1, CPU, float32."""

    def __init__(self, model_dir: Path, log: Path):
        port = _free_port()
        exe = Path(sys.executable).with_name("transformers")
        self.log = open(log, "w")
        self.proc = subprocess.Popen([str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
                                      "--device", "cpu", "--dtype", "float32"], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=ENV)
        self.url = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 240
        while time.time() < deadline:
            assert self.proc.poll() is None, f"transformers serve exited: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(1)
        raise AssertionError("transformers serve did not answer /health within 240 s")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class LogprobServer:
    def __init__(self, model_dir: Path, log: Path):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "dynamics_server.py"), str(model_dir), "--log",
                                      str(log)], stdout=subprocess.PIPE, text=True, env=ENV)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), "the logprob server did not start"
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


@pytest.fixture(scope="module")
def smollm2():
    try:
        return assets.model_dir("smollm2-135m")
    except assets.AssetMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def serve(smollm2, tmp_path_factory):
    s = TransformersServe(smollm2, tmp_path_factory.mktemp("serve") / "serve.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def logprob_server(tiny, tmp_path_factory):
    s = LogprobServer(tiny, tmp_path_factory.mktemp("log") / "served.log")
    yield s
    s.stop()


# ------------------------------------------------------------------ reading an executed notebook

def _outputs(nb: dict) -> list[dict]:
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def glued(nb: dict) -> dict:
    """{name: value} of every glue of an executed notebook (its text/plain repr, evaluated)."""
    import ast

    out = {}
    for o in _outputs(nb):
        name = o.get("metadata", {}).get("scrapbook", {}).get("name")
        if name:
            data = o["data"]
            if "application/papermill.record/text/markdown" in data:  # a sentence glued as Markdown
                out[name] = "".join(data["application/papermill.record/text/markdown"])
                continue
            text = "".join(data["application/papermill.record/text/plain"])
            out[name] = ast.literal_eval(text) if text != "nan" else float("nan")
    return out


def cited(nb: dict) -> set[str]:
    """The glue names the notebook's prose cites."""
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return set(re.findall(r"\{glue:text\}`([\w]+)", prose))


def backend_record(nb: dict) -> dict:
    recs = [o["metadata"]["lab_backend"] for o in _outputs(nb) if "lab_backend" in o.get("metadata", {})]
    assert len(recs) == 1, "one API backend, one record in the notebook"
    (rec,) = recs[0].values()
    return rec


def figures(nb: dict) -> str:
    return json.dumps([o["data"] for o in _outputs(nb) if "text/html" in o.get("data", {})])


def run_part_one(tmp_path, params: dict) -> dict:
    """Run the three Part I notebooks in order (the analysis re-reads the experiments' checkpoints) through
    `lab run` on the quick profile; {stem: executed notebook}."""
    out = {}
    for stem in PART_ONE:
        path = tmp_path / f"{stem}.ipynb"
        runner.run(stem, "quick", params, output=path)  # raises RunError, with the cell's error, on a failure
        nb = json.loads(path.read_text())
        assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
        assert nb["metadata"]["lab"]["parameters"]["backend"] == "openai"
        missing = cited(nb) - set(glued(nb))
        assert not missing, f"{stem}: prose cites values that were never glued: {missing}"
        out[stem] = nb
    return out


# ------------------------------------------------------------------ the tests

def test_part_one_runs_to_the_last_cell_against_transformers_serve(serve, smollm2, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))  # cold caches: every request really goes out
    t0 = time.perf_counter()
    # "smollm2" is not the name transformers serve is pinned to: the client must detect and work around it
    nbs = run_part_one(tmp_path, {"backend": "openai", "base_url": serve.url, "model": "smollm2",
                                  "tokenizer": str(smollm2), "budget": 0.0})
    print(f"\nPart I through transformers serve: {time.perf_counter() - t0:.0f} s")
    rec = backend_record(nbs["p1_experiments"])
    assert rec["endpoint"] == "completions" and not rec["logprobs"] and not rec["logit_bias"]
    assert rec["model sent"] == str(smollm2) and rec["requests sent"] > 0
    assert any("pinned" in q for q in rec["quirks"]), rec["quirks"]
    assert any("GET /models answered HTTP 500" in q for q in rec["quirks"]), rec["quirks"]
    assert set(rec["unavailable actions"]) == {"C", "D"}  # no embeddings; logit_bias ignored
    assert set(rec["unavailable observables"]) == {"kl_mean", "true_prob_mean", "unperturbed_nll"}
    g = glued(nbs["p1_experiments"])
    assert g["p1e_strongest"] == g["p1e_strongest_kl"] == "unavailable"
    for letter in "ABCDE":  # the prose cites every action: none of it is estimated
        assert g[f"p1e_drop_{letter}"] == g[f"p1e_drop_{letter}_low"] == "unavailable"
    assert g["p1e_robustness_smollm2"] == "unavailable"
    assert glued(nbs["p1_analysis"])["p1x_corr"] == "unavailable"
    assert "unavailable: next-token KL: the server returns no logprobs" in figures(nbs["p1_experiments"])
    assert "unavailable: next-token KL" in figures(nbs["p1_analysis"])
    assert "unavailable" in json.dumps(nbs["p1_attractors"])  # the table's p(true token) column
    # A, B and E did run through the server, with edit distances measured against its control
    executed = json.dumps(nbs["p1_experiments"])
    assert all(f"{a} 2" in executed or f"'{a}'" in executed for a in "ABE")


def test_part_one_runs_against_a_logprob_server_with_ragged_kl_steps(logprob_server, tiny, tmp_path, monkeypatch):
    from lab.dynamics import experiments as ex
    from lab.dynamics import runs
    from lab.publish.design import validate

    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    t0 = time.perf_counter()
    params = {"backend": "openai", "base_url": logprob_server.url, "model": "tiny", "tokenizer": str(tiny),
              "budget": 0.0}
    nbs = run_part_one(tmp_path, params)
    print(f"\nPart I through the logprob server: {time.perf_counter() - t0:.0f} s")
    rec = backend_record(nbs["p1_experiments"])
    assert rec["logprobs"] and rec["logit_bias"] and rec["unavailable actions"] == {"C": "no input embeddings on an API"}
    assert "kl_mean" not in rec["unavailable observables"]
    g = glued(nbs["p1_experiments"])
    assert isinstance(g["p1e_strongest_kl"], float) and g["p1e_strongest_kl"] >= 0
    assert isinstance(g["p1e_kl_D"], float) and g["p1e_kl_C"] == "unavailable"
    # the KL steps of this run really are of different lengths, and the step figure still has its lines
    full = validate(runs.GridDesign, {**runner.profile_parameters("p1_experiments", "quick"), **params,
                                      "extra_models": []})
    [backend] = full.backends()
    runs.open_backend.cache_clear()
    api, _ = runs.open_backend(backend)
    records = runs.records(runs.run_grid(backend, full.grid()))
    assert api.accounting.requests_sent == 0  # the notebooks' own records, read back from their run steps
    lengths = {len(s) for s in ex.frame(records).kl_steps}
    assert len(lengths) > 1, lengths
    kl_figure = "".join("".join(o["data"]["text/html"]) for c in nbs["p1_experiments"]["cells"]
                        if "fig_kl_steps" in "".join(c["source"]) for o in c["outputs"])
    assert kl_figure.count('"mode":"lines"') == 4  # A, B, D, E: C cannot run through an API
