"""The retries of the OpenAI-compatible backend (lab.dynamics.api), through the real ``openai`` client over an
``httpx2.MockTransport``: which faults are retried, how long each wait is, that every retry is counted in the run
record, and that a failure no retry can mend is raised at once, unsent again and uncached. The same client
against a real local server with real timeouts and dropped connections: tests/integration/test_dynamics_api.py."""
import json

import httpx2
import openai
import pytest

from lab.dynamics.api import MAX_WAIT_S, OpenAICompatible, RequestFailed

URL = "https://api.invalid/v1"  # never resolved: the mock transport answers every request
MODELS = {"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "test"}]}


def _completion(body: dict) -> dict:
    return {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            "choices": [{"index": 0, "text": " ok", "finish_reason": "length", "logprobs": None}]}


class FaultyTransport:
    """Answers each distinct POST body with the given faults in turn, then 200; counts what it was sent.
    A fault is an HTTP status (with ``Retry-After`` where given as ``(status, seconds)``) or an httpx2
    exception to raise, as a slow or dropped connection does."""

    def __init__(self, *faults):
        self.faults, self.posts = faults, []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return httpx2.Response(200, json=MODELS)
        body = json.loads(request.content)
        n = self.posts.count(request.content)
        self.posts.append(request.content)
        if n >= len(self.faults):
            return httpx2.Response(200, json=_completion(body))
        fault = self.faults[n]
        if isinstance(fault, Exception):
            raise fault
        status, seconds = fault if isinstance(fault, tuple) else (fault, None)
        headers = {"retry-after": str(seconds)} if seconds is not None else {}
        return httpx2.Response(status, json={"error": {"message": f"fault {status}"}}, headers=headers)


def _client(transport, tmp_path, waits: list | None = None, **kw) -> OpenAICompatible:
    kw = {"max_retries": 6, "backoff": 1.0, **kw}
    api = OpenAICompatible("m", base_url=URL, cache_dir=tmp_path / "cache", endpoint="completions",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(transport)), **kw)
    if waits is not None:  # the waits are recorded instead of slept
        api.retrying = api.retrying.copy(sleep=waits.append)
    return api


BODY = {"model": "m", "prompt": "1, 2, 3,", "max_tokens": 2, "temperature": 0.0}
DROPPED = httpx2.RemoteProtocolError("Server disconnected without sending a response.")


def test_transient_faults_are_retried_and_every_retry_is_in_the_run_record(tmp_path):
    faults = FaultyTransport((429, 0), 500, httpx2.ReadTimeout("slow"), DROPPED)
    waits = []
    api = _client(faults, tmp_path, waits)
    data, cached = api.request("completions", BODY)
    assert data["choices"][0]["text"] == " ok" and not cached
    assert len(faults.posts) == 5 and api.accounting.retries == 4 and api.accounting.requests_sent == 1
    # Retry-After: 0 is obeyed, then backoff * 2^(retry - 1) seconds for retries 2, 3, 4
    assert waits == [0.0, 2.0, 4.0, 8.0]
    assert api.cache_path("completions", BODY).exists()
    # the probes of the run record go through the same faults: every retry of every request is recorded
    record = api.record()
    distinct = len(set(faults.posts))
    assert distinct == 3 and record["retries"] == 4 * distinct == len(faults.posts) - distinct
    assert record["requests sent"] == distinct


def test_the_waits_follow_retry_after_and_exponential_backoff_both_capped(tmp_path):
    waits = []
    capped = _client(FaultyTransport((429, 3600), (503, 7), (429, -5)), tmp_path, waits)
    capped.request("completions", BODY)
    assert waits == [MAX_WAIT_S, 7.0, 0.0]  # a negative Retry-After is no wait, not an error
    waits.clear()
    backoff = _client(FaultyTransport(*[502] * 8), tmp_path / "b", waits, max_retries=8, backoff=0.5)
    backoff.request("completions", BODY)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, MAX_WAIT_S] and backoff.accounting.retries == 8


def test_a_request_that_fails_every_retry_raises_counts_and_is_not_cached(tmp_path):
    faults = FaultyTransport(500, 500, 500, 500)
    api = _client(faults, tmp_path, [], max_retries=2)
    with pytest.raises(RequestFailed, match="after 3 attempts: .*fault 500"):
        api.request("completions", BODY)
    assert len(faults.posts) == 3
    assert (api.accounting.retries, api.accounting.requests_sent) == (2, 0)
    assert not list((tmp_path / "cache").rglob("*.json"))


@pytest.mark.parametrize("status, attempts", [(400, 1), (401, 1), (402, 1), (403, 1), (404, 1), (422, 1),
                                              (408, 3), (429, 3), (500, 3), (502, 3), (503, 3)])
def test_a_client_error_is_raised_at_once_and_a_transient_one_retried(tmp_path, status, attempts):
    faults = FaultyTransport(*[status] * 3)
    api = _client(faults, tmp_path, [], max_retries=2)
    expected = RequestFailed if attempts > 1 else openai.APIStatusError
    with pytest.raises(expected, match=str(status)):
        api.request("completions", BODY)
    assert len(faults.posts) == attempts and api.accounting.retries == attempts - 1
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_a_bad_key_fails_on_the_first_probe_before_any_grid_request(tmp_path):
    """A 401 is raised by the first request the client makes, the one-token probe, not retried."""
    faults = FaultyTransport(*[401] * 10)
    api = _client(faults, tmp_path, [])
    with pytest.raises(openai.AuthenticationError):
        api.complete("Four score and seven years ago", 200)
    assert len(faults.posts) == 1 and json.loads(faults.posts[0])["max_tokens"] == 1

