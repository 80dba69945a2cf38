"""lab.legal.evaluate and baselines: label scoring, metrics, CIs, paired tests, verdicts, deployment."""
import numpy as np
import pytest
import torch

from lab import inference, models
from lab.legal import baselines, data, evaluate
from tests.legal_fixtures import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


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


def test_verdicts():
    assert evaluate.verdict_above(inference.Interval(0.7, 0.65, 0.75), 0.6) == "met"
    assert evaluate.verdict_above(inference.Interval(0.5, 0.45, 0.55), 0.6) == "not met"
    assert evaluate.verdict_above(inference.Interval(0.6, 0.55, 0.65), 0.6) == "inconclusive"


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
    table = evaluate.deployment_table(tiny, str(tmp_path / "adapter"), ts, ts.splits["test"][:2])
    assert list(table.index) == list(evaluate.VARIANTS)
    assert (table["p50 ms"] > 0).all() and (table["peak RSS MB"] > table["RSS after imports MB"]).all()
    # a freshly initialised LoRA B matrix is zero: merged and unmerged models must agree exactly
    assert table.loc["LoRA merged fp32", "same class as LoRA fp32"] == 1.0
