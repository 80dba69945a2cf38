"""What Part I's pages draw, from records as they come back from a run step's JSON."""
import pandas as pd

from lab.dynamics import report


def _records(prob):
    rows = []
    for attractor in ("counting", "hamlet"):
        for action, magnitude in (("control", None), ("A", 1)):
            rows.append({"attractor": attractor, "action": action, "magnitude": magnitude, "seed": 0,
                         "true_prob_mean": prob, "true_prob_kind": "unavailable: no logprobs from the API"
                         if prob is None else "measured"})
    return pd.DataFrame(rows)


def test_control_vs_modified_says_unavailable_where_json_gave_none():
    # NaN is stored as null in a result file, so an API run's unmeasured probability reads back as None
    fig = report.fig_control_vs_modified(_records(None))
    assert any("unavailable" in a.text for a in fig.layout.annotations)


def test_control_vs_modified_draws_measured_values():
    fig = report.fig_control_vs_modified(_records(0.5))
    assert not fig.layout.annotations and len(fig.data) == 1
