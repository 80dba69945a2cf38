"""The ledger as the book shows it: the HTML table, the counts, the landing page's sentences and the shortfalls."""
from __future__ import annotations
from html import escape

from .claims import VERDICTS
from .judge import BASES, anchor
from .results import Results


COLUMN_WIDTHS = {"id": 11, "source": 12, "claim": 18, "test": 14, "verdict": 8, "figure": 26, "finding": 30}
VERDICT_COLOURS = {"supported": "#e3f2e1", "refuted": "#f9e0de", "not supported": "#fbeedd", "inconclusive": "#eeeeee",
                   "not testable here": "#e4ecf7"}


def html_table(rows, columns: tuple[str, ...]) -> str:
    """Rows (dicts, or a DataFrame with its index as "id") as an HTML table whose last column links to the
    section holding the evidence. Raw HTML: the links are plain relative URLs within the built book, and the
    styles are inline so that the long figures wrap inside the page's column."""
    if hasattr(rows, "iterrows"):
        rows = [{"id": i, **r} for i, r in rows.to_dict("index").items()]
    cell = "vertical-align:top; padding:4px 6px; overflow-wrap:break-word; border-bottom:1px solid #ddd"
    head = "".join(f'<th style="{cell}">{escape(c)}</th>' for c in (*columns, "evidence"))
    widths = [COLUMN_WIDTHS.get(c, 15) for c in columns] + [12]
    cols = "".join(f'<col style="width:{100 * w / sum(widths):.1f}%">' for w in widths)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            colour = f" background:{VERDICT_COLOURS[row[c]]};" if c == "verdict" else ""
            text = escape(str(row[c])).replace("_", "_<wbr>")  # file names and ids may break after "_"
            cells.append(f'<td style="{cell};{colour}">{text}</td>')
        link = f"{row['page']}.html#{anchor(row['section'])}"
        cells.append(f'<td style="{cell}"><a href="{escape(link)}">{escape(row["page"])}: '
                     f"{escape(row['section'])}</a></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return ('<div style="overflow-x:auto"><table class="claims-ledger" style="font-size:0.78em; '
            f'border-collapse:collapse; width:100%; table-layout:fixed"><colgroup>{cols}</colgroup><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def counts(ledger) -> dict[str, int]:
    return {v: int((ledger.verdict == v).sum()) for v in VERDICTS}


def headline(ledger, ids=("memorization-threshold-70b", "small-models-zero-memorization",
                          "memorization-protocol-threshold", "collate-fake-ppl", "iit-memory-functional",
                          "projection-best-validation-ppl", "legal-jurisdiction-accuracy", "legal-size")) -> str:
    """An HTML list for the landing page: the claims that carry each study, with their verdicts. HTML, not
    Markdown, because a glue pasted into another page of the book renders text, HTML or images only."""
    items = []
    for cid in ids:
        row = ledger.loc[cid]
        items.append(f"<li><em>{escape(row.claim)}</em> ({escape(row.source)}): <strong>{escape(row.verdict)}"
                     f"</strong>; {escape(row.figure)}.</li>")
    return f'<ul class="ledger-headline">{"".join(items)}</ul>'


def landing(ledger) -> str:
    """The landing page's summary, in sentences: what fell or stood by arithmetic and code reading (any scale),
    what the runs judged at the claim's own scale, and what needs runs this book could not do. HTML, as
    :func:`headline`."""
    paragraphs = []
    for key, text in BASES.items():
        rows = ledger[ledger.basis == key]
        if rows.empty:
            paragraphs.append(f"<p>No claim is {escape(text)}.</p>")
            continue
        by = [(v, rows[rows.verdict == v]) for v in VERDICTS if (rows.verdict == v).any()]
        if key == "out of reach":
            sources = ", ".join(f"{n} from {escape(s)}" for s, n in rows.source.value_counts().sort_index().items())
            paragraphs.append(f"<p><strong>{len(rows)} claims are {escape(text)}</strong> ({sources}); each row of "
                              "the ledger says what ran and what the claim needs.</p>")
            continue
        listed = "; ".join(f"{len(sel)} {escape(v)} (" + "; ".join(f"<em>{escape(c.rstrip('.'))}</em>"
                                                                for c in sel.claim) + ")" for v, sel in by)
        paragraphs.append(f"<p><strong>{len(rows)} claims are {escape(text)}</strong>. {listed}.</p>")
    return "".join(paragraphs)


def shortfalls(r: Results | None = None) -> list[dict]:
    """What did not work in the book's own runs (beyond the claims it refutes), each from glued values."""
    r = r or Results()
    p3, p2 = "p3_legal_lora", "p2_collate_postmortem"
    # LoRA below TF-IDF only where the whole interval of the paired difference is below zero
    lost = [t for t in ("jurisdiction", "topic") if r(p3, f"p3_{t}_vs_tfidf_high") < 0]
    # what the runs were: a finding says no more than the size it was measured at
    size = (f"at {r(p3, 'p3_train_examples')} training examples, {r(p3, 'p3_plateaued_seeds')} of {r(p3, 'p3_seeds')} "
            f"seeds trained to a plateau, on {r.parameter(p3, 'model')}")

    def versus(a: float, b: float) -> str:
        return "below" if a < b else "at or above"

    return [
        {"finding": ("LoRA scores below a bag-of-words classifier on " + " and ".join(lost) if lost else
                     "LoRA is not shown to score below a bag-of-words classifier on either legal task")
                    + f", {size}",
         "figure": f"jurisdiction accuracy: LoRA {r(p3, 'p3_jurisdiction_lora'):.3f}, TF-IDF + logistic regression "
                   f"{r(p3, 'p3_jurisdiction_tfidf'):.3f}, majority class {r(p3, 'p3_jurisdiction_majority'):.3f}; "
                   + "; ".join(f"LoRA minus TF-IDF on {t} {r(p3, f'p3_{t}_vs_tfidf') * 100:+.1f} points (95% interval "
                               f"{r(p3, f'p3_{t}_vs_tfidf_low') * 100:+.1f} to {r(p3, f'p3_{t}_vs_tfidf_high') * 100:+.1f})"
                               for t in ("jurisdiction", "topic")) + "; "
                   f"topic: LoRA {r(p3, 'p3_topic_lora'):.3f}, "
                   f"{versus(r(p3, 'p3_topic_lora'), r(p3, 'p3_topic_majority'))} the majority class "
                   f"{r(p3, 'p3_topic_majority'):.3f}, TF-IDF {r(p3, 'p3_topic_tfidf'):.3f}. "
                   + r(p3, "p3_stopping_sentence"),
         "page": p3, "section": "Results on the test split"},
        {"finding": f"The fine-tuned model restores the statutes' exact wording in {r(p3, 'p3_cloze_lora'):.0%} of "
                    f"the cloze items, {size}",
         "figure": f"cloze exact match {r(p3, 'p3_cloze_lora'):.3f} for LoRA, {r(p3, 'p3_cloze_majority'):.3f} for "
                   "the majority answer",
         "page": p3, "section": "Results on the test split"},
        {"finding": "The missing causal mask was not exploited at this scale, so this run cannot show its harm",
         "figure": r(p2, "leak_sentence"), "page": p2, "section": "Four set-ups, trained the same way"},
        {"finding": "Expectations of the Infinito document, judged",
         "figure": f"{r('p2_expectations', 'supported')} of {r('p2_expectations', 'judged')} projections supported",
         "page": "p2_expectations", "section": "Expectations versus measurements"},
    ]
