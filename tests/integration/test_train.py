import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lab import corpus, train
from lab.gpt import GPT, GPTConfig
from lab.infinito import Infinito, original_config, scaled

REPO = Path(__file__).resolve().parents[2]


def data(n_tokens=3000, seq_len=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    # a learnable stream: mostly "next = current + 1 (mod 50)", with some noise
    base = torch.arange(n_tokens) % 50
    noise = torch.randint(0, 50, (n_tokens,), generator=g)
    keep = torch.rand(n_tokens, generator=g) < 0.8
    tokens = torch.where(keep, base, noise)
    w = corpus.windows(tokens.numpy(), seq_len)
    return w[:150], w[150:]


def tiny_infinito():
    return Infinito(scaled(original_config(causal_mask=True), vocab_size=64, block_size=32, n_layer=2,
                           n_head=2, n_embd=32, dropout=0.1))


def config(tmp_path=None, **kw):
    base = dict(lr=3e-3, batch_size=8, epochs=2, eval_every=10, eval_batches=4, progress=False, seed=3,
                scheduler="plateau", plateau_patience=0, early_stopping=None,
                checkpoint_dir=str(tmp_path) if tmp_path else None)
    base.update(kw)
    return train.TrainConfig(**base)


def test_kill_and_resume_gives_the_same_loss_curve(tmp_path):
    tr, va = data()
    collate = corpus.make_collate(True)
    torch.manual_seed(0)
    full = train.train(tiny_infinito(), tr, va, config(tmp_path / "a", checkpoint_every=5), collate)
    assert full.steps == 2 * math.ceil(150 / 8)

    torch.manual_seed(0)
    model = tiny_infinito()
    torch.manual_seed(3)
    t1 = train.Trainer(model, tr, va, config(tmp_path / "b", checkpoint_every=5), collate)
    # 'kill' at step 23: the last checkpoint is from step 20 (an evaluation), so steps 21-23 are lost
    t1.fit(stop_after=23)
    assert t1.result.steps == 23
    torch.manual_seed(12345)  # whatever the new process does before resuming must not matter
    resumed = train.Trainer(Infinito(model.config), tr, va, config(tmp_path / "b", checkpoint_every=5), collate)
    assert resumed.result.steps == 20
    out = resumed.fit()
    assert out.losses == full.losses
    assert [e["loss"] for e in out.evals] == [e["loss"] for e in full.evals]


def test_training_learns_and_reports_ppl_per_token_word_and_byte():
    tr, va = data()

    class Enc:  # every token decodes to two bytes and is one word
        def decode_bytes(self, tokens):
            return b"".join(b"a " for _ in tokens)

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=1, n_head=2, n_embd=32))
    collate = corpus.make_collate(True)
    before = train.evaluate(model, va, collate, encoding=Enc())
    result = train.train(model, tr, va, config(epochs=3, eval_every=None), collate, encoding=Enc())
    after = result.evals[-1]
    assert after["loss"] < before["loss"] - 1.0
    assert after["ppl"] == pytest.approx(math.exp(after["loss"]))
    assert after["ppl_word"] == pytest.approx(after["ppl"])  # one word per token here
    assert after["bits_per_byte"] == pytest.approx(after["loss"] / math.log(2) / 2)


def test_early_stopping_and_plateau_scheduler():
    tr, va = data()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=1, n_head=2, n_embd=32))
    # lr so large that validation gets worse: patience 1 must stop it, the plateau scheduler must cut the lr
    t = train.Trainer(model, tr, va, config(lr=5.0, epochs=20, eval_every=3, early_stopping=1,
                                           plateau_patience=0, plateau_factor=0.1, grad_clip=None),
                      corpus.make_collate(True))
    result = t.fit()
    assert result.stopped_early and result.steps < 20 * 19
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(0.5)


def test_cosine_schedule_reaches_min_lr():
    tr, va = data()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=1, n_head=2, n_embd=32))
    t = train.Trainer(model, tr, va, config(scheduler="cosine", epochs=1, min_lr=1e-5), corpus.make_collate(True))
    t.fit()
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(1e-5)


def test_bad_settings_fail_before_work():
    with pytest.raises(ValueError, match="valid choices"):
        train.TrainConfig(scheduler="step")
    with pytest.raises(ValueError, match="valid choices"):
        train.TrainConfig(precision="fp8")


WORKER = textwrap.dedent("""
    import json, os, sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {repo!r})
    from lab import corpus, train
    from lab.gpt import GPT, GPTConfig
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 64, (16 * 16 * 4 + 1,), generator=g)
    w = corpus.windows(tokens.numpy(), 16)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=32, dropout=0.0))
    cfg = train.TrainConfig(lr=1e-2, batch_size=8, epochs=1, progress=False, seed=1, scheduler="none",
                            early_stopping=None)
    r = train.Trainer(model, w[:64], w[:16], cfg, corpus.make_collate(True)).fit()
    rank, size = train.world()
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    json.dump({{"rank": rank, "size": size, "losses": r.losses, "val": r.evals[-1]["loss"],
               "checksum": float(flat.double().sum()), "first": flat[:5].tolist()}},
              open(sys.argv[1] + f"/rank{{rank}}.json", "w"))
""")


def test_ddp_two_cpu_processes_with_gloo_match_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(repo=str(REPO)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    single.mkdir()
    subprocess.run([sys.executable, str(script), str(single)], check=True, env=env, timeout=120)
    multi = tmp_path / "multi"
    multi.mkdir()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531",
                    str(script), str(multi)], check=True, env=env, timeout=180, capture_output=True)
    one = json.loads((single / "rank0.json").read_text())
    r0, r1 = (json.loads((multi / f"rank{i}.json").read_text()) for i in range(2))
    assert (r0["size"], r1["size"], one["size"]) == (2, 2, 1)
    assert r0["checksum"] == r1["checksum"]  # DDP keeps the replicas identical
    # same global batches, same gradients: the parameters agree with the single process to float precision
    torch.testing.assert_close(torch.tensor(r0["first"]), torch.tensor(one["first"]), atol=1e-5, rtol=1e-4)
    assert r0["val"] == pytest.approx(one["val"], rel=1e-4)


def test_adamw_eps_is_the_configured_one():
    tr, va = data()
    for eps in (1e-9, 1e-8):
        trainer = train.Trainer(tiny_infinito(), tr, va, config(eps=eps), corpus.make_collate(True))
        assert trainer.optimizer.param_groups[0]["eps"] == eps


def _evals_with_losses(monkeypatch, losses, **kw):
    """Feeds ``losses`` to the loop's evaluations in turn (Trainer.run_eval, then the stop checks); returns the
    trainer after each evaluation's bookkeeping."""
    tr, va = data()
    trainer = train.Trainer(tiny_infinito(), tr, va, config(scheduler="none", **kw), corpus.make_collate(True))
    feed = iter(losses)
    monkeypatch.setattr(train, "evaluate", lambda *a, **k: {"loss": next(feed), "ppl": 1.0, "tokens": 1})
    stops = []
    for _ in losses:
        trainer.loop.evaluate()
        stops.append(trainer.result.stopped_early)
    return trainer, stops


def test_min_delta_counts_only_gains_larger_than_it(monkeypatch):
    losses = [1.0, 0.995, 0.992, 0.991]  # each a gain, none by more than 0.01 over 1.0
    trainer, stops = _evals_with_losses(monkeypatch, losses, early_stopping=3, min_delta=0.01)
    assert stops == [False, False, False, True]
    assert trainer.result.best_val_loss == 0.991  # the best model still follows every gain
    _, stops = _evals_with_losses(monkeypatch, losses, early_stopping=3, min_delta=0.0)
    assert stops == [False] * 4


def test_train_ppl_is_exp_of_the_epoch_mean_lm_loss():
    r = train.TrainResult(history=[{"epoch": 0, "loss": 9.0, "lm_loss": 5.0}, {"epoch": 1, "loss": 9.0, "lm_loss": 4.0},
                                   {"epoch": 1, "loss": 9.0, "lm_loss": 2.0}, {"epoch": 1, "loss": 9.0, "lm_loss": 3.0}])
    assert r.epoch_lm_loss() == 3.0  # the last epoch, LM term only
    assert r.epoch_lm_loss(0) == 5.0
    from lab.infinito import chapter as part2
    assert part2.final_train_loss(r) == 3.0


def test_cosine_per_epoch_is_constant_within_an_epoch_and_follows_t_max_epochs():
    tr, va = data()
    cfg = config(lr=1e-3, scheduler="cosine", scheduler_interval="epoch", min_lr=1e-6, epochs=3, eval_every=None)
    trainer = train.Trainer(tiny_infinito(), tr, va, cfg, corpus.make_collate(True))
    seen = {}
    step = trainer.optimizer.step

    def record(*a, **k):
        seen.setdefault(trainer.epoch, set()).add(trainer.optimizer.param_groups[0]["lr"])
        return step(*a, **k)

    trainer.optimizer.step = record
    trainer.fit()
    expected = [1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in range(3)]
    assert [len(seen[e]) for e in range(3)] == [1, 1, 1]
    assert [seen[e].pop() for e in range(3)] == pytest.approx(expected)
