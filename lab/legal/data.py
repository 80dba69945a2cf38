"""The legal corpus (data/legal/articles.jsonl) and the tasks built from it.

Loading validates every record and names the line of the first bad one. Tasks are built from the
articles in force (repealed articles are only a marker such as "(Derogado)" and are left out):

- ``jurisdiction``: which of ES, AR, UY, CL an article comes from (4-way);
- ``topic``: the legal concept of the article, from a documented mapping of the statutes' own headings
  (``TOPIC_RULES``) to nine topics; articles under headings that name no topic are left out;
- ``cloze``: fill in a blanked, legally salient span (percentage, majority or quorum, time limit, named
  organ) given the words around it.

A compliance yes/no task is not built (see ``COMPLIANCE_NOT_BUILT``).

The split is 80/10/10 by groups of near-duplicate articles (exact Jaccard similarity of word 5-shingles,
all pairs), so near-identical wording never sits on both sides of the split; Uruguay's 1989 law took
much of its wording from Argentina's, which is exactly the leak this prevents.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .. import steps
from ..paths import DATA

DEFAULT_PATH = DATA / "legal" / "articles.jsonl"
JURISDICTIONS = ("ES", "AR", "UY", "CL")
TASKS = ("jurisdiction", "topic", "cloze")
SPLITS = ("train", "val", "test")

COMPLIANCE_NOT_BUILT = (
    "A compliance yes/no task is not built. The statutes state rules; they do not contain fact patterns "
    "with a decided answer. Writing scenarios and labelling them 'complies / does not comply' needs "
    "legal judgement about exceptions, the company type and the interplay of several articles (and "
    "often of regulations outside these four texts), which nobody here can supply or check for four "
    "jurisdictions. Automatic variants (e.g. swapping a number in a rule and asking whether the rule "
    "still holds) would only re-measure recall of the exact span, which the cloze task already does, "
    "under a misleading name.")


class DatasetError(ValueError):
    """A record of the articles file is malformed (the message names the file and line)."""


class TaskError(KeyError):
    """A task that does not exist or cannot be built honestly."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


# ---------------------------------------------------------------- loading and validation

_FIELDS = {
    "id": str, "jurisdiction": str, "law_id": str, "law_title": str, "source_url": str,
    "heading_path": list, "article_number": str, "text": str, "repealed": bool,
}


@dataclass(frozen=True)
class Article:
    id: str
    jurisdiction: str
    law_id: str
    heading_path: tuple[str, ...]
    article_number: str
    article_title: str | None
    text: str
    repealed: bool


def _check_record(record, lineno: int, where: str) -> Article:
    def bad(problem: str) -> DatasetError:
        return DatasetError(f"{where} line {lineno}: {problem}")

    if not isinstance(record, dict):
        raise bad(f"expected a JSON object, got {type(record).__name__}")
    for name, kind in _FIELDS.items():
        if name not in record:
            raise bad(f"missing field {name!r}")
        if not isinstance(record[name], kind):
            raise bad(f"field {name!r} should be {kind.__name__}, got {type(record[name]).__name__}")
    if record["jurisdiction"] not in JURISDICTIONS:
        raise bad(f"jurisdiction {record['jurisdiction']!r} is not one of {', '.join(JURISDICTIONS)}")
    if not record["text"].strip():
        raise bad(f"record {record['id']!r} has an empty text")
    if not all(isinstance(h, str) for h in record["heading_path"]):
        raise bad("heading_path must be a list of strings")
    title = record.get("article_title")
    if title is not None and not isinstance(title, str):
        raise bad("article_title must be a string or null")
    return Article(record["id"], record["jurisdiction"], record["law_id"], tuple(record["heading_path"]),
                   record["article_number"], title, record["text"], record["repealed"])


def load_articles(path: str | Path = DEFAULT_PATH) -> list[Article]:
    """Every record of the file, validated; DatasetError names the line of the first bad record."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no articles file at {path.name!r} (expected a JSON-lines file such as "
                           f"data/legal/articles.jsonl)")
    where = path.name
    articles, seen = [], {}
    with open(steps.data_file(path), encoding="utf-8") as fh:  # recorded: a run step that reads it is keyed by it
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where} line {lineno}: not valid JSON ({exc.msg})") from None
            article = _check_record(record, lineno, where)
            if article.id in seen:
                raise DatasetError(f"{where} line {lineno}: duplicate id {article.id!r} (first on line "
                                   f"{seen[article.id]})")
            seen[article.id] = lineno
            articles.append(article)
    if not articles:
        raise DatasetError(f"{where} holds no records")
    return articles


def in_force(articles: list[Article]) -> list[Article]:
    return [a for a in articles if not a.repealed]


# ---------------------------------------------------------------- near-duplicate groups

def _fold(text: str) -> str:
    """Lower case without accents: the form used for shingles and heading rules."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def shingles(text: str, n: int = 5) -> set[int]:
    """Hashed word n-grams of the folded text (a short text is one shingle)."""
    words = re.findall(r"\w+", _fold(text))
    grams = [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass
class DuplicateGroups:
    group_of: dict[str, int]  # article id -> group number
    pairs: list[tuple[str, str, float]]  # near-duplicate pairs with their Jaccard similarity
    threshold: float

    def members(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for aid, g in self.group_of.items():
            out.setdefault(g, []).append(aid)
        return out


def near_duplicate_groups(articles: list[Article], threshold: float = 0.3, shingle: int = 5) -> DuplicateGroups:
    """Connected components of the graph 'word-shingle Jaccard >= threshold', over all pairs.

    The corpus is small enough (about 1,600 articles) for exact Jaccard of every pair through one sparse
    product, so no MinHash approximation is needed and no pair above the threshold can be missed.
    """
    sets = [shingles(a.text, shingle) for a in articles]
    vocabulary: dict[int, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for h in sorted(s):
            rows.append(i)
            cols.append(vocabulary.setdefault(h, len(vocabulary)))
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sets), len(vocabulary)))
    shared = sp.triu(x @ x.T, k=1).tocoo()
    sizes = np.array([len(s) for s in sets], dtype=np.float64)
    similarity = shared.data / (sizes[shared.row] + sizes[shared.col] - shared.data)

    keep = similarity >= threshold
    pairs = [(articles[i].id, articles[j].id, round(sim, 4)) for i, j, sim in
             sorted(zip(shared.row[keep].tolist(), shared.col[keep].tolist(), similarity[keep].tolist()))]
    linked = sp.coo_matrix((np.ones(int(keep.sum())), (shared.row[keep], shared.col[keep])), shape=(len(sets),) * 2)
    # labels are numbered in order of each group's first article, as the splits expect
    _, labels = connected_components(linked, directed=False)
    return DuplicateGroups({a.id: int(labels[i]) for i, a in enumerate(articles)}, pairs, threshold)


def split_by_group(articles: list[Article], groups: DuplicateGroups, seed: int = 0,
                   fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, str]:
    """article id -> 'train' | 'val' | 'test'; whole groups move together, stratified by the group's
    majority jurisdiction so that each split has all four laws in about the same proportions."""
    by_group = groups.members()
    jur = {a.id: a.jurisdiction for a in articles}
    strata: dict[str, list[int]] = {}
    for g, members in sorted(by_group.items()):
        majority = Counter(jur[m] for m in members).most_common(1)[0][0]
        strata.setdefault(majority, []).append(g)
    rng = np.random.default_rng(seed)
    assignment = {}
    for name in JURISDICTIONS:
        group_ids = strata.get(name, [])
        order = rng.permutation(len(group_ids))
        total = sum(len(by_group[g]) for g in group_ids)
        done = 0
        for k in order:
            g = group_ids[k]
            share = done / total if total else 0.0
            part = "train" if share < fractions[0] else "val" if share < fractions[0] + fractions[1] else "test"
            for m in by_group[g]:
                assignment[m] = part
            done += len(by_group[g])
    return assignment


# ---------------------------------------------------------------- topics from the statutes' headings

# Company-type names are removed from a heading before matching, so that "Sociedad de Responsabilidad
# Limitada" is not read as liability nor "Comandita por Acciones" as shares.
_COMPANY_TYPES = re.compile(
    r"sociedad(es)? (de capital\b|de responsabilidad limitada|anonimas?( europea| cotizadas?| abiertas)?|en comandita "
    r"(simple|por acciones)|colectivas?|de capital e industria|accidentales o en participacion"
    r"|anonima con participacion estatal mayoritaria|nueva empresa)")

# (topic, pattern over the folded heading). For each article the headings are read from the innermost
# outwards and the first heading that matches any rule decides; within a heading the first rule wins.
TOPIC_RULES: tuple[tuple[str, str], ...] = (
    ("restructuring", r"transformacion|fusion|escision|division|conversion|traslado|modificaciones estructurales"),
    ("dissolution_liquidation", r"disolucion|liquidacion|rescision parcial|resolucion parcial|separacion|exclusion"),
    ("meetings", r"\bjuntas?\b|asambleas?|impugnacion"),
    ("liability", r"responsabilidad|sanciones|intervencion judicial|inoponibilidad"),
    ("accounts", r"cuentas|balance|contabilidad|documentacion|libros|informacion societaria|estados financieros"
                 r"|utilidades|informe"),
    ("governance", r"administracion|administradores|representacion|consejo|directorio|fiscalizacion|organos"
                   r"|gobierno corporativo|remuneracion|partes relacionadas|operaciones vinculadas"),
    ("capital_shares", r"capital|acciones|participaciones|cuotas|aportaciones|aportes|desembolso|prestaciones"
                       r"|autocartera|bonos|debentures|obligaciones|copropiedad"),
    ("members", r"\bsocios?\b|accionistas"),
    ("formation", r"constitucion|formacion|existencia|contrato social|denominacion|nombre|domicilio|inscripcion"
                  r"|nulidad|irregular|forma, prueba|publicidad|naturaleza"),
)
TOPICS = tuple(dict.fromkeys(t for t, _ in TOPIC_RULES))


def topic_of(heading_path: tuple[str, ...] | list[str]) -> str | None:
    """The topic of an article from its heading path (innermost heading first), or None if no heading
    names one (general provisions, company types, transitional and miscellaneous provisions)."""
    for heading in reversed(list(heading_path)):
        folded = _COMPANY_TYPES.sub(" ", _fold(heading))
        for topic, pattern in TOPIC_RULES:
            if re.search(pattern, folded):
                return topic
    return None


# ---------------------------------------------------------------- cloze spans

_NUMBER_WORD = (r"(?:veinti\w+|dieci\w+|un[oa]?|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|trece"
                r"|catorce|quince|veinte|treinta|cuarenta|cincuenta|sesenta|setenta|ochenta|noventa|cien(?:to)?"
                r"|doscientos|trescientos|cuatrocientos|quinientos|mil)")
# "ciento ochenta", "treinta y cinco", "veinte (20)", "15"
_NUMBER = (rf"(?:{_NUMBER_WORD}(?:\s+(?:y\s+)?{_NUMBER_WORD}){{0,3}}(?:\s*\(\d+(?:[.,]\d+)?\))?|\d+(?:[.,]\d+)?)")

# (category, pattern) in priority order: one span per article, from the first category that occurs.
CLOZE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("percentage", rf"\b{_NUMBER}\s+por\s+(?:ciento|cien)(?:\s*\(\s*\d+(?:[.,]\d+)?\s*%\s*\))?|\b\d+(?:[.,]\d+)?\s?%"),
    ("majority_quorum", r"\bmayor[ií]a\s+(?:absoluta|simple|reforzada|calificada)|\b(?:dos|tres)\s+(?:tercios|cuartos|quintos)"
                        r"|\b(?:tres\s+)?cuartas\s+partes|\bla\s+mitad(?:\s+m[aá]s\s+uno)?|\bunanimidad"),
    ("time_limit", rf"\b{_NUMBER}\s+(?:d[ií]as(?:\s+(?:h[aá]biles|naturales|corridos))?|meses|mes|años|año|semanas)\b"),
    ("organ", r"\b(?:junta general(?: de accionistas)?|junta de accionistas|asamblea(?: (?:ordinaria|extraordinaria|general))?"
              r"|directorio|consejo de administraci[oó]n|consejo de vigilancia|comisi[oó]n fiscalizadora|s[ií]ndicos?"
              r"|liquidador(?:es)?|Registro Mercantil|Registro P[uú]blico(?: de Comercio)?|Inspecci[oó]n General de Justicia"
              r"|Superintendencia(?: de Valores y Seguros| del Mercado de Valores)?|auditor(?:es)? de cuentas"
              r"|Comisi[oó]n Nacional (?:del Mercado )?de Valores)\b"),
)
CLOZE_CATEGORIES = tuple(c for c, _ in CLOZE_PATTERNS)
BLANK = "____"


@dataclass(frozen=True)
class Span:
    category: str
    start: int
    end: int
    text: str


def salient_span(text: str) -> Span | None:
    """The first span of the highest-priority category that occurs in the text."""
    for category, pattern in CLOZE_PATTERNS:
        m = re.search(pattern, text, flags=re.IGNORECASE)
        if m:
            return Span(category, m.start(), m.end(), m.group(0))
    return None


def _window(text: str, start: int, end: int, max_words: int) -> str:
    """The blanked text, cut to about max_words words around the blank (2/3 before, 1/3 after)."""
    before = text[:start].split()
    after = text[end:].split()
    keep_after = min(len(after), max(max_words // 3, max_words - len(before)))
    keep_before = max(0, max_words - keep_after)
    parts = (["…"] if len(before) > keep_before else []) + before[len(before) - keep_before:] + [BLANK]
    parts += after[:keep_after] + (["…"] if len(after) > keep_after else [])
    return " ".join(parts)


def _truncate(text: str, max_words: int) -> str:
    words = text.split()
    return " ".join(words[:max_words]) + (" …" if len(words) > max_words else "")


# ---------------------------------------------------------------- examples

JURISDICTION_NAMES = {"ES": "España", "AR": "Argentina", "UY": "Uruguay", "CL": "Chile"}
TOPIC_NAMES = {
    "formation": "constitución", "capital_shares": "capital y acciones", "members": "socios",
    "governance": "administración", "meetings": "juntas y asambleas", "accounts": "cuentas",
    "liability": "responsabilidad", "dissolution_liquidation": "disolución y liquidación",
    "restructuring": "fusión y transformación",
}


@dataclass(frozen=True)
class Example:
    """One prompt and its answer. ``label`` is the class (classification) or the span (cloze)."""

    task: str
    article_id: str
    jurisdiction: str
    prompt: str
    label: str
    target: str  # the text the model must produce after the prompt (a verbaliser or the span)
    category: str = ""  # cloze span category


@dataclass
class TaskSet:
    task: str
    labels: tuple[str, ...]  # classes (empty for cloze)
    verbalisers: dict[str, str]  # class -> text scored after the prompt
    splits: dict[str, list[Example]] = field(default_factory=dict)
    left_out: int = 0  # articles in force without a label for this task

    @property
    def is_classification(self) -> bool:
        return bool(self.labels)


def _jurisdiction_prompt(text: str) -> str:
    return f"Artículo de una ley de sociedades:\n{text}\nPaís (España, Argentina, Uruguay o Chile):"


def _topic_prompt(text: str) -> str:
    options = ", ".join(TOPIC_NAMES[t] for t in TOPICS)
    return f"Artículo de una ley de sociedades:\n{text}\nTema ({options}):"


def _cloze_prompt(masked: str) -> str:
    return f"Completa el espacio {BLANK} del artículo:\n{masked}\nRespuesta:"


def prompt_for(task: str, text: str) -> str:
    """The classification prompt of ``task`` around an article text (or content-free text)."""
    prompts = {"jurisdiction": _jurisdiction_prompt, "topic": _topic_prompt}
    if task not in prompts:
        raise TaskError(f"no classification prompt for task {task!r}; classification tasks: {', '.join(prompts)}")
    return prompts[task](text)


def check_tasks(tasks: list[str]) -> None:
    for t in tasks:
        if t == "compliance":
            raise TaskError(f"task 'compliance' is not built: {COMPLIANCE_NOT_BUILT}")
        if t not in TASKS:
            raise TaskError(f"unknown task {t!r}; valid tasks: {', '.join(TASKS)}")


def build_task(task: str, articles: list[Article], split: dict[str, str], max_words: int = 48) -> TaskSet:
    """Examples of one task for every split, from the articles in force."""
    check_tasks([task])
    if task == "jurisdiction":
        ts = TaskSet(task, JURISDICTIONS, {j: " " + JURISDICTION_NAMES[j] for j in JURISDICTIONS})
    elif task == "topic":
        ts = TaskSet(task, TOPICS, {t: " " + TOPIC_NAMES[t] for t in TOPICS})
    else:
        ts = TaskSet(task, (), {})
    ts.splits = {s: [] for s in SPLITS}
    for a in in_force(articles):
        if a.id not in split:
            continue
        if task == "jurisdiction":
            ex = Example(task, a.id, a.jurisdiction, _jurisdiction_prompt(_truncate(a.text, max_words)),
                         a.jurisdiction, ts.verbalisers[a.jurisdiction])
        elif task == "topic":
            topic = topic_of(a.heading_path)
            if topic is None:
                ts.left_out += 1
                continue
            ex = Example(task, a.id, a.jurisdiction, _topic_prompt(_truncate(a.text, max_words)), topic,
                         ts.verbalisers[topic])
        else:
            span = salient_span(a.text)
            if span is None:
                ts.left_out += 1
                continue
            masked = _window(a.text, span.start, span.end, max_words)
            ex = Example(task, a.id, a.jurisdiction, _cloze_prompt(masked), span.text, " " + span.text,
                         span.category)
        ts.splits[split[a.id]].append(ex)
    return ts


@dataclass
class LegalData:
    articles: list[Article]
    groups: DuplicateGroups
    split: dict[str, str]
    tasks: dict[str, TaskSet]


def prepare(tasks: list[str], path: str | Path = DEFAULT_PATH, split_seed: int = 0, max_words: int = 48,
            dedup_threshold: float = 0.3) -> LegalData:
    """Load and validate the articles, group near-duplicates, split by group and build the tasks."""
    check_tasks(tasks)
    articles = load_articles(path)
    current = in_force(articles)
    groups = near_duplicate_groups(current, threshold=dedup_threshold)
    split = split_by_group(current, groups, seed=split_seed)
    built = {t: build_task(t, articles, split, max_words) for t in tasks}
    # The file is ordered by law; shuffle each split once (seeded) so that its first k examples, used
    # for validation during training and for small test runs, are a fair sample of all four laws.
    rng = np.random.default_rng(split_seed)
    for ts in built.values():
        ts.splits = {s: [examples[int(i)] for i in rng.permutation(len(examples))] for s, examples in ts.splits.items()}
    return LegalData(articles, groups, split, built)


def limit_train(data: LegalData, per_task: int) -> LegalData:
    """The same data with each task's training split cut to its first ``per_task`` examples (the split is
    shuffled once by ``prepare``, so they are a fair sample of the four laws); 0 keeps every example. Every system
    of the chapter, baselines included, learns from the same examples."""
    if per_task < 0:
        raise ValueError("per_task must be 0 (every example) or positive")
    if per_task == 0:
        return data
    tasks = {name: replace(ts, splits={**ts.splits, "train": ts.splits["train"][:per_task]})
             for name, ts in data.tasks.items()}
    return replace(data, tasks=tasks)


def split_table(data: LegalData):
    """Examples per task, split and jurisdiction."""
    rows = []
    for name, ts in data.tasks.items():
        for s in SPLITS:
            c = Counter(e.jurisdiction for e in ts.splits[s])
            rows.append({"task": name, "split": s, **{j: c.get(j, 0) for j in JURISDICTIONS},
                         "total": len(ts.splits[s])})
    return pd.DataFrame(rows).set_index(["task", "split"])


def duplicate_summary(data: LegalData) -> dict:
    """How many near-duplicate pairs and groups, and how many join different jurisdictions."""
    jur = {a.id: a.jurisdiction for a in data.articles}
    multi = [m for m in data.groups.members().values() if len(m) > 1]
    cross_pairs = [p for p in data.groups.pairs if jur[p[0]] != jur[p[1]]]
    leaks = sum(1 for a, b, _ in data.groups.pairs if data.split[a] != data.split[b])
    return {"articles in force": len(data.split), "near-duplicate pairs": len(data.groups.pairs),
            "cross-jurisdiction pairs": len(cross_pairs), "groups with >1 article": len(multi),
            "largest group": max((len(m) for m in multi), default=1),
            "pairs split across train/val/test": leaks, "Jaccard threshold": data.groups.threshold}


def topic_table(data: LegalData):
    current = in_force(data.articles)
    c = Counter((a.jurisdiction, topic_of(a.heading_path) or "(no topic)") for a in current)
    rows = sorted({t for _, t in c})
    return pd.DataFrame({j: [c.get((j, t), 0) for t in rows] for j in JURISDICTIONS}, index=rows)


# ---------------------------------------------------------------- the sample shown in the book

def sample(data: LegalData, per_task: int = 3, seed: int = 0) -> list[Example]:
    """A fixed, seeded sample of test examples of each task (the sample shown and checked by hand)."""
    rng = np.random.default_rng(seed)
    position = {a.id: k for k, a in enumerate(data.articles)}
    out = []
    for name, ts in data.tasks.items():
        pool = sorted(ts.splits["test"], key=lambda e: position[e.article_id])  # file order, not shuffled
        out += [pool[int(i)] for i in sorted(rng.choice(len(pool), size=min(per_task, len(pool)), replace=False))]
    return out


def sample_table(data: LegalData, per_task: int = 3, seed: int = 0, checked: dict | None = None):
    """The sample with its article, prompt text and answer; ``checked`` maps example keys
    ("task/article id") to the note of the person who checked it against the statute."""
    checked = checked if checked is not None else HAND_CHECKED
    rows = []
    for e in sample(data, per_task, seed):
        key = f"{e.task}/{e.article_id}"
        rows.append({"task": e.task, "article": e.article_id, "prompt": e.prompt, "answer": e.label,
                     "hand check": checked.get(key, "not checked")})
    return pd.DataFrame(rows).set_index(["task", "article"])


# Notes from reading each sampled example against its article in data/legal/articles.jsonl (task built
# with split_seed 0, max_words 40). An example whose key is not here shows "not checked".
HAND_CHECKED: dict[str, str] = {
    "jurisdiction/AR-LEY-19550-art-227": "correct: Ley 19.550 art. 227 (bonos de goce y de participación); the "
                                         "lower-case 'se' after the full stop is in the source",
    "jurisdiction/UY-UY-ley-16060-art-107": "correct: Ley 16.060 art. 107 (publication of a transformation)",
    "jurisdiction/UY-UY-ley-16060-art-391": "correct: Ley 16.060 art. 391 (directors' joint liability); the prompt "
                                            "is cut at max_words, marked by '…'",
    "topic/ES-BOE-A-2010-10544-art-20": "correct: under 'La constitución de las sociedades de capital' -> formation. "
                                        "An earlier rule set read 'sociedades de capital' as capital; fixed",
    "topic/ES-BOE-A-2010-10544-art-65": "correct: contribution of a credit right, under 'Aportaciones dinerarias y "
                                        "no dinerarias' -> capital and shares",
    "topic/ES-BOE-A-2010-10544-art-108": "correct by the heading (transfer of participaciones -> capital and shares); "
                                         "the article is about statutory clauses, a reader might also say members",
    "cloze/AR-LEY-19550-art-197": "correct: 'La asamblea extraordinaria, con las mayorías del ... artículo 244'",
    "cloze/UY-UY-ley-16060-art-112": "correct: transformation resolved 'por la unanimidad de los socios'",
    "cloze/CL-CL-29473-art-68": "correct: shares unclaimed 'durante un plazo superior a 5 años'",
}
