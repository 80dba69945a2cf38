"""The chapter's figures: each seed's learning curves (train and validation loss, validation accuracy per task)."""
from __future__ import annotations

from .lora import TrainResult, history_frame


def learning_curves(results: list[TrainResult]):
    """Three panels per seed: the train loss (mean since the previous validation, log scale), the validation
    loss with the adapter kept marked by a star, and each classification task's validation accuracy."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    hist = history_frame(results)
    accuracy_columns = [c for c in hist.columns if c.startswith("val_acc_")]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("loss on answer tokens (train: mean since last validation)",
                                                        "validation loss", "validation accuracy"))
    for seed, g in hist.groupby("seed"):
        best = next(r.best_step for r in results if r.seed == seed)
        fig.add_trace(go.Scatter(x=g["step"], y=g["train_loss"].round(4), name=f"seed {seed} train",
                                 mode="lines+markers"), 1, 1)
        fig.add_trace(go.Scatter(x=g["step"], y=g["val_loss"].round(4), name=f"seed {seed} validation",
                                 mode="lines+markers"), 1, 2)
        kept = g[g["step"] == best]
        fig.add_trace(go.Scatter(x=kept["step"], y=kept["val_loss"].round(4), name=f"seed {seed} adapter kept",
                                 mode="markers", marker=dict(symbol="star", size=13)), 1, 2)
        for c in accuracy_columns:
            fig.add_trace(go.Scatter(x=g["step"], y=g[c].round(4), name=f"seed {seed} {c[8:]}",
                                     mode="lines+markers"), 1, 3)
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", row=1, col=1)
    return fig
