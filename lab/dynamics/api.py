"""OpenAI-compatible backend: OpenRouter, vLLM or any local server, through the ``openai`` client.

Every request goes through one path: look it up in the on-disk cache (keyed by the endpoint, base URL, full
request body and the model identity the server reports, never the key), check the budget, send it with retries
and backoff on 408, 429, 5xx, timeouts and dropped connections (any other error is raised at once, unretried),
account its tokens, cost and retries, and write the response atomically into the cache. A re-run, or a run
resumed after being killed, costs nothing for requests already answered.

Capabilities are probed once per (base URL, model, reported model identity, code of this module) and
remembered in the cache folder: raw completions (else chat), ``logprobs``/``top_logprobs``,
``logit_bias``. A metric that needs a missing capability is reported unavailable.

The model identity is what ``GET /models`` reports for the model (its id, owner, root checkpoint: the
stable fields, not creation times or prices); a server that reports none (``transformers serve`` answers
that route with a 500) is keyed by base URL and name only, and the run record says so. Known quirks are
worked around and named in the record (``Capabilities.quirks``): a server pinned to one model that refuses
any other name (``transformers serve MODEL`` answers 400 "Server is pinned to '...'") is sent that name. OpenRouter silently drops unsupported parameters unless told to require them,
so requests that carry them ask for ``provider.require_parameters``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# tenacity runs the attempts, the backoff and the give-up; CONTRIBUTING keeps home-made code for what no kept
# library does, and a retry loop is what tenacity is.
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from .. import atomic, steps
from ..models import assets
from .backends import BackendError

OPENROUTER_URL = "https://openrouter.ai/api/v1"
MAX_WAIT_S = 60.0  # the longest wait between two attempts, whatever the backoff or the server's Retry-After says
CONNECT_TIMEOUT_S = 5.0  # a server that accepts no connection in this time is taken for absent


class BudgetExceeded(RuntimeError):
    """The next request could cost more than what is left of the budget; it was not sent."""


class RequestFailed(RuntimeError):
    """A request still failed after all retries."""


@dataclass
class Pricing:
    """US dollars per million tokens (0 for local servers)."""

    prompt_per_mtok: float = 0.0
    completion_per_mtok: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok) / 1e6


@dataclass
class Accounting:
    requests_sent: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Completion:
    text: str
    tokens: list[str] | None = None  # the generated tokens as strings, where logprobs came back
    top_logprobs: list[dict[str, float]] | None = None  # per step: token string -> log-probability
    cached: bool = False


@dataclass
class Capabilities:
    endpoint: str  # "completions" (raw text) or "chat"
    logprobs: bool
    logit_bias: bool
    notes: list[str] = field(default_factory=list)
    model: str = ""  # the name requests carry (differs from the requested one on a pinned server)
    quirks: list[str] = field(default_factory=list)  # server quirks detected and worked around


# Fields of a GET /models entry that identify the model; creation times (vLLM stamps each answer) and
# prices (OpenRouter) change without the model changing.
IDENTITY_FIELDS = ("id", "owned_by", "root", "parent", "canonical_slug", "hugging_face_id")
PINNED = re.compile(r"pinned to '([^']+)'")


def pinned_model(exc) -> str | None:
    """The model a server is pinned to, from its refusal of another name (``transformers serve``)."""
    body = getattr(exc, "body", None)
    text = json.dumps(body) if body is not None else str(exc)
    m = PINNED.search(text) or PINNED.search(str(exc))
    return m.group(1) if m else None


def retry_after(exc) -> float | None:
    """The seconds a server asked to wait before the next attempt (its ``Retry-After`` header), if it said."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after")))
    except (TypeError, ValueError):
        return None


class OpenAICompatible:
    """Chat/completions API client with cache, retries, budget cap and capability detection.

    ``base_url=None`` means OpenRouter and needs ``OPENROUTER_API_KEY``; a missing key fails here,
    before any request. ``tokenizer`` (anything with ``encode``/``decode``/``rare_pool``, e.g. a
    :class:`~lab.dynamics.backends.LocalLM` of the same model) is needed for token-level actions and for
    ``logit_bias``; without one those are reported unavailable."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | Path | None = None, budget_usd: float | None = None,
                 budget_tokens: int | None = None, pricing: Pricing | None = None, max_retries: int = 6,
                 timeout: float = 60.0, backoff: float = 1.0, endpoint: str = "auto", tokenizer=None,
                 http_client=None):
        """``max_retries`` attempts after the first, ``backoff`` * 2^(retry - 1) seconds apart (at most
        ``MAX_WAIT_S``) unless the server says otherwise in ``Retry-After``. ``http_client`` is the
        ``openai`` client's own (an ``httpx2.Client``, e.g. over a ``MockTransport``)."""
        import openai

        if not isinstance(model, str) or not model:
            raise BackendError("backend 'openai' needs a model name")
        if endpoint not in ("auto", "completions", "chat"):
            raise BackendError(f"unknown endpoint {endpoint!r}; valid: 'auto', 'completions', 'chat'")
        self.openrouter = base_url is None
        if self.openrouter:
            api_key = api_key or os.environ.get("OPENROUTER_API_KEY")
            if not api_key:
                raise BackendError("backend 'openai' without base_url means OpenRouter, which needs the "
                                   "environment variable OPENROUTER_API_KEY (or pass base_url for a local server)")
            base_url = OPENROUTER_URL
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or "no-key"
        self.model, self.base_url, self.name = model, base_url.rstrip("/"), model
        # the openai client's own retries are off: tenacity retries here, so that each retry is counted
        # a server that is not there answers no connection within CONNECT_TIMEOUT_S (not the read timeout's 60 s)
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, http_client=http_client,
                                    timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT_S))
        transient = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                     openai.APIConnectionError)

        def retryable(exc: BaseException) -> bool:
            # 408 is a request timeout reported by the server (OpenRouter sends it): the same fault as a
            # timeout of this client, and what the openai client itself retries
            return isinstance(exc, transient) or (isinstance(exc, openai.APIStatusError) and exc.status_code == 408)

        self._exponential = wait_exponential(multiplier=backoff, max=MAX_WAIT_S)
        self.retrying = Retrying(stop=stop_after_attempt(max_retries + 1), retry=retry_if_exception(retryable),
                                 wait=self._wait, before_sleep=self._count_retry)
        self._openai = openai
        if cache_dir is None:
            cache_dir = assets.cache_root() / "api-requests"
        self.cache_dir = Path(cache_dir)
        self.budget_usd, self.budget_tokens = budget_usd, budget_tokens
        self.pricing = pricing or Pricing()
        self.requested_endpoint = endpoint
        self.tokenizer = tokenizer
        self.accounting = Accounting()
        self._capabilities: Capabilities | None = None
        self._identity: tuple[str, str] | None = None

    # ------------------------------------------------------------ what the server says it serves
    def identity(self) -> str:
        """The model identity the server reports (JSON of the stable fields of its GET /models entry), or
        ``"unreported"``. Asked once per client, never cached on disk: a restarted server may serve
        another model under the same name."""
        if self._identity is None:
            self._identity = self._ask_identity()
        return self._identity[0]

    def identity_note(self) -> str:
        self.identity()
        return self._identity[1]

    def _ask_identity(self) -> tuple[str, str]:
        try:
            listed = self.client.models.list()
            entries = [m.model_dump() for m in listed.data]
        except self._openai.APIConnectionError as exc:  # the first request: nobody there, said at once, unretried
            raise BackendError(f"no server answers at {self.base_url} ({type(exc).__name__}: {exc}); start it, or "
                               "check base_url") from None
        except self._openai.APIStatusError as exc:
            return "unreported", (f"GET /models answered HTTP {exc.status_code}: the server reports no model "
                                  "identity; cached answers are keyed by base URL and model name only")
        except (self._openai.APIError, TypeError, ValueError) as exc:
            return "unreported", (f"GET /models failed ({type(exc).__name__}): the server reports no model "
                                  "identity; cached answers are keyed by base URL and model name only")
        entry = next((e for e in entries if e.get("id") == self.name), None)
        if entry is None:
            return "unreported", ("GET /models does not list this model: no reported model identity; cached "
                                  "answers are keyed by base URL and model name only")
        fields = {k: entry[k] for k in IDENTITY_FIELDS if entry.get(k) is not None}
        ident = json.dumps(fields, sort_keys=True)
        return ident, f"model identity reported by GET /models: {ident}"

    def record(self) -> dict:
        """What the run record says about this backend: endpoint, capabilities, identity, quirks, costs."""
        caps = self.capabilities()
        return {"base_url": self.base_url, "model requested": self.name, "model sent": caps.model or self.name,
                "endpoint": caps.endpoint, "logprobs": caps.logprobs, "logit_bias": caps.logit_bias,
                "identity": self.identity_note(), "quirks": list(caps.quirks), "notes": list(caps.notes),
                "requests sent": self.accounting.requests_sent, "cache hits": self.accounting.cache_hits,
                "retries": self.accounting.retries, "cost_usd": round(self.accounting.cost_usd, 6)}

    # ------------------------------------------------------------ the one request path
    def _key(self, endpoint: str, body: dict) -> str:
        # A cached answer is the server's, not computed by lab code, so the code is not in this key; the
        # body (which lab code builds) and the reported model identity are.
        blob = json.dumps({"base_url": self.base_url, "endpoint": endpoint, "body": body,
                           "identity": self.identity()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def cache_path(self, endpoint: str, body: dict) -> Path:
        key = self._key(endpoint, body)
        return self.cache_dir / key[:2] / f"{key}.json"

    def _estimate_tokens(self, body: dict) -> int:
        text = body.get("prompt") or " ".join(m["content"] for m in body.get("messages", []))
        n = len(self.tokenizer.encode(text)) if self.tokenizer is not None else len(text.encode()) // 2 + 1
        return n + int(body.get("max_tokens") or 0)

    def _check_budget(self, body: dict) -> None:
        worst = self._estimate_tokens(body)
        a = self.accounting
        if self.budget_tokens is not None and a.prompt_tokens + a.completion_tokens + worst > self.budget_tokens:
            raise BudgetExceeded(f"the next request could use {worst} tokens; "
                                 f"{self.budget_tokens - a.prompt_tokens - a.completion_tokens} left of the token budget")
        if self.budget_usd is not None:
            completion = int(body.get("max_tokens") or 0)
            worst_cost = self.pricing.cost(worst - completion, completion)
            if a.cost_usd + worst_cost > self.budget_usd:
                raise BudgetExceeded(f"the next request could cost ${worst_cost:.4f}; "
                                     f"${self.budget_usd - a.cost_usd:.4f} left of the budget")

    def request(self, endpoint: str, body: dict) -> tuple[dict, bool]:
        """(response as a dict, whether it came from the cache)."""
        path = self.cache_path(endpoint, body)
        if path.exists():
            self.accounting.cache_hits += 1
            return json.loads(path.read_text()), True
        self._check_budget(body)
        extra = {"provider": {"require_parameters": True}} if self.openrouter and (
            "logprobs" in body or "logit_bias" in body) else None
        call = self.client.completions.create if endpoint == "completions" else self.client.chat.completions.create
        try:
            response = self.retrying(call, **body, extra_body=extra) if extra else self.retrying(call, **body)
        except RetryError as exc:  # every attempt failed with a retryable error; any other error is raised as is
            last = exc.last_attempt
            raise RequestFailed(f"{endpoint} request failed after {last.attempt_number} attempts: "
                                f"{last.exception()}") from last.exception()
        data = response.model_dump()
        self.accounting.requests_sent += 1
        usage = data.get("usage") or {}
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        self.accounting.prompt_tokens += pt
        self.accounting.completion_tokens += ct
        self.accounting.cost_usd += float(usage["cost"]) if usage.get("cost") is not None else self.pricing.cost(pt, ct)
        atomic.write_json(path, data)
        return data, False

    def _wait(self, state: RetryCallState) -> float:
        """The server's Retry-After where it gave one, else exponential backoff; at most MAX_WAIT_S."""
        asked = retry_after(state.outcome.exception())
        return min(MAX_WAIT_S, asked) if asked is not None else self._exponential(state)

    def _count_retry(self, state: RetryCallState) -> None:
        self.accounting.retries += 1  # called before each wait, so once per attempt after the first

    # ------------------------------------------------------------ capabilities
    def _body(self, endpoint: str, prompt: str, max_tokens: int, temperature: float, seed: int | None,
              top_logprobs: int, logit_bias: dict[int, float] | None) -> dict:
        body: dict = {"model": self.model, "max_tokens": int(max_tokens), "temperature": float(temperature)}
        if seed is not None:
            body["seed"] = int(seed)
        if endpoint == "completions":
            body["prompt"] = prompt
            if top_logprobs:
                body["logprobs"] = int(top_logprobs)
        else:
            body["messages"] = [{"role": "user", "content": prompt}]
            if top_logprobs:
                body["logprobs"], body["top_logprobs"] = True, int(top_logprobs)
        if logit_bias:
            body["logit_bias"] = {str(int(k)): float(v) for k, v in sorted(logit_bias.items())}
        return body

    def capabilities_path(self) -> Path:
        """The probe's record: keyed by the model's reported identity and the code that reads the probe."""
        key = self._key("probe", {"model": self.name, "code": steps.source_hash(__name__)})
        return self.cache_dir / f"capabilities-{key[:16]}.json"

    def _pinned_workaround(self, endpoint: str, quirks: list[str]) -> None:
        """A server pinned to one model refuses other names with a 400 that names its model: send that."""
        try:
            self.request(endpoint, self._body(endpoint, "Hello", 1, 0.0, None, 0, None))
        except self._openai.BadRequestError as exc:
            pinned = pinned_model(exc)
            if pinned is None or pinned == self.model:
                raise
            quirks.append(f"the server is pinned to the model {pinned!r} and refuses the name {self.model!r}: "
                          f"requests name {pinned!r}")
            self.model = pinned
            self.request(endpoint, self._body(endpoint, "Hello", 1, 0.0, None, 0, None))

    def capabilities(self) -> Capabilities:
        if self._capabilities is not None:
            return self._capabilities
        record = self.capabilities_path()
        if record.exists():
            self._capabilities = Capabilities(**json.loads(record.read_text()))
            self.model = self._capabilities.model or self.model
            return self._capabilities
        notes, quirks = [], []
        if self.identity() == "unreported":
            quirks.append(self.identity_note())
        endpoint = self.requested_endpoint
        if endpoint == "auto":
            try:
                self._pinned_workaround("completions", quirks)
                endpoint = "completions"
            except (self._openai.NotFoundError, self._openai.BadRequestError,
                    self._openai.UnprocessableEntityError):
                endpoint = "chat"
                notes.append("no raw completions endpoint: prompts are sent as one user message (chat)")
        if endpoint == "chat" or self.requested_endpoint != "auto":
            try:
                self._pinned_workaround(endpoint, quirks)
            except self._openai.BadRequestError:
                pass  # not a pinned server: the probe below says what fails
        data, _ = self.request(endpoint, self._body(endpoint, "Hello", 2, 0.0, None, 5, None))
        logprobs = self._parse(endpoint, data).top_logprobs is not None
        if not logprobs:
            notes.append("the server returns no logprobs: KL bounds and token probabilities are unavailable")
        logit_bias = False
        if self.tokenizer is None:
            notes.append("no local tokenizer for this model: token-level actions and logit_bias are unavailable")
        else:
            target = self.tokenizer.rare_pool[0]
            data, _ = self.request(endpoint, self._body(endpoint, "Hello", 1, 0.0, None, 0, {target: 100.0}))
            logit_bias = self._parse(endpoint, data).text == self.tokenizer.decode([target])
            if not logit_bias:
                notes.append("logit_bias is ignored by the server (or its tokenizer differs): action D unavailable")
        self._capabilities = Capabilities(endpoint, logprobs, logit_bias, notes, self.model, quirks)
        atomic.write_json(record, self._capabilities.__dict__)
        return self._capabilities

    # ------------------------------------------------------------ completions
    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, seed: int | None = None,
                 top_logprobs: int = 0, logit_bias: dict[int, float] | None = None) -> Completion:
        caps = self.capabilities()
        if logit_bias and not caps.logit_bias:
            raise BackendError("this endpoint does not honour logit_bias")
        endpoint = caps.endpoint
        body = self._body(endpoint, prompt, max_tokens, temperature, seed,
                          top_logprobs if caps.logprobs else 0, logit_bias)
        data, cached = self.request(endpoint, body)
        out = self._parse(endpoint, data)
        out.cached = cached
        return out

    @staticmethod
    def _parse(endpoint: str, data: dict) -> Completion:
        choice = (data.get("choices") or [{}])[0]
        lp = choice.get("logprobs") or None
        if endpoint == "completions":
            text = choice.get("text") or ""
            if lp and lp.get("top_logprobs"):
                return Completion(text, list(lp.get("tokens") or []), [dict(d or {}) for d in lp["top_logprobs"]])
            return Completion(text)
        text = (choice.get("message") or {}).get("content") or ""
        content = (lp or {}).get("content") if lp else None
        if content and all(c.get("top_logprobs") for c in content):
            return Completion(text, [c["token"] for c in content],
                              [{t["token"]: t["logprob"] for t in c["top_logprobs"]} for c in content])
        return Completion(text)
