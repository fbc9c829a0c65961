# The course's commands. `make book` and `make test` each do the whole set-up first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
APT_PACKAGES := chromium chromium-driver bubblewrap
INSTALLED := $(VENV)/.installed
SUBMISSIONS ?= submitted
GRADE_FLAGS ?=
PYTEST_FLAGS ?=
PORT ?= 8000

.PHONY: setup system-packages book wheel serve test test-fast bench release grade feedback clean

setup: system-packages $(INSTALLED)

# Debian packages: a browser for the website tests, bubblewrap for the grading sandbox,
# npm for the website's scripts (MathJax, the widget manager), unless npm is already there.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# Python packages, pinned by constraints.txt so the course builds the same next year: the
# student distribution (lectlib, student/pyproject.toml) and the instructor distribution
# (autograder, Jupyter Book, nbgrader, test tools; pyproject.toml), both editable.
$(INSTALLED): pyproject.toml student/pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; the course needs Python 3.11 (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -e ./student -e ".[test]"
	touch $@

# The build also makes the student package (a wheel, book_support/student_notebooks.py)
# and serves it at the site's root, linked from the intro and the homework page.
book: setup release
	$(PY) book_support/vendor.py
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo; echo "The website is in _build/html: open _build/html/index.html, or run 'make serve' and visit http://localhost:$(PORT)/"

# The student package alone, into dist/ (the same wheel the website serves).
wheel: setup
	$(PY) book_support/student_notebooks.py dist

# The website on localhost, sending the gzip copies the build writes beside each text
# file, as a static host with precompressed files does (book_support/serve.py).
serve:
	@test -f _build/html/index.html || { echo "error: no website yet; run 'make book' first"; exit 1; }
	$(PY) book_support/serve.py --port $(PORT) _build/html

test: setup
	$(BIN)/pytest $(PYTEST_FLAGS)

# Bytes a chapter's first visit moves, before and after compression (needs a built site).
.PHONY: bench-site
bench-site: setup
	$(PY) bench/site.py --site _build/html

# The quick tier: every test not marked slow (no book build, browser, end-to-end grading or
# student venv); about a minute. `make test` runs these and the slow ones. Either takes
# PYTEST_FLAGS, e.g. "-n 2" for two xdist workers (tests/conftest.py keeps modules whole).
test-fast: setup
	$(BIN)/pytest -m "not slow" $(PYTEST_FLAGS)

bench: setup
	$(PY) bench/scans.py
	$(PY) bench/book.py
	$(PY) bench/grading.py
	$(PY) bench/class_report.py

# Instructors: the student versions into release/, then grades and feedback.
release: setup
	$(BIN)/autograder release

grade: setup
	$(BIN)/autograder grade $(SUBMISSIONS) $(GRADE_FLAGS)

feedback: setup
	$(BIN)/autograder feedback

clean:
	rm -rf _build release autograded feedback gradebook.db grades.csv .autograder .exchange dist student/build
