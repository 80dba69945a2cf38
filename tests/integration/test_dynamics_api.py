"""End-to-end tests of the OpenAI-compatible backend through the real ``openai`` client against real
local HTTP servers (tests/dynamics_server.py) on 127.0.0.1: one complete, one that drops logprobs and has
no raw completions endpoint, one that injects faults. No request leaves the machine."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.dynamics import experiments as ex
from lab.dynamics.api import BudgetExceeded, OpenAICompatible, Pricing
from lab.dynamics.backends import BackendError, LocalLM


HERE = Path(__file__).resolve().parents[1]  # tests/, where the fixtures live
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
GRID = dict(attractors=("counting", "gettysburg_address"), seeds=(0, 1), max_new_tokens=8, prefix_tokens=12,
            magnitudes={"A": [1], "C": [1.0], "D": [2.0], "E": [1], "B_seed": []})


@pytest.fixture(scope="module")
def model_dir(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def vocab(model_dir):
    return LocalLM.load(str(model_dir))


class Server:
    def __init__(self, model_dir, log: Path, *flags):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, str(HERE / "dynamics_server.py"), str(model_dir),
                                      "--log", str(log), *flags], stdout=subprocess.PIPE, text=True, env=ENV)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), "the test server did not start"
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def served(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def _server(model_dir, tmp_path_factory, *flags):
    s = Server(model_dir, tmp_path_factory.mktemp("log") / "served.log", *flags)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    yield from _server(model_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def dropping_server(model_dir, tmp_path_factory):
    yield from _server(model_dir, tmp_path_factory, "--drop-logprobs", "--no-completions")


@pytest.fixture(scope="module")
def faulty_server(model_dir, tmp_path_factory):
    yield from _server(model_dir, tmp_path_factory, "--faults", "--slow-seconds", "1.5")


def _client(url, tmp_path, vocab, **kw):
    return OpenAICompatible("tiny", base_url=url, cache_dir=tmp_path / "cache", tokenizer=vocab, backoff=0.01, **kw)


def test_capabilities_of_a_complete_server(server, vocab, tmp_path):
    caps = _client(server.url, tmp_path, vocab).capabilities()
    assert caps.endpoint == "completions" and caps.logprobs and caps.logit_bias


def test_grid_through_the_api_matches_local_greedy_and_reports_what_is_unavailable(server, vocab, tmp_path):
    api = _client(server.url, tmp_path, vocab)
    records = ex.run(api, ex.Grid(**GRID), vocab=vocab, progress=False)
    df = ex.frame(records)
    assert set(df.action) == {"control", "A", "D", "E", "B_seed"}
    assert [r["action"] for r in ex.unavailable(records)] == ["C", "C"]  # no embeddings on an API
    assert (df.kl_kind == "top-k lower bound, steps up to divergence").all()
    assert df[df.action == "control"].kl_mean.max() == pytest.approx(0.0, abs=1e-9)
    # the server runs the same tiny model greedily: its control continuation is the local one
    local = ex.frame(ex.run(vocab, ex.Grid(**GRID), progress=False))
    for name in GRID["attractors"]:
        assert (df[(df.action == "control") & (df.attractor == name)].text.iloc[0]
                == local[(local.action == "control") & (local.attractor == name)].text.iloc[0])
    sent = api.accounting.requests_sent
    again = _client(server.url, tmp_path, vocab)
    assert ex.frame(ex.run(again, ex.Grid(**GRID), vocab=vocab, progress=False)).text.tolist() == df.text.tolist()
    assert again.accounting.requests_sent == 0 and again.accounting.cache_hits >= sent  # a re-run costs nothing


def test_a_server_that_drops_logprobs_makes_those_metrics_unavailable(dropping_server, vocab, tmp_path):
    api = _client(dropping_server.url, tmp_path, vocab)
    caps = api.capabilities()
    assert caps.endpoint == "chat" and not caps.logprobs
    records = ex.run(api, ex.Grid(**GRID), vocab=vocab, progress=False)
    df = ex.frame(records)
    assert df.kl_mean.isna().all() and (df.kl_kind == f"unavailable: {ex.NO_LOGPROBS}").all()
    assert {r["action"] for r in ex.unavailable(records)} == {"C", "E"}  # no raw completions for E


def test_faults_are_retried_and_the_run_finishes(faulty_server, vocab, tmp_path):
    """The smoke test of the retries over real sockets: a real timeout and a really dropped connection. Which
    faults are retried, the waits and the failures: tests/unit/test_dynamics_api_retries.py."""
    api = _client(faulty_server.url, tmp_path, vocab, timeout=0.5, max_retries=5)
    out = api.complete("1, 2, 3,", 4)
    assert out.text and api.accounting.retries == 4 + 3 * 4  # 429, 500, slow, dropped; for 4 requests
    assert faulty_server.served().count(faulty_server.served()[-1]) == 1


def test_budget_refuses_the_next_call_before_sending(server, vocab, tmp_path):
    api = _client(server.url, tmp_path, vocab, budget_tokens=60)
    api.capabilities()
    before = len(server.served())
    with pytest.raises(BudgetExceeded):
        api.complete("Four score and seven years ago", 200)
    assert len(server.served()) == before
    priced = _client(server.url, tmp_path / "p", vocab, budget_usd=1e-9,
                     pricing=__import__("lab.dynamics.api", fromlist=["Pricing"]).Pricing(1.0, 1.0))
    with pytest.raises(BudgetExceeded):
        priced.capabilities()


def test_a_budget_for_the_probes_and_one_call_refuses_the_second(server, vocab, tmp_path):
    """The budget counts what was already spent: probes plus one call's worst case admits that call, and the
    next call of the same size is refused before it is sent."""
    probe = _client(server.url, tmp_path / "probe", vocab)
    probe.capabilities()
    probes = probe.accounting.prompt_tokens + probe.accounting.completion_tokens
    prompt, max_tokens = "Four score and seven years ago", 8
    worst = len(vocab.encode(prompt)) + max_tokens  # a request could use its prompt plus max_tokens
    assert probes > 0
    api = _client(server.url, tmp_path, vocab, budget_tokens=probes + worst)
    api.capabilities()
    api.complete(prompt, max_tokens, seed=0)
    spent = api.accounting.prompt_tokens + api.accounting.completion_tokens
    assert api.accounting.requests_sent == probe.accounting.requests_sent + 1 and spent > probes
    served = len(server.served())
    with pytest.raises(BudgetExceeded):
        api.complete(prompt, max_tokens, seed=1)  # another request (another seed) of the same size
    assert len(server.served()) == served and api.accounting.requests_sent == probe.accounting.requests_sent + 1


class CannedServer:
    """An HTTP server in this process that answers every POST with one status and JSON body, and counts them."""

    def __init__(self, status: int, payload: dict):
        outer = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.hits += 1
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def canned():
    servers = []

    def start(status, payload):
        servers.append(CannedServer(status, payload))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _completion(usage: dict) -> dict:
    return {"id": "x", "object": "text_completion", "created": 0, "model": "m", "usage": usage,
            "choices": [{"index": 0, "text": " ok", "finish_reason": "length", "logprobs": None}]}


def test_usage_cost_reported_by_the_server_is_summed_and_spends_the_budget(canned, tmp_path):
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.25}
    srv = canned(200, _completion(usage))
    # the server's own cost wins over the price list (which would say $0.000005 a request)
    api = OpenAICompatible("m", base_url=srv.url, cache_dir=tmp_path, budget_usd=0.45, pricing=Pricing(1.0, 1.0))
    for prompt in ("a", "b"):
        api.request("completions", {"model": "m", "prompt": prompt, "max_tokens": 2})
    assert api.accounting.cost_usd == pytest.approx(0.5) and api.accounting.prompt_tokens == 6
    with pytest.raises(BudgetExceeded):  # $0.50 spent of $0.45: nothing more is sent
        api.request("completions", {"model": "m", "prompt": "c", "max_tokens": 2})
    assert srv.hits == 2
    # without a reported cost, the price list is used
    free = canned(200, _completion({k: v for k, v in usage.items() if k != "cost"}))
    listed = OpenAICompatible("m", base_url=free.url, cache_dir=tmp_path / "l", pricing=Pricing(1.0, 2.0))
    listed.request("completions", {"model": "m", "prompt": "a", "max_tokens": 2})
    assert listed.accounting.cost_usd == pytest.approx((3 * 1.0 + 2 * 2.0) / 1e6)


def test_openrouter_without_a_key_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(BackendError, match="OPENROUTER_API_KEY"):
        OpenAICompatible("meta-llama/llama-3-70b-instruct")


RUNNER = """
import sys
from lab.dynamics import experiments as ex
from lab.dynamics.api import OpenAICompatible
from lab.dynamics.backends import LocalLM
vocab = LocalLM.load(sys.argv[1])
api = OpenAICompatible("tiny", base_url=sys.argv[2], cache_dir=sys.argv[3], tokenizer=vocab, backoff=0.01)
grid = ex.Grid(**{grid})
ex.run(api, grid, vocab=vocab, progress=False)
"""


def test_a_killed_run_resumes_without_repeating_a_completed_request(server, model_dir, vocab, tmp_path):
    cache = tmp_path / "cache"
    code = RUNNER.replace("{grid}", repr(GRID))
    before = len(server.served())
    proc = subprocess.Popen([sys.executable, "-c", code, str(model_dir), server.url, str(cache)], env=ENV)
    deadline = time.time() + 60
    while len(server.served()) - before < 12 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.kill()
    proc.wait()
    completed = {p.name for p in cache.rglob("*.json") if not p.name.startswith("capabilities")}
    served_before = server.served()[before:]
    assert len(completed) >= 10
    api = OpenAICompatible("tiny", base_url=server.url, cache_dir=cache, tokenizer=vocab, backoff=0.01)
    ex.run(api, ex.Grid(**GRID), vocab=vocab, progress=False)
    served_after = server.served()[before + len(served_before):]
    repeated = set(served_after) & set(served_before)
    # at most the one request in flight when the process died (answered, not yet written) is sent again
    assert len(repeated) <= 1
    assert api.accounting.cache_hits >= len(completed)
    assert api.accounting.requests_sent == len(set(served_after))


def test_the_experiments_notebook_runs_against_a_local_server(server, model_dir, tmp_path, monkeypatch):
    """`papermill notebooks/p1_experiments.ipynb ... -p backend openai -p base_url http://127.0.0.1:PORT/v1`:
    the published notebook, unchanged, aimed at an OpenAI-compatible server instead of a local model."""
    from lab.publish import runner

    # a cache of its own, so that the requests are really sent (a warm request cache would answer them)
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "RUNS", tmp_path / "runs")  # a failed run's notebook stays out of the checkout
    out = tmp_path / "p1_api.ipynb"
    params = {"backend": "openai", "base_url": server.url, "model": "tiny", "tokenizer": str(model_dir),
              "attractors": ["counting"], "seeds": [0, 1], "magnitudes": {"A": [1], "C": [1.0], "D": [2.0]},
              "max_new_tokens": 6, "prefix_tokens": 10, "budget": 0.0}
    before = len(server.served())
    runner.run("p1_experiments", "quick", params, output=out)
    nb = json.loads(out.read_text())
    assert nb["metadata"]["lab"]["parameters"]["backend"] == "openai"
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(server.served()) > before  # the requests went to the server
    # embedding noise (C) cannot be applied through an API, and the cell listing what was not measured says so
    listing = [c for c in nb["cells"] if "experiments.unavailable(" in "".join(c["source"])]
    assert len(listing) == 1
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in listing[0]["outputs"])
    assert "'action': 'C'" in shown and "no input embeddings on an API" in shown
    assert "'action': 'D'" not in shown  # the server honours logit_bias, so D was measured


def test_the_memorization_chapter_measures_an_api_model_like_the_local_one(server, model_dir, vocab, tmp_path,
                                                                          monkeypatch):
    """p5's `api_models` go through the same client: greedy continuations of the attractors, counted with a
    local tokenizer, equal to the local model's when the server runs that model."""
    from lab.memorization import ladder, report

    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    design = ladder.LadderDesign(api_models=["tiny"], base_url=server.url, tokenizer=str(model_dir), budget=0.0,
                                 device="cpu", pretrained=[])
    design.check_here()
    before = len(server.served())
    pre = report.pretrained_table({}, {"tiny": ladder.api_extraction(design.api_backend("tiny"), 12, 8)})
    assert len(server.served()) > before
    local = ex.frame(ex.run(vocab, ex.Grid(tuple(pre.loc["tiny"].index), {}, (0,), 8, 12, 0.0, 16), progress=False))
    local = local[local.action == "control"].set_index("attractor").matched_prefix
    assert pre.loc["tiny"]["matched tokens"].to_dict() == local.astype(int).to_dict()
    assert pre["geometric mean p(true token)"].isna().all()  # an API gives no teacher-forced probabilities here


def test_the_memorization_chapter_refuses_bad_api_or_device_parameters_before_work(monkeypatch):
    from lab.memorization import ladder
    from lab.publish.params import ParameterError

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(ParameterError, match="OPENROUTER_API_KEY"):
        ladder.LadderDesign(api_models=["meta-llama/llama-3-70b-instruct"], device="cpu", pretrained=[]).check_here()
    import torch

    if not torch.cuda.is_available():  # refused before any training
        with pytest.raises(ParameterError, match="no CUDA"):
            ladder.LadderDesign(device="cuda", pretrained=[]).check_here()


def test_a_dead_server_is_named_by_its_url_at_once(tmp_path):
    """No server at base_url: one error naming the URL within seconds, not a minute of retried connections."""
    import socket
    import time

    from lab.dynamics.backends import BackendError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from lab.dynamics.api import OpenAICompatible

    client = OpenAICompatible("m", base_url=f"http://127.0.0.1:{port}/v1", cache_dir=tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(BackendError, match=rf"no server answers at http://127.0.0.1:{port}/v1"):
        client.identity()
    assert time.perf_counter() - t0 < 10
