# The two commands a new user needs: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# torch 2.13.0 is the CPU build this project tests with; on a machine without a GPU it is installed first so
# that the torch range in pyproject.toml is already satisfied and pip never pulls a multi-GB CUDA build.
TORCH_CPU := torch==2.13.0

.PHONY: demo test lint bench bench-tracker bench-read bench-tensorboard bench-app bench-tree bench-diff \
	bench-compare bench-compare-screen bench-archive bench-du bench-tb-follow bench-follow-tb-app bench-lines-follow \
	bench-wandb-follow bench-leet soak-moves clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	@if $(BIN)/python -c "import torch" 2>/dev/null; then :; \
	elif command -v nvidia-smi >/dev/null 2>&1; then echo "GPU found: torch comes from pyproject.toml"; \
	else $(PIP) install --quiet "$(TORCH_CPU)"; fi
	@touch $@

$(VENV)/.demo: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[demo]"
	@touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[dev,demo,png]"
	@touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(BIN)/python -m demo

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

bench: bench-tracker bench-read bench-tensorboard bench-app bench-tree bench-diff bench-compare \
	bench-compare-screen bench-archive bench-du bench-tb-follow bench-follow-tb-app bench-lines-follow \
	bench-wandb-follow bench-leet soak-moves

bench-tracker: $(VENV)/.dev
	$(BIN)/python bench/bench_log.py

bench-read: $(VENV)/.dev
	$(BIN)/python bench/bench_read.py

bench-tensorboard: $(VENV)/.dev
	$(BIN)/python bench/bench_tensorboard.py

bench-tb-follow: $(VENV)/.dev
	$(BIN)/python bench/bench_tb_follow.py

bench-follow-tb-app: $(VENV)/.dev
	$(BIN)/python bench/bench_follow_tb_app.py

bench-lines-follow: $(VENV)/.dev
	$(BIN)/python bench/bench_lines_follow.py

bench-wandb-follow: $(VENV)/.dev
	$(BIN)/python bench/bench_wandb_follow.py

# runyard's app against `wandb beta leet` on the same W&B offline runs, in tmux (skips without tmux or wandb)
bench-leet: $(VENV)/.dev
	$(BIN)/python bench/bench_leet.py

bench-app: $(VENV)/.dev
	$(BIN)/python bench/bench_app.py

bench-tree: $(VENV)/.dev
	$(BIN)/python bench/bench_tree.py

bench-diff: $(VENV)/.dev
	$(BIN)/python bench/bench_diff.py

bench-compare-screen: $(VENV)/.dev
	$(BIN)/python bench/bench_compare_screen.py

bench-compare: $(VENV)/.dev
	$(BIN)/python bench/bench_compare.py

bench-archive: $(VENV)/.dev
	$(BIN)/python bench/bench_archive.py

bench-du: $(VENV)/.dev
	$(BIN)/python bench/bench_du.py

# kill -9 at every point of every operation that moves runs (minutes: not part of `make test`)
soak-moves: $(VENV)/.dev
	$(BIN)/python bench/soak_moves.py

clean-venv:
	rm -rf $(VENV)
