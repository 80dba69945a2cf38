"""Part I's caches are keyed by content: a run step's records are reused only for the same model content, the same
declared measuring code and the same attractor text; an API answer and a capability probe only for the same reported
model identity (and, for the probe, the same code). Swapped weights at the same path, an edited measuring module or
another model behind the same name reuse nothing."""
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab import steps
from lab.dynamics import experiments as ex
from lab.dynamics import identity, runs
from lab.dynamics.api import OpenAICompatible
from lab.dynamics.backends import LocalLM


def tiny_lm(model_dir):
    return LocalLM.load(str(model_dir))


GRID = ex.Grid(("counting", "gettysburg_address"), {"A": [1], "E": [1]}, (0, 1), max_new_tokens=6, prefix_tokens=10)


@pytest.fixture
def computed(monkeypatch, tmp_path):
    """The attractors whose records were computed (not read back from a stored step result), with the step results
    kept in a temporary cache."""
    monkeypatch.delenv("LAB_STEPS", raising=False)  # reuse: look up, compute what is missing, keep it in the cache
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    runs.open_backend.cache_clear()
    names = []
    real = ex._run_attractor_local

    def counting(lm, grid, attractor):
        names.append(attractor.name)
        return real(lm, grid, attractor)

    monkeypatch.setattr(ex, "_run_attractor_local", counting)
    yield names
    runs.open_backend.cache_clear()


@pytest.mark.slow
def test_swapped_weights_at_the_same_path_reuse_no_record(tmp_path, computed, tiny_model):
    model = shutil.copytree(tiny_model, tmp_path / "model")  # its weights are changed below
    backend = runs.Backend("local", str(model), device="cpu")
    first = runs.records(runs.run_grid(backend, GRID))
    assert computed == ["counting", "gettysburg_address"]
    assert runs.records(runs.run_grid(backend, GRID)) == first
    assert len(computed) == 2  # same files: read back
    _scale_weights(model, 3.0)  # other weights, same path, same name, same config
    runs.open_backend.cache_clear()
    second = runs.records(runs.run_grid(backend, GRID))
    assert computed[2:] == ["counting", "gettysburg_address"]  # nothing reused
    assert [r["kl_steps"] for r in second] != [r["kl_steps"] for r in first]


def _scale_weights(model_dir: Path, factor: float) -> None:
    from safetensors.torch import load_file, save_file

    path = model_dir / "model.safetensors"
    tensors = load_file(path)
    save_file({k: v * factor if v.is_floating_point() else v for k, v in tensors.items()}, path,
              metadata={"format": "pt"})


def test_the_model_hash_covers_every_file_and_not_the_path(tmp_path, tiny_model):
    model = tiny_model
    copy = shutil.copytree(model, tmp_path / "b")
    assert identity.model_files(model) == identity.model_files(copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "rms_norm_eps": 1e-3}))
    assert identity.model_files(model) != identity.model_files(copy)
    assert runs.model_identity(runs.Backend("local", str(model))) != runs.model_identity(runs.Backend("local", str(copy)))


def test_the_step_declares_the_code_that_computes_the_records():
    declared = runs.attractor_records.dependencies()
    assert {"lab.dynamics.experiments", "lab.dynamics.observables", "lab.dynamics.actions", "lab.dynamics.api",
            "lab.dynamics.backends"} <= set(declared)


@pytest.mark.slow
def test_a_changed_measuring_module_reuses_no_record(computed, tiny_model, monkeypatch):
    """The key carries the source of the modules the step declares: another source of lab/dynamics/observables.py
    (here its hash, as an edit would change it) re-computes every attractor."""
    backend = runs.Backend("local", str(tiny_model), device="cpu")
    runs.run_grid(backend, GRID)
    runs.run_grid(backend, GRID)
    assert len(computed) == 2  # unchanged code: read back
    real = steps.source_hash
    monkeypatch.setattr(steps, "source_hash", lambda obj: "edited" if obj == "lab.dynamics.observables" else real(obj))
    runs.run_grid(backend, GRID)
    assert len(computed) == 4  # every attractor again


def test_an_edited_attractor_text_recomputes_that_attractor_only(computed, tiny_model, monkeypatch, tmp_path):
    """The step reads its attractor's text through lab.steps: another text of one attractor re-computes that one."""
    backend = runs.Backend("local", str(tiny_model), device="cpu")
    runs.run_grid(backend, GRID)
    from lab.dynamics import attractors

    real = steps.current_sha
    monkeypatch.setattr(steps, "current_sha", lambda name: "edited" if name.endswith("counting.txt") else real(name))
    again = attractors.load(["counting"])[0].text
    assert again  # the file itself is untouched
    runs.run_grid(backend, GRID)
    assert computed == ["counting", "gettysburg_address", "counting"]


# ------------------------------------------------------------------ API: request cache and probe

class ModelServer:
    """An OpenAI-compatible server in this process whose GET /v1/models reports ``root`` (which checkpoint
    it serves) and whose completions answer a fixed text; counts the completions it answers."""

    def __init__(self):
        outer = self
        self.root, self.created, self.completions = "/models/a", 1, 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, payload):
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                outer.created += 1  # vLLM stamps every answer: not part of the identity
                self._send({"object": "list", "data": [{"id": "m", "object": "model", "created": outer.created,
                                                        "owned_by": "lab", "root": outer.root}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.completions += 1
                self._send({"id": "x", "object": "text_completion", "created": 0, "model": "m",
                            "choices": [{"index": 0, "text": " five", "finish_reason": "length", "logprobs": None}],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def model_server():
    s = ModelServer()
    yield s
    s.close()


def _client(server, tmp_path):
    return OpenAICompatible("m", base_url=server.url, cache_dir=tmp_path / "cache", backoff=0.01)


def test_another_model_behind_the_same_name_reuses_no_answer_and_no_probe(model_server, tmp_path):
    first = _client(model_server, tmp_path)
    first.complete("1, 2, 3, 4,", 2)
    assert "model identity reported by GET /models" in first.identity_note() and "/models/a" in first.identity()
    probe = first.capabilities_path()
    sent = model_server.completions

    again = _client(model_server, tmp_path)  # same model: the probe and the answer come from the cache
    again.complete("1, 2, 3, 4,", 2)
    assert model_server.completions == sent and again.capabilities_path() == probe

    model_server.root = "/models/b"  # the server now serves another checkpoint under the name "m"
    swapped = _client(model_server, tmp_path)
    swapped.complete("1, 2, 3, 4,", 2)
    assert swapped.capabilities_path() != probe
    assert swapped.accounting.cache_hits == 0 and model_server.completions > sent  # probed and asked again


def test_a_changed_probe_code_reprobes(model_server, tmp_path, monkeypatch):
    """The probe's record is keyed by the source of the module that reads it (lab/dynamics/api.py)."""
    client = _client(model_server, tmp_path)
    before = client.capabilities_path()
    assert client.capabilities_path() == before  # the same code: the same key
    real = steps.source_hash
    monkeypatch.setattr(steps, "source_hash", lambda obj: "edited" if obj == "lab.dynamics.api" else real(obj))
    assert client.capabilities_path() != before


def test_an_api_backend_loads_its_tokenizer_and_no_weights(tiny_model, monkeypatch):
    """An API model's token-level actions need a tokenizer only: no local weights are loaded for it (an 8B model's
    tokenizer is megabytes; its weights would be 32 GB)."""
    from lab import models

    monkeypatch.setattr(models, "load", lambda *a, **k: pytest.fail("weights loaded for an API backend"))
    runs.open_backend.cache_clear()
    try:
        client, vocab = runs.open_backend(runs.Backend("openai", "m", base_url="http://127.0.0.1:9/v1",
                                                       tokenizer=str(tiny_model)))
        assert vocab.encode("one two three") and vocab.identity.startswith("tokenizer:")
    finally:
        runs.open_backend.cache_clear()
