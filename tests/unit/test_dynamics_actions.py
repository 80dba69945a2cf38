import pytest

from lab.dynamics import actions as act


class Vocab:
    """A stand-in vocabulary: one token per character, BOS = 0."""
    rare_pool = [900, 901, 902]
    n_special_prefix = 1

    def encode(self, text):
        return [0] + [ord(ch) for ch in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids if i != 0)


PROMPT = Vocab().encode("En un lugar de la Mancha,")


@pytest.mark.parametrize("name,mag", [("A", 2), ("B", 2), ("C", 3.0), ("D", 2.0), ("E", 2)])
def test_same_seed_same_condition_other_seed_differs(name, mag):
    a = act.make(name, mag)
    c1, c2 = a.apply(PROMPT, Vocab(), 1, 16), a.apply(PROMPT, Vocab(), 1, 16)
    assert c1 == c2 and c1.action == name and c1.magnitude == mag
    if name in "ABE":
        assert any(a.apply(PROMPT, Vocab(), s, 16).key() != c1.key() for s in range(2, 8))


def test_token_actions_edit_the_prompt_but_never_bos():
    for s in range(20):
        ins = act.make("A", 3).apply(PROMPT, Vocab(), s, 16)
        assert len(ins.prompt_ids) == len(PROMPT) + 3 and ins.prompt_ids[0] == 0
        assert sum(t in Vocab.rare_pool for t in ins.prompt_ids) == 3
        sub = act.make("B", 2).apply(PROMPT, Vocab(), s, 16)
        assert len(sub.prompt_ids) == len(PROMPT) and sub.prompt_ids[0] == 0
        assert sum(a != b for a, b in zip(sub.prompt_ids, PROMPT)) == 2


def test_level_actions_leave_the_prompt_alone():
    c = act.make("C", 5.0).apply(PROMPT, Vocab(), 3, 16)
    d = act.make("D", -2.0).apply(PROMPT, Vocab(), 3, 16)
    e = act.make("E", 2).apply(PROMPT, Vocab(), 3, 16)
    assert c.prompt_ids == d.prompt_ids == e.prompt_ids == tuple(PROMPT)
    assert c.noise_alpha == 5.0 and d.tail_bias == -2.0 and d.tail_top_k == 20
    assert 1 <= e.shock_step <= 8 and len(e.shock_ids) == 2


def test_seed_faithful_edits_are_the_originals():
    v = Vocab()
    assert "<ISO-2847>" in v.decode(act.make("A_seed").apply(PROMPT, v, 0, 16).prompt_ids)
    assert "∮" in v.decode(act.make("B_seed").apply(PROMPT, v, 0, 16).prompt_ids)
    assert v.decode(act.make("C_seed").apply(PROMPT, v, 0, 16).prompt_ids).startswith("IMPORTANT: Rewrite")
    assert v.decode(act.make("D_seed").apply(PROMPT, v, 0, 16).prompt_ids).startswith("Use highly unusual")
    assert "<X2F-ERROR>" in v.decode(act.make("E_seed").apply(PROMPT, v, 0, 16).prompt_ids)


@pytest.mark.parametrize("bad,match", [
    ({"Z": [1]}, "unknown action 'Z'"),
    ({"A": [1.5]}, "must be int"),
    ({"C": ["big"]}, "must be float"),
    ({"A": [True]}, "must be int"),
    ({"A": [0]}, ">= 1"),
    ({"A": []}, "non-empty"),
    ({"C_seed": [1]}, "takes no|fixed prompt edit"),
])
def test_bad_magnitudes_are_refused(bad, match):
    assert match.split("|")[0] in act.check_magnitudes(bad) or match.split("|")[-1] in act.check_magnitudes(bad)
    with pytest.raises(act.ActionError):
        act.expand(bad)


def test_expand_order_and_count():
    got = act.expand({"E": [1, 2], "A": [1, 2, 3], "C_seed": []})
    assert [(a.name, a.magnitude) for a in got] == [("A", 1), ("A", 2), ("A", 3), ("E", 1), ("E", 2), ("C_seed", None)]
