import json

import numpy as np
import pytest

from lab import inference
from lab.dynamics import actions as act
from lab.dynamics import comparisons
from lab.dynamics import attractors
from lab.dynamics import experiments as ex
from lab.dynamics.backends import LocalLM


GRID = dict(attractors=("counting", "hamlet", "lorem_ipsum", "genesis_1_kjv"), seeds=(0, 1, 2, 3, 4),
            max_new_tokens=8, prefix_tokens=12, magnitudes={"C": [1.0, 30.0], "D": [3.0], "E": [1], "A_seed": []})


@pytest.fixture(scope="module")
def lm(tiny_model):
    return LocalLM.load(str(tiny_model))


@pytest.fixture(scope="module")
def records(lm):
    return ex.run(lm, ex.Grid(**GRID), progress=False)


def test_one_record_per_cell_with_every_observable(records):
    df = ex.frame(records)
    assert len(df) == 4 * (1 + 5 * 5)
    for name in ex.OBSERVABLES:
        assert name in df
    control = df[df.action == "control"]
    assert (control.edit_distance == 0).all() and (control.kl_mean.abs() < 1e-5).all()
    assert (df.onset <= 8).all() and df.original_score.between(0, 1).all()


def test_compare_gives_exact_tests_t_intervals_holm_within_each_observable(records):
    out = comparisons.compare(records, ["kl_mean", "edit_distance"])
    assert len(out) == 2 * 5 and (out.n_attractors == 4).all()
    assert np.allclose(out.p_floor, 2 / 2 ** 4)  # four attractors: no p below 0.125
    assert (out.p >= out.p_floor - 1e-12).all()
    # Holm within each observable's family, written out from the textbook step-down rule: the i-th smallest of
    # m p-values is multiplied by m - i + 1, then made monotone and capped at 1
    for _, family in out.groupby("observable"):
        order = family.p.sort_values(kind="stable")
        m = len(order)
        steps = (order.to_numpy() * (m - np.arange(m))).clip(max=1.0)
        for i, value in zip(order.index, np.maximum.accumulate(steps)):
            assert out.p_holm[i] == pytest.approx(value, abs=1e-12)
    # each row is inference.paired over the per-attractor differences (seeds averaged within the attractor)
    df = ex.frame(records)
    magnitude = df.magnitude.astype(object).where(df.magnitude.notna(), "-")  # seed-only actions have none
    for row in out.itertuples():
        control = df[df.action == "control"].groupby("attractor")[row.observable].mean()
        cell = df[(df.action == row.action) & (magnitude == row.magnitude)]
        d = (cell.groupby("attractor")[row.observable].mean() - control).to_numpy()
        assert row.mean_difference == pytest.approx(d.mean(), abs=1e-9)
        ref = inference.paired(d, "attractor")
        assert row.p == pytest.approx(ref.p) and row.effect_size_dz == pytest.approx(ref.effect_size_dz)
        if d.std(ddof=1) > 0:
            assert row.ci_low <= row.mean_difference <= row.ci_high
    big = out[(out.action == "C") & (out.magnitude == 30.0) & (out.observable == "kl_mean")].iloc[0]
    assert big.mean_difference > 0 and big.ci_low > 0
    one = comparisons.compare([r for r in records if r["attractor"] == "hamlet"], ["kl_mean"])
    assert one.p.isna().all() and one.mean_difference.notna().all()  # one unit: a difference, no test


def test_the_design_sentence_says_when_no_comparison_can_reach_significance(records):
    out = comparisons.compare(records, ["kl_mean", "edit_distance"])
    r = comparisons.reach(out)
    assert (r["n"], r["family_size"]) == (4, 5) and r["smallest_adjusted"] == pytest.approx(5 / 8)
    assert not r["reachable"] and "No comparison can reach 0.05" in comparisons.design_sentence(out)
    ten = out.assign(n_attractors=10)
    assert comparisons.reach(ten)["reachable"]  # 5 x 2/1024 < 0.05
    assert "possible, not guaranteed" in comparisons.design_sentence(ten)
    # the whole table (10 tests) instead of one observable's family (5): both figures, computed
    assert comparisons.reach(ten)["smallest_adjusted_table"] == pytest.approx(10 * 2 / 1024)
    assert "whole table of 10 tests instead, it would be 0.01953" in comparisons.design_sentence(ten)
    one_family = comparisons.compare(records, ["kl_mean"])
    assert "whole table" not in comparisons.design_sentence(one_family)


def test_a_stored_step_is_read_back_without_recomputing(tiny_model, tmp_path, monkeypatch):
    """Each attractor is one run step: a second run of the grid reads every record back and generates nothing."""
    from lab.dynamics import runs

    monkeypatch.delenv("LAB_STEPS", raising=False)
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    runs.open_backend.cache_clear()
    backend = runs.Backend("local", str(tiny_model), device="cpu")
    grid = ex.Grid(**{**GRID, "attractors": ("counting", "hamlet")})
    first = runs.records(runs.run_grid(backend, grid))
    lm, _ = runs.open_backend(backend)
    monkeypatch.setattr(lm, "generate", lambda *a, **k: pytest.fail("recomputed a stored attractor"))
    again = runs.records(runs.run_grid(backend, grid))
    assert json.dumps(again) == json.dumps(first)
    runs.open_backend.cache_clear()


def test_a_sampled_grid_gives_each_seed_its_own_control(lm):
    """The original's setting samples: each seed's perturbed run is compared with a control drawn with that seed."""
    grid = ex.Grid(("counting",), {"A_seed": [], "E_seed": []}, (0, 1, 2), 8, 12, 50.0)  # hot: the tiny model is sharp
    df = ex.frame(ex.run(lm, grid, progress=False))
    controls = df[df.action == "control"]
    assert sorted(controls.seed) == [0, 1, 2]
    assert controls.text.nunique() > 1  # sampled: the seeds' controls differ
    greedy = ex.frame(ex.run(lm, ex.Grid(("counting",), {"A_seed": []}, (0, 1, 2), 8, 12, 0.0), progress=False))
    assert list(greedy[greedy.action == "control"].seed) == [0]  # greedy: one control is every seed's


def test_same_seed_same_records(lm, records):
    again = ex.run(lm, ex.Grid(**GRID), progress=False)
    assert [r["text"] for r in again] == [r["text"] for r in records]
    assert [r["kl_mean"] for r in again] == [r["kl_mean"] for r in records]


@pytest.mark.parametrize("change,error", [
    ({"attractors": ("harry_potter",)}, attractors.AttractorError),
    ({"magnitudes": {"F": [1]}}, act.ActionError),
    ({"magnitudes": {"C": ["x"]}}, act.ActionError),
    ({"seeds": ()}, ValueError),
])
def test_bad_grids_fail_before_any_work(change, error):
    with pytest.raises(error):
        ex.Grid(**{**GRID, **change})


def test_the_unperturbed_view_scores_what_was_emitted_with_a_plain_forward_pass(lm, records):
    """unperturbed_nll: a continuation's mean NLL under the model with the control's prompt and no perturbation,
    checked against a plain forward pass; a condition that emitted the control's tokens (as D does when greedy
    decoding keeps its top choice) has exactly the control's value, whatever its bias did to the KL."""
    import torch

    df = ex.frame(records)
    control = df[df.action == "control"].set_index("attractor")
    grid = ex.Grid(**GRID)
    for a in attractors.load(list(GRID["attractors"])):
        prompt, _, conds = ex.conditions_for(lm, grid, a)
        emitted = lm.generate([conds[0]], grid.max_new_tokens)[0].tokens
        ids = torch.tensor([list(prompt) + list(emitted)])
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(ids).logits[0, len(prompt) - 1:-1].float(), -1)
        expected = float(-logp.gather(-1, torch.tensor(emitted)[:, None]).mean())
        assert control.loc[a.name, "unperturbed_nll"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    same = df[(df.action == "D") & (df.edit_distance == 0)]
    assert len(same)  # the tiny model keeps its greedy path under a tail bias in some rows
    for row in same.itertuples():
        assert row.unperturbed_nll == pytest.approx(control.loc[row.attractor, "unperturbed_nll"], abs=1e-6)
    assert (same.kl_mean > 0).any()  # while the KL read from the biased distribution is not zero


def test_the_chat_format_sends_each_edited_prompt_through_the_template(lm):
    """Grid(chat=True), the original's prompt format: the seed-faithful edit first, then the edited text as one
    user message through the model's chat template; a model without one (a base model) is refused by name."""
    from lab.dynamics.backends import BackendError

    with pytest.raises(act.ActionError, match="seed-faithful"):
        ex.Grid(("counting",), {"A": [1]}, chat=True)
    grid = ex.Grid(("don_quijote_es",), {"C_seed": []}, seeds=(0,), max_new_tokens=4, prefix_tokens=12, chat=True)
    text = attractors.load(["don_quijote_es"])[0]
    assert not lm.has_chat_template
    with pytest.raises(BackendError, match="no chat template"):
        ex.conditions_for(lm, grid, text)
    lm.tokenizer.chat_template = ("{% for m in messages %}<bos>user: {{ m['content'] }}\n{% endfor %}"
                                  "{% if add_generation_prompt %}assistant:{% endif %}")
    try:
        raw_prompt, _, raw = ex.conditions_for(lm, ex.Grid(**{**grid.__dict__, "chat": False}), text)
        _, _, chat = ex.conditions_for(lm, grid, text)
        assert [c.action for c in chat] == ["control", "C_seed"]
        for r, c in zip(raw, chat):
            assert list(c.prompt_ids) == lm.chat_prompt(lm.decode(list(r.prompt_ids[lm.n_special_prefix:])))
            assert lm.decode(list(c.prompt_ids)).startswith("user: ")
        assert "IMPORTANT: Rewrite in highly technical language." in lm.decode(list(chat[1].prompt_ids))
        df = ex.frame(ex.run(lm, grid, progress=False))
        assert list(df.action) == ["control", "C_seed"] and df.unperturbed_nll.notna().all()
    finally:
        lm.tokenizer.chat_template = None
