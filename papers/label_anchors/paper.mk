# Label Words are Anchors (Wang et al., EMNLP 2023): see papers/label_anchors/README.md.
# `make label-anchors`: all six analyses on SmolLM2-135M (offline) for SST-2 and TREC at CPU
# scale (200 test examples, seed 42), then the paper | ours tables;
# `make label-anchors-paper`: GPT2-XL, 1000 test examples, four tasks, seeds 42-46 (downloads the
# model; a GPU machine); `make label-anchors-report`: the tables of the runs under runs/label_anchors;
# `make label-anchors-bench`: hooked vs eager vs sdpa attention, and compression's speed-up.
LABEL_ANCHORS_RUNS ?= runs/label_anchors
LABEL_ANCHORS_RUN = $(RUN) -m progress=false paths.runs=$(LABEL_ANCHORS_RUNS) $(ARGS)

.PHONY: label-anchors label-anchors-smoke label-anchors-demo label-anchors-paper \
	label-anchors-report label-anchors-bench

label-anchors: $(SETUP)
	$(LABEL_ANCHORS_RUN) experiment=label_anchors/all data=sst2,trec
	$(MAKE) label-anchors-report

label-anchors-smoke: $(SETUP)
	$(RUN) experiment=label_anchors/smoke $(ARGS)

label-anchors-demo: $(SETUP)
	$(RUN) experiment=label_anchors/demo $(ARGS)

label-anchors-paper: $(SETUP)
	$(LABEL_ANCHORS_RUN) experiment=label_anchors/all model=gpt2-xl task.icl.test_size=1000 \
	  task.icl.max_length=1024 data=sst2,trec,ag_news,emo seed=42,43,44,45,46
	$(MAKE) label-anchors-report

label-anchors-report: $(SETUP)
	$(PY) -m papers.label_anchors.report $(LABEL_ANCHORS_RUNS)

label-anchors-bench: $(SETUP)
	$(PY) scripts/bench_label_anchors.py $(ARGS)
