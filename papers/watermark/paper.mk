# Codable watermarking (Wang et al., ICLR 2024): see papers/watermark/README.md.
# `make watermark`: embed -> attack -> decode -> quality for Balance- and Vanilla-Marking (and
# KGW) on SmolLM2-135M at CPU scale (10 Reuters prompts, 200 new tokens, 4 beams; ~40 min), then
# the tables; `make watermark-paper`: OPT-1.3B + GPT-2 proxy on C4 (downloads; a GPU machine);
# `make watermark-report`: the tables of the runs under runs/watermark;
# `make watermark-bench`: decoding (vectorised vs per-message loop, L = 8..20) and generation
# overhead (proxy = generator, reused forward pass, another proxy).
WATERMARK_RUNS ?= runs/watermark
WATERMARK_RUN = $(RUN) progress=false paths.runs=$(WATERMARK_RUNS) $(ARGS)

.PHONY: watermark watermark-smoke watermark-demo watermark-paper watermark-report watermark-bench

watermark: $(SETUP) models-large
	$(WATERMARK_RUN) experiment=watermark/all
	$(MAKE) watermark-report

watermark-smoke: $(SETUP)
	$(RUN) experiment=watermark/smoke $(ARGS)

watermark-demo: $(SETUP) models-large
	$(RUN) experiment=watermark/demo $(ARGS)

watermark-paper: $(SETUP)
	$(WATERMARK_RUN) experiment=watermark/paper
	$(MAKE) watermark-report

watermark-report: $(SETUP)
	$(PY) -m papers.watermark.report $(WATERMARK_RUNS)

watermark-bench: $(SETUP)
	$(PY) scripts/bench_watermark.py $(ARGS)
