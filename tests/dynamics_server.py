"""A small, real OpenAI-compatible HTTP server over a local model, for the dynamics API tests.

    python tests/dynamics_server.py MODEL_DIR [--drop-logprobs] [--no-completions] [--faults] --log FILE

It prints ``PORT <n>`` once listening on 127.0.0.1. Endpoints: /v1/completions (raw text) and
/v1/chat/completions (messages joined as raw text), greedy or seeded sampling, ``logprobs`` /
``top_logprobs`` (unless --drop-logprobs: then they are silently ignored, as some servers do) and
``logit_bias``. With --faults, each distinct request body is answered, attempt by attempt:
429 (Retry-After: 0), 500, a response slower than the client's timeout, a dropped connection, then
success. Each successful answer appends the body's sha256 to the --log file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--drop-logprobs", action="store_true")
    ap.add_argument("--no-completions", action="store_true")
    ap.add_argument("--faults", action="store_true")
    ap.add_argument("--slow-seconds", type=float, default=1.5)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir).eval()
    lock = threading.Lock()
    attempts: Counter = Counter()

    def generate(prompt: str, max_tokens: int, temperature: float, seed, top_k: int, bias: dict):
        ids = tok(prompt)["input_ids"]
        out, tops = [], []
        g = torch.Generator().manual_seed(int(seed or 0))
        with torch.inference_mode():
            for _ in range(max_tokens):
                logits = model(torch.tensor([ids + out])).logits[0, -1].float()
                for t, b in bias.items():
                    logits[int(t)] += float(b)
                logp = torch.log_softmax(logits, -1)
                if temperature > 0:
                    nxt = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=g))
                else:
                    nxt = int(logits.argmax())
                if top_k:
                    v, i = logp.topk(top_k)
                    tops.append({tok.decode([int(j)]): float(x) for x, j in zip(v, i)})
                if nxt == tok.eos_token_id:
                    break
                out.append(nxt)
        return out, tops, len(ids)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, code, payload, headers=()):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw)
            chat = self.path.endswith("/chat/completions")
            if not chat and (args.no_completions or not self.path.endswith("/completions")):
                return self._send(404, {"error": {"message": "not found", "type": "not_found"}})
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            if args.faults:
                with lock:
                    n = attempts[digest]
                    attempts[digest] += 1
                if n == 0:
                    return self._send(429, {"error": {"message": "rate limited"}}, [("Retry-After", "0")])
                if n == 1:
                    return self._send(500, {"error": {"message": "internal error"}})
                if n == 2:
                    time.sleep(args.slow_seconds)
                    return self._send(500, {"error": {"message": "too slow"}})
                if n == 3:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
            if chat:
                prompt = "\n".join(m["content"] for m in body["messages"])
                top_k = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
            else:
                prompt, top_k = body["prompt"], int(body.get("logprobs") or 0)
            if args.drop_logprobs:
                top_k = 0
            out, tops, n_prompt = generate(prompt, int(body.get("max_tokens") or 16),
                                           float(body.get("temperature") or 0.0), body.get("seed"), top_k,
                                           body.get("logit_bias") or {})
            text = tok.decode(out)
            usage = {"prompt_tokens": n_prompt, "completion_tokens": len(out), "total_tokens": n_prompt + len(out)}
            if chat:
                lp = {"content": [{"token": tok.decode([t]), "logprob": top[tok.decode([t])] if tok.decode([t]) in top
                                   else min(top.values()), "bytes": None,
                                   "top_logprobs": [{"token": k, "logprob": v, "bytes": None} for k, v in top.items()]}
                                  for t, top in zip(out, tops)]} if tops else None
                choice = {"index": 0, "finish_reason": "length", "logprobs": lp,
                          "message": {"role": "assistant", "content": text}}
                payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [choice], "usage": usage}
            else:
                lp = {"tokens": [tok.decode([t]) for t in out], "token_logprobs": [None] * len(out),
                      "top_logprobs": tops, "text_offset": [0] * len(out)} if tops else None
                payload = {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "text": text, "finish_reason": "length", "logprobs": lp}],
                           "usage": usage}
            self._send(200, payload)
            with lock, open(args.log, "a") as fh:
                fh.write(digest + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
