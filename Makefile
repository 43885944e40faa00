# The course's two commands:
#   make        install, generate the student notebooks, build the website
#   make test   the same, then the linter and the whole test suite (what CI runs)
# Everything a fresh machine needs is installed from here.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
NBGRADER_CONFIG := autograder/nbgrader_config.py
ASSIGNMENTS := $(notdir $(patsubst %/,%,$(wildcard solutions/*/)))
STAMPS := _build/stamps

.PHONY: all install exercises site publish test system-deps lock clean
.DELETE_ON_ERROR:

all: site
	@echo
	@echo "The course website is built. Open: file://$(CURDIR)/_build/html/index.html"

install: $(STAMPS)/installed

$(STAMPS)/installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@mkdir -p $(STAMPS) && touch $@

# Student versions: nbgrader strips solutions and hidden tests from solutions/.
exercises: $(STAMPS)/exercises

$(STAMPS)/exercises: $(STAMPS)/installed $(NBGRADER_CONFIG) $(wildcard solutions/*/*)
	@for a in $(ASSIGNMENTS); do \
	  echo "generate_assignment $$a"; \
	  $(BIN)/nbgrader generate_assignment $$a --force --no-db --NbGrader.config_file=$(CURDIR)/$(basename $(NBGRADER_CONFIG)) --log-level=WARN || exit 1; \
	done
	@touch $@

# -W turns a failing notebook cell (only a warning to Sphinx) into a failed build.
site: $(STAMPS)/exercises $(STAMPS)/toc
	$(BIN)/jupyter-book build . -W -n --keep-going

# The student edition in _build/student, for the public repository (README, "The two editions");
# REVEAL="ex1_rnn_basics ex2_vanishing_gradients" ships those assignments' solutions.
REVEAL ?=
publish: site
	rm -rf _build/student
	$(BIN)/autograder publish _build/student $(foreach a,$(REVEAL),--reveal $(a))

# Sphinx keeps pages that left the table of contents: start the HTML afresh when
# it changes (executed notebooks stay cached in _build/.jupyter_cache).
$(STAMPS)/toc: _toc.yml _config.yml
	rm -rf _build/html _build/.doctrees
	@mkdir -p $(STAMPS) && touch $@

# Browser tests drive Debian's chromium; the sandbox of the grader is bubblewrap;
# the gradebook tests start a PostgreSQL server of their own (initdb, pg_ctl).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "Please install:$$missing (apt-get install$$missing)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# As root (CI), the sandbox's tests run a second time as an ordinary user: the grader without root.
test: site system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
	if [ "$$(id -u)" = 0 ]; then $(BIN)/python -m tests.support.unprivileged; fi

# Re-pin every package after editing requirements.in.
lock:
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install --quiet -r requirements.in
	_build/lockenv/bin/pip freeze --all --exclude-editable | grep -v -E '^(pip|setuptools)==' > requirements.lock
	rm -rf _build/lockenv

clean:
	rm -rf _build
