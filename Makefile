# vidgen: the two commands a new user needs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: install test demo lint bench clean gpu-train

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

# The default transformer's training on a lent GPU machine, in one call of under 10 minutes
# (models/default/model_card.md, "On a lent GPU"). Only 64 MiB travel there and nothing can be
# installed, so first, here: `.venv/bin/python -m vidgen.models.text_pack .minilm` (the text
# encoder, 13 MB; carried as .minilm). There: a 3-step run on 3 clips fails fast if anything
# is wrong; one process per core renders and encodes the latent cache (sharing the GPU); the
# transformer trains from the shipped weights for what is left of GPU_MINUTES; its EMA weights
# come back under $(OUT) in 15 MB parts (`cat dit.safetensors.part* > dit.safetensors`) with
# the log. GPU_SET adds --set overrides to every run.
GPU_MINUTES ?= 9
GPU_PY ?= python3
GPU_SET ?=
GPU_RUN ?= runs/gpu
gpu-train:
	@test -n "$(OUT)" || { echo "OUT: the folder the weights go to is not set"; exit 1; }
	@test -f .minilm/model.safetensors || { echo ".minilm: run python -m vidgen.models.text_pack .minilm first"; exit 1; }
	@start=$$(date +%s); set -e; \
	export VIDGEN_MINILM=.minilm PYTHONPATH=.:$$PYTHONPATH PYTHONUNBUFFERED=1; \
	train="-m vidgen.studio.cli train dit --config configs/dit_gpu.yaml --out $(GPU_RUN) $(GPU_SET)"; \
	$(GPU_PY) -m vidgen.studio.cli train dit --config configs/dit_gpu.yaml $(GPU_SET) \
	  --set cache=/tmp/vidgen-smoke --set cache_clips=3 --set compile=false --set decay=0 \
	  --set warmup=1 --steps 3 --out /tmp/vidgen-smoke-run; \
	echo "smoke run (3 clips, 3 steps) done in $$(( $$(date +%s) - start )) s"; \
	$(GPU_PY) -m torch.distributed.run --standalone --nproc_per_node $$(nproc) $$train --cache-only; \
	left=$$($(GPU_PY) -c "print(round(($(GPU_MINUTES) * 60 - $$(date +%s) + $$start) / 60, 2))"); \
	echo "cache built in $$(( $$(date +%s) - start )) s; $$left minutes left to train"; \
	$(GPU_PY) $$train --set minutes=$$left; \
	$(GPU_PY) -m vidgen.studio.cli export --vae models/default/vae.safetensors \
	  --dit $(GPU_RUN)/dit.safetensors -o $(GPU_RUN)/model; \
	split -b 15M -d $(GPU_RUN)/model/dit.safetensors $(OUT)/dit.safetensors.part; \
	cp $(GPU_RUN)/log.jsonl $(OUT)/; ls -l $(OUT)
