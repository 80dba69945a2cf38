"""The publishing machinery, apart from the science: executing a page under a profile (``runner``), building the
book and deciding what is stale (``book``, ``status``), the run record (``provenance``), validated parameters
(``params``), a chapter's start and finish (``chapter``), offline figures (``plots``), the reproducibility
appendix (``reproducibility``) and folding long outputs (``pagefold``). It imports no part of the book."""
