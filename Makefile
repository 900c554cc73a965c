# Quick start: `make demo` (set up, build the default model, score the samples) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/default/model.json
TRAIN_DATA := data_samples/train.parquet
SAMPLE := data_samples/sample.jsonl

.PHONY: demo test lint typecheck model install benchmark clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,transformer,spark]'
	touch $(STAMP)

model: $(MODEL)

$(MODEL): $(STAMP) $(TRAIN_DATA)
	$(BIN)/riskline train --data $(TRAIN_DATA) --out models/default

demo: $(MODEL)
	@mkdir -p out
	$(BIN)/riskline score $(SAMPLE) -o out/demo_scores.jsonl --show 10
	@echo "Results: out/demo_scores.jsonl (one row per conversation). Next: see README.md."

lint: $(STAMP)
	$(BIN)/ruff check detection training tests benchmarks notebooks

typecheck: $(STAMP)
	$(BIN)/mypy detection training

# the suite in two processes (pytest-xdist): much of it waits on servers, Spark and the broker; tests
# that share a costly module fixture (tests/conftest.py, ONE_WORKER) run on one worker (loadgroup)
TEST_WORKERS ?= 2

test: $(STAMP) $(MODEL) lint typecheck
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

benchmark: $(MODEL)
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/service.py

clean:
	rm -rf $(VENV) models out mlruns mlflow.db
