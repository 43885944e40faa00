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

.PHONY: all install exercises site publish instructor test system-deps lock clean
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

# Assignments whose solutions are revealed, after their due dates (README, "The two editions"):
# the student edition ships their reference, and the website lists ex5_lstm_backward, whose given
# code is ex3's forward step, once ex3_lstm_gates is one of them. The tests read it too.
REVEAL ?=
export REVEAL
SITE_TOC := $(if $(filter ex3_lstm_gates,$(REVEAL)),_build/toc_revealed.yml,_toc.yml)

# -W turns a failing notebook cell (only a warning to Sphinx) into a failed build.
# Sphinx keeps pages that left the table of contents: start the HTML afresh when the table or the
# configuration changes (executed notebooks stay cached in _build/.jupyter_cache).
site: $(STAMPS)/exercises $(SITE_TOC)
	@mkdir -p $(STAMPS)
	@if [ "$$(cat $(STAMPS)/toc 2>/dev/null)" != "$$(cat $(SITE_TOC) _config.yml | md5sum)" ]; then \
	  rm -rf _build/html _build/.doctrees; cat $(SITE_TOC) _config.yml | md5sum > $(STAMPS)/toc; fi
	$(BIN)/jupyter-book build . -W -n --keep-going --toc $(SITE_TOC)

_build/toc_revealed.yml: _toc.yml
	@mkdir -p _build
	sed 's|^\( *\)- file: exercises/ex4_keras_lstm/ex4_keras_lstm$$|&\n\1- file: exercises/ex5_lstm_backward/ex5_lstm_backward|' $< > $@

# The student edition in _build/student, for the public repository: the website as built above and
# the reference of the REVEAL assignments.
publish: site
	rm -rf _build/student
	$(BIN)/autograder publish _build/student $(foreach a,$(REVEAL),--reveal $(a))

# The instructor website, for teaching assistants (never deployed): solutions and hidden tests next
# to the student version of every exercise, and the rubric of the answers graded by hand.
instructor: $(STAMPS)/exercises
	rm -rf _build/instructor
	$(BIN)/python -m autograder.pipeline.instructor_site _build/instructor
	$(BIN)/jupyter-book build _build/instructor -W -n --keep-going
	@echo "The instructor website is built. Open: file://$(CURDIR)/_build/instructor/_build/html/index.html"

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
