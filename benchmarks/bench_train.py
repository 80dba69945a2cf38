"""Training throughput of lab's GPT against a plain nanoGPT-style reference loop (same config, same machine).

    .venv/bin/python benchmarks/bench_train.py [--device cuda --precision bf16 --compile] [--steps 20]

Both sides train the same architecture (pre-LN GPT, SDPA causal attention, AdamW, clip 1.0) on the same
random batches; the reference is written here from scratch so that lab's abstractions (Trainer, collate,
checkpoint hooks) are what is being measured. Reports tokens/s for each and their ratio; on a GPU also the
model FLOPs utilisation (MFU) against the bf16 dense peak given by --peak-tflops (H100 SXM: 989).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab import corpus, train  # noqa: E402
from lab.gpt import GPT, GPTConfig  # noqa: E402


class RefBlock(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, 2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class RefGPT(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.blocks = nn.ModuleList(RefBlock(c.n_embd, c.n_head) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab_size)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))


def bench_reference(cfg, windows, args):
    torch.manual_seed(0)
    model = RefGPT(cfg).to(args.device)
    run = torch.compile(model) if args.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    ctx = torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    times = []
    for step in range(args.warmup + args.steps):
        w = windows[(step * args.batch) % (windows.size(0) - args.batch):][: args.batch].to(args.device)
        x, y = w[:, :-1], w[:, 1:]
        _sync(args.device)
        t0 = time.perf_counter()
        with ctx:
            loss = run(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        _sync(args.device)
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    return args.batch * args.seq_len * len(times) / sum(times)


def bench_lab(cfg, windows, args):
    torch.manual_seed(0)
    model = GPT(cfg)
    n = (args.warmup + args.steps) * args.batch
    tc = train.TrainConfig(lr=5e-4, batch_size=args.batch, epochs=1, max_steps=args.warmup + args.steps,
                           scheduler="none", early_stopping=None, eval_batches=1, device=args.device,
                           precision=args.precision, compile=args.compile, progress=False, decay_all=False)
    t = train.Trainer(model, windows[:n], windows[:args.batch], tc, corpus.make_collate(True))
    t.fit(stop_after=args.warmup)
    _sync(args.device)
    before, seconds_before = t.result.tokens_seen, t.result.train_seconds
    t.fit()
    return (t.result.tokens_seen - before) / (t.result.train_seconds - seconds_before), model


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=8)
    ap.add_argument("--n-embd", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cfg = GPTConfig(vocab_size=args.vocab, block_size=args.seq_len, n_layer=args.n_layer, n_head=args.n_head,
                    n_embd=args.n_embd)
    g = torch.Generator().manual_seed(0)
    windows = torch.randint(0, args.vocab, ((args.warmup + args.steps + 1) * args.batch, args.seq_len + 1), generator=g)
    ref = bench_reference(cfg, windows, args)
    lab_tps, model = bench_lab(cfg, windows, args)
    out = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
           "config": vars(args), "reference tokens/s": ref, "lab tokens/s": lab_tps, "ratio lab/reference": lab_tps / ref,
           "parameters": model.num_parameters()}
    if args.device.startswith("cuda"):
        flops = model.flops_per_token(args.seq_len)
        out["lab MFU"] = lab_tps * flops / (args.peak_tflops * 1e12)
        out["reference MFU"] = ref * flops / (args.peak_tflops * 1e12)
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
