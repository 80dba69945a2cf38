import pytest

from lab.proportions import wilson


def test_wilson_matches_published_values_and_keeps_a_width_at_zero():
    lo, hi = wilson(0, 6)
    assert lo == 0 and hi == pytest.approx(0.3903, abs=1e-4)  # Brown, Cai and DasGupta's table
    lo, hi = wilson(3, 6)
    assert lo == pytest.approx(1 - hi) and lo == pytest.approx(0.1876, abs=1e-4)
    assert wilson(6, 6)[1] == 1.0
    assert wilson(1, 9)[0] > 0


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson(3, 2)
    with pytest.raises(ValueError):
        wilson(0, 0)
