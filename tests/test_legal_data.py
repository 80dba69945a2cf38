"""lab.legal.data: validation with line numbers, leak-free split, topic rules, cloze spans."""
import json

import pytest

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


def test_grouping_catches_a_planted_copy():
    base = data.load_articles()[:40]
    twin = data.Article("UY-copy", "UY", "X", (), "1", None, base[0].text + " Agregado final.", False)
    groups = data.near_duplicate_groups(base + [twin])
    assert groups.group_of["UY-copy"] == groups.group_of[base[0].id]
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
