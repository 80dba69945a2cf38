"""lab.legal.data: validation with line numbers, leak-free split, topic rules, cloze spans."""
import itertools
import json
import re
import unicodedata

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from lab.legal import data


@pytest.fixture(scope="module")
def legal():
    return data.prepare(["jurisdiction", "topic", "cloze"], max_words=40)


def _write(tmp_path, records):
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def _record(**change):
    base = {"id": "AR-X-art-1", "jurisdiction": "AR", "law_id": "X", "law_title": "t", "source_url": "u",
            "heading_path": ["CAPITULO I"], "article_number": "1", "article_title": None, "text": "Texto.",
            "repealed": False}
    base.update(change)
    return base


@pytest.mark.parametrize("bad, message", [
    ("{not json", "line 2: not valid JSON"),
    (_record(id="AR-X-art-2", jurisdiction="BR"), "line 2: jurisdiction 'BR'"),
    (_record(id="AR-X-art-2", text="  "), "line 2: record 'AR-X-art-2' has an empty text"),
    (_record(id="AR-X-art-2", repealed="no"), "line 2: field 'repealed' should be bool"),
    (_record(), "line 2: duplicate id 'AR-X-art-1' (first on line 1)"),
    ({k: v for k, v in _record(id="AR-X-art-2").items() if k != "text"}, "line 2: missing field 'text'"),
])
def test_bad_record_names_its_line(tmp_path, bad, message):
    path = _write(tmp_path, [_record(), bad])
    with pytest.raises(data.DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.load_articles(path)


def test_missing_file_and_unknown_task_fail_clearly(tmp_path):
    with pytest.raises(data.DatasetError, match="no articles file"):
        data.load_articles(tmp_path / "nope.jsonl")
    with pytest.raises(data.TaskError, match="unknown task 'summaries'; valid tasks: jurisdiction, topic, cloze"):
        data.prepare(["summaries"])
    with pytest.raises(data.TaskError, match="compliance"):
        data.check_tasks(["compliance"])


def test_corpus_counts_match_sources_md(legal):
    counts = {}
    for a in legal.articles:
        counts[a.jurisdiction] = counts.get(a.jurisdiction, 0) + 1
    assert counts == {"ES": 604, "AR": 367, "UY": 483, "CL": 176}
    assert sum(a.repealed for a in legal.articles) == 29
    assert len(legal.split) == 1630 - 29


def test_no_near_duplicate_crosses_the_split(legal):
    for a, b, sim in legal.groups.pairs:
        assert sim >= legal.groups.threshold
        assert legal.split[a] == legal.split[b]
    shares = {s: sum(v == s for v in legal.split.values()) / len(legal.split) for s in data.SPLITS}
    assert 0.77 < shares["train"] < 0.83 and 0.08 < shares["test"] < 0.12


# ---------------------------------------------------------------- near-duplicates against a brute-force scan
# The reference below shares nothing with lab.legal.data but the definition in its docstring: word 5-gram
# shingles of the lower-cased, accent-folded text (as strings, not hashes), Jaccard of every pair by plain
# Python sets, and connected components of "Jaccard >= 0.3" by scipy's graph routine (not a union-find).

def _words(text):
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return re.findall(r"\w+", folded)


def _grams(words, n=5):
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def _brute_force(articles, threshold=0.3):
    grams = [_grams(_words(a.text)) for a in articles]
    pairs = {}
    for i, j in itertools.combinations(range(len(articles)), 2):
        sim = len(grams[i] & grams[j]) / len(grams[i] | grams[j])
        if sim >= threshold:
            pairs[(articles[i].id, articles[j].id)] = sim
    index = {a.id: k for k, a in enumerate(articles)}
    rows = [index[a] for a, _ in pairs]
    cols = [index[b] for _, b in pairs]
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(articles), len(articles)))
    _, label = connected_components(graph, directed=False)
    groups = {}
    for a, g in zip(articles, label):
        groups.setdefault(g, set()).add(a.id)
    return pairs, {frozenset(m) for m in groups.values()}


def _jaccard_of_words(a, b):
    return len(_grams(a) & _grams(b)) / len(_grams(a) | _grams(b))


def _fresh(tag, n):
    return [f"xq{tag}w{i}" for i in range(n)]  # words no article contains


def _copy_at(words, target, tag):
    """The first k words of an article followed by new words, with k chosen so that the Jaccard of word
    5-grams with the original is as close to ``target`` as the article allows."""
    candidates = [words[:k] + _fresh(tag, len(words) - k) for k in range(5, len(words))]
    return min(candidates, key=lambda c: abs(_jaccard_of_words(words, c) - target))


def _article(aid, jurisdiction, words):
    return data.Article(aid, jurisdiction, "PLANTED", (), "1", None, " ".join(words), False)


@pytest.fixture(scope="module")
def planted():
    """In-force AR and UY articles plus planted near-duplicates across the border: a copy at Jaccard 0.35
    (above the 0.3 threshold), one at 0.25 (below it) and a chain A ~ B ~ C with A and C unrelated."""
    base = [a for a in data.in_force(data.load_articles()) if a.jurisdiction in ("AR", "UY")]
    long = [a for a in base if len(_words(a.text)) >= 80]
    above, below, head = long[0], long[1], next(a for a in long if a.jurisdiction == "UY")
    w_above, w_below, w_head = (_words(a.text) for a in (above, below, head))
    copy_above = _copy_at(w_above, 0.35, "a")
    copy_below = _copy_at(w_below, 0.25, "b")
    middle = _copy_at(w_head, 0.4, "c")  # the chain's middle: the head's start, then new words
    tail = [w for w in middle if w.startswith("xqc")]
    end = tail + _fresh("d", len(tail) // 4)  # the chain's end: the middle's new words only, then more
    sims = {"above": _jaccard_of_words(w_above, copy_above), "below": _jaccard_of_words(w_below, copy_below),
            "head-middle": _jaccard_of_words(w_head, middle), "middle-end": _jaccard_of_words(middle, end),
            "head-end": _jaccard_of_words(w_head, end)}
    # the chain goes first, so that its middle is the first member of both of its pairs
    extra = [_article("AR-chain-middle", "AR", middle), _article("AR-chain-end", "AR", end),
             _article("UY-copy-above", "UY", copy_above), _article("UY-copy-below", "UY", copy_below)]
    ids = {"above": above.id, "below": below.id, "head": head.id}
    return extra + base, sims, ids


def test_planted_copies_are_at_the_intended_similarities(planted):
    _, sims, ids = planted
    assert 0.33 <= sims["above"] <= 0.37 and 0.23 <= sims["below"] <= 0.27
    assert sims["head-middle"] >= 0.3 and sims["middle-end"] >= 0.3 and sims["head-end"] == 0.0
    assert ids["above"].startswith("AR") and ids["below"].startswith("AR") and ids["head"].startswith("UY")


def test_near_duplicate_groups_equal_a_brute_force_scan(planted):
    articles, _, ids = planted
    pairs, components = _brute_force(articles)
    groups = data.near_duplicate_groups(articles)
    assert {(a, b) for a, b, _ in groups.pairs} == set(pairs)
    for a, b, sim in groups.pairs:
        assert sim == pytest.approx(pairs[(a, b)], abs=1e-4)
    assert {frozenset(m) for m in groups.members().values()} == components
    # and what the planted articles were planted for
    group = groups.group_of
    assert group["UY-copy-above"] == group[ids["above"]]
    assert group["UY-copy-below"] != group[ids["below"]]
    assert group["AR-chain-end"] == group["AR-chain-middle"] == group[ids["head"]]
    assert (ids["head"], "AR-chain-end") not in pairs and ("AR-chain-end", ids["head"]) not in pairs
    assert data.jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)


def test_split_is_reproducible_and_seed_dependent():
    arts = data.in_force(data.load_articles())
    groups = data.near_duplicate_groups(arts)
    assert data.split_by_group(arts, groups, seed=0) == data.split_by_group(arts, groups, seed=0)
    assert data.split_by_group(arts, groups, seed=0) != data.split_by_group(arts, groups, seed=1)


@pytest.mark.parametrize("headings, topic", [
    (["TÍTULO II. La constitución de las sociedades de capital", "CAPÍTULO I. Disposiciones generales"], "formation"),
    (["CAPITULO II", "SECCION IV. De la Sociedad de Responsabilidad Limitada", "2º. Del capital y de las cuotas sociales."],
     "capital_shares"),
    (["CAPITULO II", "SECCION VII. De la Sociedad en Comandita por Acciones"], None),
    (["TÍTULO VI. La administración de la sociedad", "CAPÍTULO V. La responsabilidad de los administradores"], "liability"),
    (["TITULO VI De las juntas de accionistas"], "meetings"),
    (["SECCION XII - DE LA FUSION Y DE LA ESCISION", "SUB SECCION I - DE LA FUSION"], "restructuring"),
    (["TITULO X Del procedimiento concursal de liquidación, de la disolución y de la liquidación"], "dissolution_liquidation"),
    (["TÍTULO I. Disposiciones generales", "CAPÍTULO I. Las sociedades de capital"], None),
])
def test_topic_rules(headings, topic):
    assert data.topic_of(headings) == topic


@pytest.mark.parametrize("text, category, span", [
    ("en un plazo de ciento ochenta días a contar", "time_limit", "ciento ochenta días"),
    ("dentro de los treinta (30) días hábiles", "time_limit", "treinta (30) días hábiles"),
    ("el veinticinco por ciento (25%) del capital y en un plazo de 10 días", "percentage", "veinticinco por ciento (25%)"),
    ("adoptado por mayoría absoluta de votos", "majority_quorum", "mayoría absoluta"),
    ("convocada por el directorio", "organ", "directorio"),
    ("La sociedad tendrá un nombre.", None, None),
])
def test_cloze_spans(text, category, span):
    found = data.salient_span(text)
    assert (found.category, found.text) == (category, span) if category else found is None


def test_cloze_prompt_hides_the_answer(legal):
    for ex in legal.tasks["cloze"].splits["test"]:
        assert data.BLANK in ex.prompt and ex.target == " " + ex.label
    ex = legal.tasks["jurisdiction"].splits["train"][0]
    assert ex.label in data.JURISDICTIONS and ex.target == " " + data.JURISDICTION_NAMES[ex.label]


def test_hand_checked_sample_is_still_the_one_built(legal):
    keys = {f"{e.task}/{e.article_id}" for e in data.sample(legal)}
    assert keys == set(data.HAND_CHECKED)
