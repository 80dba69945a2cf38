"""lab.legal.lora on a tiny random Llama: plan defaults, bad input, checkpoint resume, abort checks."""
import pytest
import torch

from lab import models, train
from lab.legal import data, lora


@pytest.fixture(scope="module")
def tiny(tiny_spanish_model):
    return tiny_spanish_model


@pytest.fixture(scope="module")
def small_tasks():
    legal = data.prepare(["jurisdiction", "cloze"], max_words=16)
    for ts in legal.tasks.values():
        ts.splits = {s: ex[:8] for s, ex in ts.splits.items()}
    return legal.tasks


def _settings(**kw):
    base = dict(max_steps=4, warmup_steps=1, eval_steps=2, save_steps=2, eval_examples=3, batch_size=2)
    base.update(kw)
    return lora.LoraSettings(**base)


def test_the_plans_settings_reach_the_adapter_and_the_schedule(tiny):
    """The plan (section 2.2): r 16, alpha 32, dropout 0.1 on q/v/o/gate projections, learning rate 2e-4 after a
    100-step warm-up, 2,000 steps. Checked where they act: on the adapted model and on the learning rate."""
    s = lora.LoraSettings()
    lm, _ = models.load(tiny)
    adapted = lora.attach_lora(lm, s)
    wrapped = {name.rsplit(".", 1)[-1]: m for name, m in adapted.named_modules() if hasattr(m, "lora_A")}
    assert set(wrapped) == {"q_proj", "v_proj", "o_proj", "gate_proj"}  # and not k_proj, up_proj, down_proj
    for module in wrapped.values():
        assert module.lora_A["default"].weight.shape[0] == 16 and module.lora_B["default"].weight.shape[1] == 16
        assert module.scaling["default"] == pytest.approx(32 / 16)
        assert module.lora_dropout["default"].p == pytest.approx(0.1)
    trainable, _ = lora.trainable_parameters(adapted)
    assert trainable == sum(m.lora_A["default"].weight.numel() + m.lora_B["default"].weight.numel()
                            for _, m in adapted.named_modules() if hasattr(m, "lora_A"))
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    lrs = [lora._set_lr(opt, s, step) for step in range(2001)]
    assert lrs[0] == pytest.approx(2e-4 / 100) and lrs[99] == pytest.approx(2e-4) == max(lrs)
    assert lrs[1050] == pytest.approx(1e-4) and lrs[2000] == 0.0  # then linearly to zero at step 2,000
    assert opt.param_groups[0]["lr"] == lrs[-1]
    assert (s.batch_size, s.eval_steps, s.save_steps, s.no_convergence_step, s.below_random_step) == (
        4, 50, 100, 1000, 500)


def test_bad_model_and_bad_target_fail_before_training(tiny):
    with pytest.raises(KeyError, match="no local model at 'no/such/model': the path does not exist"):
        models.resolve("no/such/model")  # deeper than org/name: a path, said to be missing, never a hub lookup
    with pytest.raises(KeyError, match="unknown model 'no-such-model'"):
        models.resolve("no-such-model")
    lm, _ = models.load(tiny)
    with pytest.raises(ValueError, match=r"target module\(s\) \['c_attn'\] do not exist"):
        lora.attach_lora(lm, lora.LoraSettings(target_modules=("q_proj", "c_attn")))


def test_batch_order_depends_on_seed_and_step_only():
    assert lora.batch_indices(10, 4, 3, seed=1) == lora.batch_indices(10, 4, 3, seed=1)
    assert lora.batch_indices(10, 4, 3, seed=1) != lora.batch_indices(10, 4, 3, seed=2)
    epoch0 = [i for step in range(5) for i in lora.batch_indices(10, 2, step, seed=0)]
    assert sorted(epoch0) == list(range(10))


def test_loss_only_on_answer_tokens(tiny):
    _, tok = models.load(tiny)
    ex = data.Example("jurisdiction", "x", "AR", "Texto:", "AR", " Argentina")
    ids, labels = lora.encode_example(tok, ex)
    answer = [t for t in labels if t != -100]
    assert answer == tok(" Argentina", add_special_tokens=False).input_ids + [tok.eos_token_id]
    assert ids[-len(answer):] == answer


def test_resume_gives_the_uninterrupted_weights(tiny, small_tasks, tmp_path):
    torch.manual_seed(0)
    lm, tok = models.load(tiny)
    full, res_full = lora.train(lm, tok, small_tasks, tmp_path / "a", seed=3, settings=_settings(), model_name="t",
                                resume=False, progress=False)
    lm, tok = models.load(tiny)
    lora.train(lm, tok, small_tasks, tmp_path / "b", seed=3, settings=_settings(), model_name="t", resume=False,
               progress=False, stop_after=2)
    assert [p.name for _, p in train.Checkpoints(tmp_path / "b").saved()] == ["checkpoint-2.pt"]
    lm, tok = models.load(tiny)
    resumed, res_resumed = lora.train(lm, tok, small_tasks, tmp_path / "b", seed=3, settings=_settings(),
                                      model_name="t", resume=True, progress=False)
    assert res_resumed.resumed_from == 2 and res_resumed.steps_done == 4
    a = {k: v for k, v in full.state_dict().items() if "lora_" in k}
    b = {k: v for k, v in resumed.state_dict().items() if "lora_" in k}
    assert a and all(torch.equal(a[k], b[k]) for k in a)
    assert [h["val_loss"] for h in res_full.history] == [h["val_loss"] for h in res_resumed.history]
    assert (tmp_path / "a" / "adapter" / "adapter_model.safetensors").exists()


def test_resume_refuses_another_runs_checkpoint(tiny, small_tasks, tmp_path):
    lm, tok = models.load(tiny)
    lora.train(lm, tok, small_tasks, tmp_path, seed=0, settings=_settings(max_steps=2), model_name="t",
               resume=False, progress=False)
    lm, tok = models.load(tiny)
    with pytest.raises(lora.CheckpointMismatch, match="different run"):
        lora.train(lm, tok, small_tasks, tmp_path, seed=1, settings=_settings(max_steps=2), model_name="t",
                   resume=True, progress=False)


def test_abort_conditions_trigger_and_stop(tiny, small_tasks, tmp_path):
    lm, tok = models.load(tiny)
    # a learning rate of zero cannot converge: the check at step 2 must trigger and stop training there
    settings = _settings(learning_rate=0.0, no_convergence_step=2, below_random_step=100, max_steps=6)
    _, res = lora.train(lm, tok, small_tasks, tmp_path, seed=0, settings=settings, model_name="t", resume=False,
                        progress=False)
    checks = {c.name: c for c in res.checks}
    assert res.aborted == "no convergence" and res.steps_done == 2
    assert checks["no convergence"].status == "triggered"
    assert checks["validation accuracy below random"].status == "not reached"
    assert checks["over budget"].status == "not reached"


def test_below_random_check_reads_validation_accuracy():
    tasks = {"jurisdiction": data.TaskSet("jurisdiction", data.JURISDICTIONS, {})}
    checks = [lora.AbortCheck("validation accuracy below random", 4)]
    record = {"step": 4, "val_loss": 1.0, "val_acc_jurisdiction": 0.1}
    assert lora._check_aborts(checks, record, 2.0, lora.LoraSettings(), tasks, 0.0) == "validation accuracy below random"
    checks = [lora.AbortCheck("validation accuracy below random", 4)]
    record["val_acc_jurisdiction"] = 0.3
    assert lora._check_aborts(checks, record, 2.0, lora.LoraSettings(), tasks, 0.0) is None
    assert checks[0].status == "passed"


def test_a_bfloat16_base_trains_a_float32_adapter_and_stays_bfloat16(tiny, small_tasks, tmp_path):
    """`-p dtype bfloat16`: the base weights stay bf16 (nothing upcasts the model behind the reader's back), peft
    keeps the adapter in float32, and a step moves the adapter and gives a finite loss."""
    lm, tok = models.load(tiny, dtype="bfloat16")
    adapted, result = lora.train(lm, tok, small_tasks, tmp_path / "bf16", seed=0, settings=_settings(max_steps=2),
                                 model_name="t bfloat16", resume=False, progress=False)
    dtypes = {n: p.dtype for n, p in adapted.named_parameters()}
    assert {d for n, d in dtypes.items() if "lora_" in n} == {torch.float32}
    assert {d for n, d in dtypes.items() if "lora_" not in n} == {torch.bfloat16}
    assert result.steps_done == 2 and all(h["val_loss"] == h["val_loss"] for h in result.history)


def test_answer_token_losses_equal_the_models_own_loss(tiny, small_tasks):
    lm, tok = models.load(tiny)
    examples = small_tasks["jurisdiction"].splits["train"][:3] + small_tasks["cloze"].splits["train"][:2]
    ids, labels, mask = lora.collate([lora.encode_example(tok, e) for e in examples], tok.eos_token_id)
    with torch.no_grad():
        own = lm(input_ids=ids, attention_mask=mask, labels=labels).loss
        losses, rows = lora.answer_token_losses(lm, ids, labels, mask)
    assert losses.mean().item() == pytest.approx(own.item(), rel=1e-5)
    assert sorted(set(rows.tolist())) == list(range(5))


def _flat_after(step_of_best):
    """A validation whose loss falls until ``step_of_best`` and is flat after it."""
    def fake(lm, tok, tasks, subset, autocast="none"):
        fake.calls += 1
        step = 2 * (fake.calls - 1)  # validations at steps 0, 2, 4, ...
        return {"val_loss": 5.0 - min(step, step_of_best) * 0.5}
    fake.calls = 0
    return fake


def test_early_stopping_stops_on_a_plateau_and_keeps_the_best_adapter(tiny, small_tasks, tmp_path, monkeypatch):
    monkeypatch.setattr(lora, "validate", _flat_after(4))
    lm, tok = models.load(tiny)
    settings = _settings(max_steps=40, patience=2, min_improvement=0.01, no_convergence_step=1000)
    adapted, res = lora.train(lm, tok, small_tasks, tmp_path, seed=0, settings=settings, model_name="t",
                              resume=False, progress=False)
    # best at step 4; validations at 6 and 8 do not improve: stop at 8, keep the adapter of step 4
    assert (res.stopped, res.best_step, res.steps_done) == ("plateau", 4, 8)
    assert res.final_val_loss == 3.0 and res.epochs == pytest.approx(8 * 2 / 16)
    assert "1 of 1 seeds stopped on a plateau" in lora.stopping_sentence([res], settings)
    from peft import PeftModel
    with pytest.warns(FutureWarning):  # peft asks transformers a deprecated question
        saved = PeftModel.from_pretrained(models.load(tiny)[0], str(res.adapter_dir))
    kept = {k: v for k, v in saved.state_dict().items() if "lora_B" in k}
    now = {k: v for k, v in adapted.state_dict().items() if "lora_B" in k}
    assert kept and all(torch.equal(kept[k], now[k]) for k in kept)


def test_without_patience_training_runs_to_the_cap_and_says_so(tiny, small_tasks, tmp_path, monkeypatch):
    monkeypatch.setattr(lora, "validate", _flat_after(100))  # still falling at the cap
    lm, tok = models.load(tiny)
    settings = _settings(max_steps=6, patience=3, no_convergence_step=1000)
    _, res = lora.train(lm, tok, small_tasks, tmp_path, seed=0, settings=settings, model_name="t",
                        resume=False, progress=False)
    assert (res.stopped, res.best_step, res.steps_done) == ("step cap", 6, 6)
    sentence = lora.stopping_sentence([res], settings)
    assert "still falling" in sentence and "under-trained" in sentence
    table = lora.stopping_table([res])
    assert table.loc[0, "stopped by"] == "step cap" and "cap of 6 steps" in lora.stopping_rule(settings)


def test_resume_keeps_the_early_stopping_state(tiny, small_tasks, tmp_path, monkeypatch):
    settings = _settings(max_steps=40, patience=2, no_convergence_step=1000)
    monkeypatch.setattr(lora, "validate", _flat_after(4))
    lm, tok = models.load(tiny)
    _, straight = lora.train(lm, tok, small_tasks, tmp_path / "a", seed=1, settings=settings, model_name="t",
                             resume=False, progress=False)
    fake = _flat_after(4)
    monkeypatch.setattr(lora, "validate", fake)
    lm, tok = models.load(tiny)
    lora.train(lm, tok, small_tasks, tmp_path / "b", seed=1, settings=settings, model_name="t", resume=False,
               progress=False, stop_after=6)
    lm, tok = models.load(tiny)
    _, resumed = lora.train(lm, tok, small_tasks, tmp_path / "b", seed=1, settings=settings, model_name="t",
                            resume=True, progress=False)  # the fake's counter continues: validations 8, ...
    assert (resumed.stopped, resumed.best_step, resumed.steps_done) == (straight.stopped, straight.best_step,
                                                                        straight.steps_done)


def test_the_plan_comparison_marks_every_departure():
    table = lora.plan_comparison(lora.LoraSettings(max_steps=800, patience=3, min_improvement=0.01),
                                 "smollm2-135m", [0, 1, 2], 3048)
    departs = set(table.index[table["departs"] == "yes"])
    assert departs == {"model", "seeds (one adapter each)", "steps", "early stopping on the validation loss"}
    bf16 = lora.plan_comparison(lora.LoraSettings(autocast="bfloat16"), lora.PLAN_RUN["model"], [0, 1, 2, 3, 4], 3048)
    assert set(bf16.index[bf16["departs"] == "yes"]) == {"training arithmetic (autocast)"}
    assert table.loc["steps", "this run"] == "at most 800 (1.05 epochs of 3048 examples)"
    assert table.loc["steps", "plan"] == "2000 (2.62 epochs of 3048 examples)"
    same = lora.plan_comparison(lora.LoraSettings(), lora.PLAN_RUN["model"], [0, 1, 2, 3, 4], 3048)
    assert not (same["departs"] == "yes").any()


def test_bfloat16_autocast_trains_in_bfloat16_keeps_float32_weights_and_resumes_exactly(tiny, small_tasks, tmp_path):
    with pytest.raises(ValueError, match="autocast"):
        lora.LoraSettings(autocast="float16")
    settings = _settings(autocast="bfloat16")
    lm, tok = models.load(tiny)
    full, res_full = lora.train(lm, tok, small_tasks, tmp_path / "a", seed=3, settings=settings, model_name="t",
                                resume=False, progress=False)
    assert all(p.dtype == torch.float32 for p in full.parameters())
    lm, tok = models.load(tiny)
    fp32, res_fp32 = lora.train(lm, tok, small_tasks, tmp_path / "c", seed=3, settings=_settings(), model_name="t",
                                resume=False, progress=False)
    before_bf16, before_fp32 = res_full.history[0]["val_loss"], res_fp32.history[0]["val_loss"]
    assert before_bf16 != before_fp32 and abs(before_bf16 - before_fp32) < 0.02 * before_fp32  # bfloat16 rounding
    assert res_full.history[-1]["train_loss"] != res_fp32.history[-1]["train_loss"]
    lm, tok = models.load(tiny)
    lora.train(lm, tok, small_tasks, tmp_path / "b", seed=3, settings=settings, model_name="t", resume=False,
               progress=False, stop_after=2)
    lm, tok = models.load(tiny)
    resumed, _ = lora.train(lm, tok, small_tasks, tmp_path / "b", seed=3, settings=settings, model_name="t",
                            resume=True, progress=False)
    a = {k: v for k, v in full.state_dict().items() if "lora_" in k}
    b = {k: v for k, v in resumed.state_dict().items() if "lora_" in k}
    assert a and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(lora.CheckpointMismatch):  # the arithmetic is part of the run's identity
        lm, tok = models.load(tiny)
        lora.train(lm, tok, small_tasks, tmp_path / "b", seed=3, settings=_settings(), model_name="t", resume=True,
                   progress=False)
