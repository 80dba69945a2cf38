# The two commands of the README. Each does all its own set-up and is idempotent (a second run is fast).
#   make book   build the book on the embedded defaults -> book/_build/html/index.html
#   make test   run the whole test suite (unit and integration tests, nbval over notebooks/, browser check)
#   make unit   the fast tier only (tests/unit, not marked slow): under a minute, no model and no assets
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)

.PHONY: book test unit setup assets browser clean-book

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	rm -f .venv/.installed-*; touch $@

setup: $(STAMP)

assets: setup
	$(PY) -m lab assets fetch --all

browser:
	@command -v chromium > /dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; fi; }

book: assets
	$(PY) -m lab book

test: assets browser
	$(PY) -m lab book --no-execute
	$(PY) -m pytest

unit: setup
	$(PY) -m pytest tests/unit -m "not slow" -q

clean-book:
	rm -rf book/_build
