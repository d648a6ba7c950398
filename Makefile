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

# Generate a video with the shipped default model (models/default); while no default model
# has been trained yet, render a captioned world clip and score it with WorldBench instead.
demo: install
	mkdir -p out
	@if [ -f models/default/dit.safetensors ]; then \
	  $(BIN)/vidgen generate "a red ball bounces on a checkerboard floor, the camera pans left" \
	    -o out/demo.mp4 --seconds 2 --seed 0 && echo "video: out/demo.mp4 (recipe: out/demo.json)"; \
	else \
	  $(BIN)/vidgen world sample --n 4 -o out/world --size 128x128 --frames 17 --fps 8 && \
	  $(BIN)/vidgen eval --videos out/world -o out/world_report.json --sheet out/world_sheet.png && \
	  echo "no default model yet: world clips in out/world/, report out/world_report.json"; \
	fi
