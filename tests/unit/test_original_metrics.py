"""lab.dynamics.observables: the original study's "memorization" score and word-count "KL", reproduced.

The expected values are those the original code gives on these strings
(ebaenamar/llm-controlled-dynamics@8d5dda35:src/core/metrics.py, as mapped in ORIGINAL_REPOS.md, section A.6):
a perfect continuation that omits the prompt scores 0.267, an empty answer has a lower "KL" than it.
"""
import pytest

from lab.dynamics import observables as obs

CANONICAL = ("En un lugar de la Mancha, de cuyo nombre no quiero acordarme, no ha mucho tiempo que vivía un hidalgo "
             "de los de lanza en astillero, adarga antigua, rocín flaco y galgo corredor.")
BASE_PROMPT = "En un lugar de la Mancha,"
EXTENDED_PROMPT = ("En un lugar de la Mancha, de cuyo nombre no quiero acordarme, no ha mucho tiempo que vivía un "
                   "hidalgo")


@pytest.mark.parametrize("generated, score, overlap, kl", [
    (CANONICAL[len(BASE_PROMPT):].strip(), 0.267, 0.889, 2.01),  # perfect continuation of the A-D prompt
    (CANONICAL, 1.0, 1.0, 0.0),  # the whole sentence, prompt echoed
    (CANONICAL[len(EXTENDED_PROMPT):].strip(), 0.133, 0.444, 11.14),  # perfect continuation of E's prompt
    ("", 0.0, 0.0, 0.09),  # nothing at all: a smaller "KL" than the perfect continuation
])
def test_the_original_values_are_reproduced(generated, score, overlap, kl):
    m = obs.original_memorization(generated, CANONICAL)
    assert m["score"] == pytest.approx(score, abs=5e-4)
    assert m["overlap"] == pytest.approx(overlap, abs=5e-4)
    assert obs.original_word_kl(generated, CANONICAL) == pytest.approx(kl, abs=5e-3)


def test_unrelated_text_saturates_the_kl_near_22_nats():
    assert obs.original_word_kl("The quick brown fox jumps over the lazy dog.", CANONICAL) == pytest.approx(22.02,
                                                                                                         abs=0.01)
    assert obs.original_word_kl("", "") == 0.0  # the original's value when both texts are empty


def test_case_and_spacing_follow_the_original():
    # exact and leading words keep case; overlap lower-cases; whitespace is normalised
    upper = obs.original_memorization(CANONICAL.upper(), CANONICAL)
    assert (upper["exact"], upper["leading"], upper["overlap"]) == (0.0, 0.0, 1.0)
    assert obs.original_memorization("  " + CANONICAL.replace(" ", "   ") + "\n", CANONICAL)["score"] == 1.0
    # overlap is a Jaccard of word sets: extra words lower it, repeated words do not
    assert obs.original_memorization("En un En un", "En un lugar")["overlap"] == pytest.approx(2 / 3)
    assert obs.original_memorization("En un lugar extra", "En un lugar")["overlap"] == pytest.approx(3 / 4)


def test_original_score_ceiling_makes_perfect_recall_look_unmemorized():
    canonical = " ".join(f"w{i}" for i in range(300))
    continuation = " ".join(f"w{i}" for i in range(10, 300))  # after a 10-word prompt
    perfect = " ".join(f"w{i}" for i in range(10, 50))  # 40 words, word for word correct
    s = obs.original_memorization(perfect, canonical)
    assert (s["exact"], s["leading"], s["overlap"]) == (0.0, 0.0, pytest.approx(40 / 300)) and not s["memorized"]
    assert obs.original_ceiling(canonical, continuation, 40) == pytest.approx(s["score"])
    assert obs.original_memorization(canonical, canonical)["memorized"]  # only an echo of the prompt passes
    assert obs.original_word_kl(perfect, canonical) > 1.0  # a perfect continuation looks "far"
    assert obs.original_word_kl(canonical, canonical) == pytest.approx(0.0, abs=1e-9)
    # the original's own case: the perfect continuation of its six-word prompt is capped at 0.267
    assert obs.original_ceiling(CANONICAL, CANONICAL[len(BASE_PROMPT):], 27) == pytest.approx(0.267, abs=5e-4)


def test_an_empty_canonical_text_is_refused():
    with pytest.raises(ValueError, match="empty canonical"):
        obs.original_memorization("anything", "")
