"""The package's layout holds: no import circles, the publishing machinery imports no part, and a part imports
only the shared rooms, itself, and what CONTRIBUTING.md allows (imports inside functions count too)."""
import nbformat

from lab.publish import runner

LAB = runner.REPO / "lab"
SHARED = {"lab", "lab.paths", "lab.atomic", "lab.inference", "lab.models", "lab.models.assets", "lab.gpt", "lab.train",
          "lab.corpus", "lab.extraction", "lab.steps", "lab.cpu", "lab.verdicts"}
PARTS = ("lab.dynamics", "lab.memorization", "lab.infinito", "lab.legal", "lab.ledger")
# memorization is a chapter of Part I, and its ladder trains with Part II's CosineTrainer (lab.infinito.runs: moving
# it into lab.train would change the source Part II's run steps are keyed by, and re-train them); the ledger reads
# the legal plan's thresholds (lab.legal.criteria, through the package lab.legal that holds it)
ALLOWED = {"lab.memorization": ("lab.dynamics", "lab.infinito"), "lab.ledger": ("lab.legal",)}


def _graph() -> dict[str, set[str]]:
    files = {}
    for f in LAB.rglob("*.py"):
        parts = f.relative_to(runner.REPO).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph = {}
    for module, f in files.items():
        package = module if f.name == "__init__.py" else module.rsplit(".", 1)[0]
        found = runner._lab_imports(f.read_text(), current_package=package)
        graph[module] = {m if m in files else m.rsplit(".", 1)[0] for m in found} & set(files) - {module}
    return graph


def _reach(graph, start):
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def _room(module: str) -> str | None:
    return next((p for p in PARTS if module == p or module.startswith(p + ".")), None)


def circles(graph) -> list[tuple[str, str]]:
    return sorted({tuple(sorted((a, b))) for a in graph for b in _reach(graph, a) if a != b and a in _reach(graph, b)})


def crossings(graph) -> dict[str, list[str]]:
    """Imports of a part's module that are neither shared rooms, the machinery, its own part nor allowed."""
    bad = {}
    for module, deps in graph.items():
        room = _room(module)
        if room is None:
            continue
        allowed = ALLOWED.get(room, ())
        wrong = [d for d in deps if not (d in SHARED or d.startswith("lab.publish") or _room(d) == room
                                         or any(d == a or d.startswith(a + ".") for a in allowed))]
        if wrong:
            bad[module] = sorted(wrong)
    return bad


def machinery_importing_parts(graph) -> dict[str, list[str]]:
    return {m: sorted(d for d in deps if _room(d)) for m, deps in graph.items()
            if m.startswith("lab.publish") and any(_room(d) for d in deps)}


def test_no_import_circles():
    assert not circles(_graph()), "modules importing each other (through any path)"


def test_the_publishing_machinery_imports_no_part():
    assert not machinery_importing_parts(_graph())


def test_parts_import_only_shared_rooms_themselves_and_what_is_allowed():
    assert not crossings(_graph()), "imports across rooms not in CONTRIBUTING.md's layout"


def test_the_checks_see_a_circle_and_a_crossing():
    """Each check fails on a graph that breaks its rule (a check that cannot fail proves nothing)."""
    graph = {"lab.infinito.chapter": {"lab.legal.lora", "lab.gpt"}, "lab.legal.lora": {"lab.infinito.chapter"},
             "lab.publish.book": {"lab.ledger"}, "lab.gpt": set(), "lab.ledger": set()}
    assert circles(graph) == [("lab.infinito.chapter", "lab.legal.lora")]
    assert crossings(graph) == {"lab.infinito.chapter": ["lab.legal.lora"], "lab.legal.lora": ["lab.infinito.chapter"]}
    assert machinery_importing_parts(graph) == {"lab.publish.book": ["lab.ledger"]}


# What a page may import of lab. A page built on run steps shows its experiment: it calls the functions of its
# part's modules (any of them, one part), the shared rooms and the machinery. A page not yet converted imports ONE
# module of its part (its chapter.py or page module), the machinery and the weights' record (CONTRIBUTING.md).
PAGE_MODULES = {"lab.models.chapter", "lab.infinito.chapter",
                "lab.infinito.postmortem", "lab.infinito.expectations", "lab.ledger"}


def page_imports(code: str, modules: set[str]) -> set[str]:
    """The modules of lab that a page's code imports, each named once (``from lab import x``: lab.x, not lab)."""
    found = {m for m in runner._lab_imports(code) if m in modules}
    return {m for m in found if not any(o.startswith(m + ".") for o in found)}


def page_violations(code: str, modules: set[str], run_steps: bool = False) -> list[str]:
    imported = page_imports(code, modules) - {"lab.models"}
    science = sorted(m for m in imported if not m.startswith("lab.publish"))
    if run_steps:
        rooms = {_room(m) for m in science} - {None}
        return science if len(rooms) > 1 else []
    if len(science) > 1 or set(science) - PAGE_MODULES:
        return science
    return []


def _notebook(path):
    return nbformat.read(path, as_version=4)


def _notebook_code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_each_page_imports_its_part_only():
    modules = set(_graph())
    bad = {}
    for path in sorted((runner.REPO / "notebooks").glob("*.ipynb")):
        nb = _notebook(path)
        if v := page_violations(_notebook_code(nb), modules, bool(nb.metadata.get("run_steps"))):
            bad[path.stem] = v
    assert not bad, "pages importing another part (or, not yet on run steps, more than their chapter module)"


def test_the_page_check_sees_a_second_module_and_a_second_part():
    modules = set(_graph())
    good = "from lab.publish import chapter, plots\nfrom lab.infinito import chapter as nb\nfrom lab import models\n"
    assert page_violations(good, modules) == []
    assert page_violations(good + "from lab.infinito import model\n", modules) == ["lab.infinito.chapter",
                                                                                    "lab.infinito.model"]
    assert page_violations("from lab import inference\n", modules) == ["lab.inference"]
    shows = "from lab.legal import lora, evaluate\nfrom lab import steps, inference\nfrom lab.publish import plots\n"
    assert page_violations(shows, modules, run_steps=True) == []
    assert page_violations(shows + "from lab.infinito import model\n", modules, run_steps=True) == [
        "lab.inference", "lab.infinito.model", "lab.legal.evaluate", "lab.legal.lora", "lab.steps"]


# Modules still over the limit, each with the reason it waits: a page not yet on run steps re-runs whole when a
# file of its imports changes, so its module is split when the page is converted.
LONG_UNTIL_CONVERTED: dict[str, str] = {}
MAX_MODULE_LINES = 600


def test_no_module_of_lab_is_over_600_lines():
    long = {str(f.relative_to(runner.REPO)): n for f in LAB.rglob("*.py")
            if (n := len(f.read_text().splitlines())) > MAX_MODULE_LINES}
    assert set(long) <= set(LONG_UNTIL_CONVERTED), {k: v for k, v in long.items() if k not in LONG_UNTIL_CONVERTED}
