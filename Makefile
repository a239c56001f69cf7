# Two commands do everything: `make run` (the main job) and `make test` (the test suite).
# Each creates .venv and installs the project on first use; later runs reuse it and only
# reinstall when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
STAMP  := $(VENV)/.installed
TK     := $(VENV)/bin/tk

.PHONY: run test lint setup clean-venv report-screenshot

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@rm -rf *.egg-info  # a stale one beside the sources would hide new entry points
	$(VENV)/bin/python -m pip install --quiet --upgrade "pip>=23.2" "setuptools>=68" wheel
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(TK) run

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2  # two test processes (pytest-xdist), one torch thread each

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# docs/report.png, the README's picture of a run's report: the browser test's screenshot
# (needs Chromium: apt-get install chromium).
report-screenshot: $(STAMP)
	TOOLKIT_REPORT_SCREENSHOT=$(CURDIR)/docs/report.png $(VENV)/bin/python -m pytest -q \
		tests/report/test_browser.py -k screenshot

clean-venv:
	rm -rf $(VENV)
