"""lab.legal.evaluate and baselines: label scoring, metrics, CIs, paired tests, verdicts, deployment."""
import numpy as np
import pytest
import torch

from lab import inference, models
from lab.legal import baselines, data, deployment, evaluate, success


@pytest.fixture(scope="module")
def tiny(tiny_spanish_model):
    return tiny_spanish_model


@pytest.fixture(scope="module")
def legal():
    return data.prepare(["jurisdiction", "topic", "cloze"], max_words=24)


def test_cached_label_scores_equal_full_sequence_scores(tiny, legal):
    lm, tok = models.load(tiny)
    ts = legal.tasks["topic"]
    prompt = ts.splits["test"][0].prompt
    verbalisers = [ts.verbalisers[c] for c in ts.labels]
    fast = evaluate.label_logprobs(lm, tok, prompt, verbalisers)
    for score, v in zip(fast, verbalisers):
        p, lab = tok(prompt).input_ids, tok(v, add_special_tokens=False).input_ids
        with torch.no_grad():
            lp = torch.log_softmax(lm(torch.tensor([p + lab])).logits[0].float(), -1)
        assert score == pytest.approx(sum(lp[len(p) - 1 + k, lab[k]].item() for k in range(len(lab))), abs=1e-4)


def _reference_scores(lm, tok, prompt, verbalisers):
    """Each (prompt, verbaliser) sequence scored on its own, with the full logits: the reference."""
    out = []
    for v in verbalisers:
        p, lab = tok(prompt).input_ids, tok(v, add_special_tokens=False).input_ids
        with torch.no_grad():
            lp = torch.log_softmax(lm(torch.tensor([p + lab])).logits[0].float(), -1)
        out.append(sum(lp[len(p) - 1 + k, lab[k]].item() for k in range(len(lab))))
    return np.array(out)


@pytest.mark.parametrize("task", ["jurisdiction", "topic"])
def test_batched_label_scores_equal_one_sequence_at_a_time(tiny, legal, task):
    """Left-padded batches of prompts of different lengths, verbalisers of 1 to 7 tokens: every score equals the
    reference's, and a batch of 3 gives what batches of 1 give."""
    lm, tok = models.load(tiny)
    ts = legal.tasks[task]
    prompts = [e.prompt for e in ts.splits["test"][:5]]
    assert len({len(tok(p).input_ids) for p in prompts}) > 1  # the padding is exercised
    verbalisers = [ts.verbalisers[c] for c in ts.labels]
    batched = evaluate.label_logprobs_batch(lm, tok, prompts, verbalisers, batch_size=3)
    reference = np.stack([_reference_scores(lm, tok, p, verbalisers) for p in prompts])
    np.testing.assert_allclose(batched, reference, atol=1e-4)
    np.testing.assert_allclose(batched, evaluate.label_logprobs_batch(lm, tok, prompts, verbalisers, batch_size=1),
                               atol=1e-5)


def test_length_sorted_batches_return_scores_and_answers_in_the_examples_order(tiny, legal):
    lm, tok = models.load(tiny)
    ts = legal.tasks["jurisdiction"]
    examples = ts.splits["test"][:12]
    assert list(evaluate.length_order(tok, [e.prompt for e in examples])) != list(range(12))  # the order moves
    verbalisers = [ts.verbalisers[c] for c in ts.labels]
    np.testing.assert_allclose(evaluate.class_scores(lm, tok, ts, examples, progress=False),
                               np.stack([evaluate.label_logprobs(lm, tok, e.prompt, verbalisers) for e in examples]),
                               atol=1e-4)
    cloze = legal.tasks["cloze"].splits["test"][:10]
    assert evaluate.predict(lm, tok, legal.tasks["cloze"], cloze, progress=False) == [
        evaluate.greedy_answers(lm, tok, [e.prompt])[0] for e in cloze]


def test_the_logits_of_chosen_positions_equal_the_models_own(tiny):
    lm, _ = models.load(tiny)
    ids = torch.tensor([[5, 17, 300, 9, 41]])
    with torch.no_grad():
        own = lm(ids).logits
        mine = evaluate.vocabulary_logits(lm, lm.get_decoder()(input_ids=ids).last_hidden_state)
    torch.testing.assert_close(mine, own)


def test_predictions_are_deterministic(tiny, legal):
    lm, tok = models.load(tiny)
    for name in ("jurisdiction", "cloze"):
        ts, ex = legal.tasks[name], legal.tasks[name].splits["test"][:3]
        first = evaluate.predict(lm, tok, ts, ex, progress=False)
        assert first == evaluate.predict(lm, tok, ts, ex, progress=False)
        if ts.is_classification:
            assert set(first) <= set(ts.labels)


def test_metrics():
    assert evaluate.exact_match(["Treinta días.", "x"], ["treinta  días", "y"]).tolist() == [1.0, 0.0]
    # rouge-score's default tokenizer would drop the accented letters; ours keeps 'días'
    assert evaluate.rouge_l(["treinta días"], ["treinta días hábiles"])[0] == pytest.approx(0.8)
    assert evaluate.rouge_l(["días"], ["dias"])[0] == 0.0
    assert evaluate.macro_f1(["a", "a", "b"], ["a", "b", "b"], ["a", "b"]) == pytest.approx(2 / 3)


def test_fast_macro_f1_equals_sklearns():
    rng = np.random.default_rng(4)
    labels = ["a", "b", "c", "d"]
    for _ in range(50):
        refs = list(rng.choice(labels[:3], 30))  # "d" never true: its F1 counts as 0, as sklearn's does
        preds = list(rng.choice(labels + ["zz"], 30))  # and a prediction that is no label
        fast = evaluate._macro_f1_codes(evaluate._codes(preds, labels), evaluate._codes(refs, labels), len(labels))
        assert fast == pytest.approx(evaluate.macro_f1(preds, refs, labels))


def test_the_crossed_interval_carries_the_seed_variation():
    """Three adapters scored on the same 200 examples, one far from the others: the two-way interval (seeds and
    examples) must be wider than the examples-only interval of the seed-averaged scores, which hides the spread."""
    rng = np.random.default_rng(0)
    runs = [evaluate.Scores("t", f"seed {k}", [], (rng.random(200) < p).astype(float)) for k, p in
            enumerate((0.35, 0.40, 0.60))]
    both = evaluate.interval(runs, resamples=2000)
    averaged = evaluate.interval([evaluate.mean_over_seeds(runs, "mean")], resamples=2000)
    assert both.estimate == pytest.approx(averaged.estimate)
    assert (both.high - both.low) > 1.3 * (averaged.high - averaged.low)
    assert both.low <= both.estimate <= both.high


def test_seed_table_reports_every_tasks_mean_and_interval():
    runs = {k: {"a": evaluate.Scores("a", "x", [], np.array(v)), "b": evaluate.Scores("b", "x", [], np.array(w))}
            for k, (v, w) in enumerate((([1, 0, 1.], [0, 0, 0.]), ([1, 1, 1.], [0, 0, 0.]), ([0, 0, 1.], [0, 0, 0.])))}
    table = evaluate.seed_table(runs)
    assert not table.isna().any().any()  # a later task's interval is never computed over the added rows
    assert table.loc["mean", "a"] == pytest.approx(2 / 3, abs=1e-4) and table.loc["t95 low", "a"] < 2 / 3


def test_seed_table_of_equal_seeds_is_the_point_without_a_warning(recwarn):
    runs = {k: {"cloze": evaluate.Scores("cloze", "x", [], np.array([0.0] * 78 + [1.0, 1.0]))} for k in range(3)}
    table = evaluate.seed_table(runs)
    assert table.loc["t95 low", "cloze"] == table.loc["t95 high", "cloze"] == table.loc["mean", "cloze"] == 0.025
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # scipy's "precision loss"


def test_autocast_accepts_only_the_modes_it_names(tiny):
    lm, _ = models.load(tiny)
    with evaluate.autocast_to(lm, "bfloat16"):
        assert lm.get_output_embeddings()(torch.ones(1, lm.config.hidden_size)).dtype == torch.bfloat16
    with evaluate.autocast_to(lm, "none"):
        assert lm.get_output_embeddings()(torch.ones(1, lm.config.hidden_size)).dtype == torch.float32
    with pytest.raises(ValueError, match="bfloat16"):
        evaluate.autocast_to(lm, "float16")


def _exit_without_a_result(queue):
    raise SystemExit(3)


def test_a_measuring_process_that_dies_is_an_error_not_a_wait():
    import multiprocessing as mp
    import time

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_exit_without_a_result, args=(queue,))
    proc.start()
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="exit code 3"):
        deployment._result_of(proc, queue, "base fp32", poll_s=0.2)
    assert time.perf_counter() - t0 < 60


def test_verdicts():
    assert success.verdict_above(inference.Interval(0.7, 0.65, 0.75), 0.6) == "supported"
    assert success.verdict_above(inference.Interval(0.5, 0.45, 0.55), 0.6) == "refuted"
    assert success.verdict_above(inference.Interval(0.6, 0.55, 0.65), 0.6) == "inconclusive"


def test_baselines(legal):
    ts = legal.tasks["jurisdiction"]
    test = ts.splits["test"]
    majority = baselines.majority_baseline(ts, test)
    assert set(majority) == {"ES"}  # Spain has the most training articles
    rnd = baselines.random_baseline(ts, test, seed=0)
    assert rnd == baselines.random_baseline(ts, test, seed=0) and len(set(rnd)) == 4
    tfidf = baselines.tfidf_logreg(ts, test)
    acc = np.mean([p == e.label for p, e in zip(tfidf, test)])
    assert acc > 0.5  # far above chance (0.25): the laws' wording differs
    cloze = legal.tasks["cloze"]
    guesses = baselines.majority_baseline(cloze, cloze.splits["test"])
    assert all(g for g in guesses)
    with pytest.raises(ValueError):
        baselines.tfidf_logreg(cloze, cloze.splits["test"])


def test_paired_tests_and_summary(legal):
    ts = legal.tasks["jurisdiction"]
    test = ts.splits["test"]
    gold = [evaluate.score(ts, test, [e.label for e in test], f"oracle {k}") for k in range(5)]
    rnd = evaluate.score(ts, test, baselines.random_baseline(ts, test), "random")
    table = evaluate.paired_tests(gold, {"random": rnd}, resamples=1000)
    row = table.loc[("random", "accuracy")]
    # five seeds of one sign: the exact test's floor, 2 / 2^5, and no smaller
    assert row["p (seeds)"] == pytest.approx(0.0625) and row["p floor"] == pytest.approx(0.0625)
    assert row["diff low"] > 0.4 and row["seeds"] == 5
    summary = evaluate.summary_table(ts, test, {"oracle": gold, "random": [rnd]}, resamples=1000)
    assert summary.loc["oracle", "accuracy"] == 1.0 and summary.loc["random", "acc high"] < 0.5
    assert summary.loc["oracle", "runs"] == 5 and summary.loc["random", "runs"] == 1
    assert "cannot go below p = 0.25" in evaluate.seeds_sentence(3)
    assert "can reach p < 0.05" in evaluate.seeds_sentence(6)


def test_deployment_variants_run_in_their_own_process(tiny, legal, tmp_path):
    from lab.legal import lora

    lm, tok = models.load(tiny)
    peft_model = lora.attach_lora(lm, lora.LoraSettings(r=2, alpha=4))
    peft_model.save_pretrained(tmp_path / "adapter")
    ts = legal.tasks["jurisdiction"]
    table = deployment.deployment_table(tiny, str(tmp_path / "adapter"), ts, ts.splits["test"][:2])
    assert list(table.index) == list(evaluate.VARIANTS)
    assert (table["p50 ms"] > 0).all() and (table["load peak MB"] > table["RSS after imports MB"]).all()
    assert ((table["p50 low"] <= table["p50 ms"]) & (table["p50 ms"] <= table["p50 high"])).all()
    assert (table["serving peak MB"] > table["RSS after imports MB"]).all()
    # a freshly initialised LoRA B matrix is zero: merged and unmerged models must agree exactly
    assert table.loc["LoRA merged fp32", "same class as LoRA fp32"] == 1.0
    examples = ts.splits["test"][:6]
    fp32, _ = evaluate.build_variant(tiny, str(tmp_path / "adapter"), "LoRA fp32 (unmerged)")
    reference = evaluate.class_scores(fp32, tok, ts, examples, progress=False)
    agreement = deployment.int8_agreement(tiny, str(tmp_path / "adapter"), {"jurisdiction": ts},
                                        {"jurisdiction": examples}, {"jurisdiction": reference})
    assert agreement.table.loc["all", "examples"] == 6 and 0 <= agreement.table.loc["all", "low"] <= agreement.table.loc["all", "high"] <= 1
    bands = agreement.by_margin
    assert bands["examples"].sum() == 6 and bands["same class"].sum() == agreement.table.loc["all", "same class"]
    assert 0 < agreement.median_change < 0.5  # weight-only int8 of a 2-layer model moves scores a little
    assert "nats" in deployment.int8_sentence(agreement)


def test_weight_only_int8_stores_int8_and_computes_what_its_dequantized_weight_would(tiny):
    lm, tok = models.load(tiny)
    reference = evaluate.label_logprobs(lm, tok, "Artículo: el directorio", [" España", " Chile"])
    q = evaluate.quantize_int8_weights(lm)
    layers = [m for m in q.get_decoder().modules() if hasattr(m, "weight_int8")]
    assert len(layers) == 2 * 7 and all(m.weight_int8.dtype == torch.int8 for m in layers)
    assert not any(isinstance(m, torch.nn.Linear) for m in q.get_decoder().modules())
    assert isinstance(q.get_output_embeddings(), torch.nn.Linear)
    layer = layers[0]
    x = torch.randn(3, layer.in_features)
    dequantized = layer.weight_int8.float() * layer.scale[:, None]
    torch.testing.assert_close(layer(x), x @ dequantized.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(evaluate.label_logprobs(q, tok, "Artículo: el directorio", [" España", " Chile"]),
                               reference, atol=0.05)


def test_int8_quantizes_the_decoder_per_channel_and_keeps_the_output_projection(tiny):
    import torch.ao.nn.quantized.dynamic as qd

    lm, tok = models.load(tiny)
    reference = evaluate.label_logprobs(lm, tok, "Artículo: el directorio", [" España", " Chile"])
    q = evaluate.quantize_int8(lm)
    assert isinstance(q.get_output_embeddings(), torch.nn.Linear)  # tied to the embeddings: kept in float32
    quantized = [m for m in q.get_decoder().modules() if isinstance(m, qd.Linear)]
    assert len(quantized) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    assert all(m.weight().qscheme() == torch.per_channel_affine for m in quantized)
    assert not any(isinstance(m, torch.nn.Linear) for m in q.get_decoder().modules())
    np.testing.assert_allclose(evaluate.label_logprobs(q, tok, "Artículo: el directorio", [" España", " Chile"]),
                               reference, atol=0.05)


def test_calibration_removes_a_prior_for_one_class(legal, monkeypatch):
    """A model that adds +5 to 'Chile' whatever the text: raw zero-shot answers Chile everywhere, calibrated
    zero-shot recovers the article's own evidence."""
    ts = legal.tasks["jurisdiction"]
    examples = ts.splits["test"][:8]
    truth = {e.prompt: ts.labels.index(e.label) for e in examples}

    def biased(lm, tok, prompts, verbalisers, batch_size=8):
        out = np.zeros((len(prompts), len(verbalisers)))
        for i, p in enumerate(prompts):
            if p in truth:
                out[i, truth[p]] = 2.0
        out[:, ts.labels.index("CL")] += 5.0
        return out

    monkeypatch.setattr(baselines, "label_logprobs_batch", biased)
    calibrated = baselines.zero_shot_calibrated(None, None, ts, examples)
    assert calibrated == [e.label for e in examples]
    assert set(biased(None, None, [e.prompt for e in examples], ts.labels).argmax(1)) == {ts.labels.index("CL")}


def test_the_frozen_probe_fits_on_hidden_states_and_shares_them(tiny, legal):
    lm, tok = models.load(tiny)
    ts = legal.tasks["jurisdiction"]
    for split in ("train",):
        ts = data.TaskSet(ts.task, ts.labels, ts.verbalisers, {**ts.splits, split: ts.splits[split][:60]})
    cache = {}
    preds = baselines.frozen_probe(lm, tok, ts, ts.splits["test"][:10], cache=cache)
    assert len(preds) == 10 and set(preds) <= set(ts.labels)
    assert len(cache) >= 60  # the training articles' states are kept for the next task
    states = baselines.mean_pooled_states(lm, tok, ["uno dos tres", "uno"], {})
    alone = baselines.mean_pooled_states(lm, tok, ["uno"], {})
    np.testing.assert_allclose(states[1], alone[0], atol=1e-5)  # padding does not leak into the mean


def test_the_prior_sentence_counts_the_most_frequent_answers():
    names = {"CL": " Chile", "ES": " España"}
    sentence = evaluate.prior_sentence(["CL", "CL", "CL", "ES"], ["ES", "CL", "ES", "CL"], names)
    assert sentence.startswith("Uncalibrated, the zero-shot model answers Chile for 3 of the 4 test articles (75%)")
    assert "(España) covers 2 (50%)" in sentence


def test_greedy_answers_in_a_left_padded_batch_equal_each_prompt_alone(tiny):
    lm, tok = models.load(tiny)
    prompts = ["Artículo: el directorio", "La asamblea de accionistas se reunirá en el plazo de", "Texto"]
    batched = evaluate.greedy_answers(lm, tok, prompts, max_new_tokens=6)
    assert batched == [evaluate.greedy_answers(lm, tok, [p], max_new_tokens=6)[0] for p in prompts]
    assert all("\n" not in a for a in batched)
