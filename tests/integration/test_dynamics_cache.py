"""Part I's caches are keyed by content: a checkpoint is reused only for the same model files and the same
lab code; an API answer and a capability probe only for the same reported model identity (and, for the
probe, the same code). Swapped weights at the same path, an edited measuring function or another model
behind the same name reuse nothing."""
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.publish import runner
from lab.dynamics import experiments as ex
from lab.dynamics import identity
from lab.dynamics.api import OpenAICompatible
from lab.dynamics.backends import LocalLM


def tiny_lm(model_dir):
    return LocalLM.load(str(model_dir))


GRID = ex.Grid(("counting", "gettysburg_address"), {"A": [1], "E": [1]}, (0, 1), max_new_tokens=6, prefix_tokens=10)


@pytest.fixture
def computed(monkeypatch):
    """The attractors whose records were computed (not read back from a checkpoint)."""
    names = []
    real = ex._run_attractor_local

    def counting(lm, grid, attractor):
        names.append(attractor.name)
        return real(lm, grid, attractor)

    monkeypatch.setattr(ex, "_run_attractor_local", counting)
    return names


@pytest.mark.slow
def test_swapped_weights_at_the_same_path_reuse_no_record(tmp_path, computed, tiny_model):
    model = shutil.copytree(tiny_model, tmp_path / "model")  # its weights are changed below
    ckpt = tmp_path / "ckpt"
    first = ex.run(tiny_lm(model), GRID, checkpoint_dir=ckpt, progress=False)
    assert computed == ["counting", "gettysburg_address"]
    assert ex.run(tiny_lm(model), GRID, checkpoint_dir=ckpt, progress=False) == first
    assert len(computed) == 2  # same files: read back
    _scale_weights(model, 3.0)  # other weights, same path, same name, same config
    second = ex.run(tiny_lm(model), GRID, checkpoint_dir=ckpt, progress=False)
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


def _lab_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(runner.REPO / "lab", repo / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    return repo


@pytest.mark.slow
def test_a_changed_measuring_function_reuses_no_record(tmp_path, monkeypatch, computed, tiny_model):
    """The key carries the hash of the code closure that computes the records: editing a measuring function
    in lab/dynamics/observables.py (here in a copy of lab/ that the closure is read from) re-computes."""
    repo = _lab_copy(tmp_path)
    monkeypatch.setattr(runner, "REPO", repo)
    lm = tiny_lm(tiny_model)
    ckpt = tmp_path / "ckpt"
    ex.run(lm, GRID, checkpoint_dir=ckpt, progress=False)
    ex.run(lm, GRID, checkpoint_dir=ckpt, progress=False)
    assert len(computed) == 2  # unchanged code: read back
    observables = repo / "lab" / "dynamics" / "observables.py"
    source = observables.read_text()
    assert "    return prev[-1]\n" in source
    observables.write_text(source.replace("    return prev[-1]\n", "    return prev[-1] + 0  # changed\n"))
    ex.run(lm, GRID, checkpoint_dir=ckpt, progress=False)
    assert len(computed) == 4  # every attractor again


def test_the_code_hash_is_the_closure_lab_book_uses():
    files = runner.lab_closure(f"import {identity.RECORDS_MODULE}")
    names = {str(f.relative_to(runner.REPO)) for f in files}
    assert {"lab/dynamics/experiments.py", "lab/dynamics/observables.py", "lab/dynamics/actions.py",
            "lab/dynamics/api.py", "lab/dynamics/backends.py"} <= names


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
    client = _client(model_server, tmp_path)
    before = client.capabilities_path()
    repo = _lab_copy(tmp_path)
    monkeypatch.setattr(runner, "REPO", repo)
    assert client.capabilities_path() == before  # a copy of the same code: same key
    api = repo / "lab" / "dynamics" / "api.py"
    api.write_text(api.read_text().replace('"Hello", 2, 0.0, None, 5', '"Hello", 3, 0.0, None, 5'))
    assert client.capabilities_path() != before
