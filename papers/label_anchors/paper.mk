# Label Words are Anchors (Wang et al., EMNLP 2023): see papers/label_anchors/README.md.
# `make label-anchors`: all six analyses on SmolLM2-135M (offline), seed 42, at CPU scale (SST-2:
# 200 test examples; TREC, whose 6-class prompts are 3x longer: 100, 10 random-top draws), one
# thread (with two, an SST-2 ICL forward took 1.08 s beside another job, 0.12 s in the demo),
# then the paper | ours tables;
# `make label-anchors-paper`: GPT2-XL, 1000 test examples, four tasks, seeds 42-46 (downloads the
# model; a GPU machine); `make label-anchors-report`: the tables of the runs under runs/label_anchors;
# `make label-anchors-bench`: hooked vs eager vs sdpa attention, and compression's speed-up.
LABEL_ANCHORS_RUNS ?= runs/label_anchors
LABEL_ANCHORS_RUN = $(RUN) -m progress=false paths.runs=$(LABEL_ANCHORS_RUNS) $(ARGS)

.PHONY: label-anchors label-anchors-smoke label-anchors-demo label-anchors-paper \
	label-anchors-report label-anchors-bench

label-anchors: $(SETUP)
	$(LABEL_ANCHORS_RUN) experiment=label_anchors/all data=sst2 threads=1
	$(LABEL_ANCHORS_RUN) experiment=label_anchors/all data=trec threads=1 task.icl.test_size=100 \
	  task.compression.trials=10
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
