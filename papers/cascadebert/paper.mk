# CascadeBERT (Li et al., Findings of EMNLP 2021): see papers/cascadebert/README.md.
# `make cascadebert`: the cascade (MiniLM 1L -> 6L, DAR), DeeBERT and PABEE on SST-2 and MRPC at
# CPU scale, then the paper | ours tables; `make cascadebert-large`: the issue's MiniLM-L6 ->
# MPNet-base pair (needs `make models-large`; hours on a CPU); `make cascadebert-paper`: BERT-2L ->
# BERT-base, full GLUE training sets, 5 epochs (downloads the models; a GPU machine);
# `make cascadebert-report`: the tables of the runs under runs/cascadebert;
# `make cascadebert-bench`: measured vs counted speed-up of the cascade and the early exits.
CASCADEBERT_RUNS ?= runs/cascadebert
CASCADEBERT_RUN = $(RUN) -m progress=false paths.runs=$(CASCADEBERT_RUNS) $(ARGS)

.PHONY: cascadebert cascadebert-smoke cascadebert-demo cascadebert-large cascadebert-paper \
	cascadebert-report cascadebert-bench

cascadebert: $(SETUP)
	$(CASCADEBERT_RUN) experiment=cascadebert/glue data=sst2,mrpc
	$(MAKE) cascadebert-report

cascadebert-smoke: $(SETUP)
	$(RUN) experiment=cascadebert/smoke $(ARGS)

cascadebert-demo: $(SETUP)
	$(RUN) experiment=cascadebert/demo $(ARGS)

cascadebert-large: $(SETUP) models-large
	$(CASCADEBERT_RUN) experiment=cascadebert/glue task.large.model=mpnet-base \
	  task.small.layers=null data=sst2,mrpc

cascadebert-paper: $(SETUP)
	$(CASCADEBERT_RUN) experiment=cascadebert/glue task.small.model=bert-uncased-l2-h768 \
	  task.small.layers=null task.large.model=bert-base-uncased task.train_size=null \
	  task.pooling=cls optim.lr=2e-5 \
	  trainer.max_epochs=5 data=sst2,mrpc,rte,qnli seed=1234
	$(MAKE) cascadebert-report

cascadebert-report: $(SETUP)
	$(PY) -m papers.cascadebert.report $(CASCADEBERT_RUNS)

cascadebert-bench: $(SETUP)
	$(PY) scripts/bench_cascadebert.py $(ARGS)
