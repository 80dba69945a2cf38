"""Plotly figures that render offline in the book and compare stably under nbval.

The figure is emitted as an HTML fragment that calls ``Plotly.newPlot`` without embedding plotly.js:
the book serves plotly.js from its own static files (see ``lab.publish.book``), never from a CDN. The div id is
derived from the figure's name, so re-executing a notebook gives byte-identical output.
"""
from __future__ import annotations

import re
from pathlib import Path

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def to_html(fig, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"figure name {name!r} must be letters, digits, '_' or '-'")
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name}", config=PLOTLY_CONFIG)


def show(fig, name: str) -> None:
    """Display a plotly figure in a notebook as an offline-ready HTML fragment."""
    from IPython.display import HTML, display  # only a notebook displays

    display(HTML(to_html(fig, name)))


def plotly_js_path():
    """The plotly.min.js shipped inside the installed plotly package."""
    import plotly  # here, as IPython above: `lab book` imports this module and need not load either

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise FileNotFoundError("plotly.min.js is missing from the installed plotly package")
    return path
