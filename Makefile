# vidgen: the two commands a new user needs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: install test demo lint bench clean

# Creates .venv and installs vidgen with everything it needs; torch first, so that no other
# requirement can pull a CUDA build. Safe to run again.
install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

test: install
	$(BIN)/ruff check vidgen tests bench
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check vidgen tests bench
	$(BIN)/ruff format --check vidgen tests bench

bench: install
	$(BIN)/python bench/world_speed.py

clean:
	rm -rf $(VENV) out

# Until the engine lands: render a captioned world clip and score it with WorldBench.
demo: install
	mkdir -p out
	$(BIN)/vidgen world sample --n 4 -o out/world --size 128x128 --frames 17 --fps 8
	$(BIN)/vidgen eval --videos out/world -o out/world_report.json --sheet out/world_sheet.png
	@echo "videos in out/world/, report in out/world_report.json, contact sheet out/world_sheet.png"
