# Fine-purifying (Zhang et al., Findings of ACL 2023): see papers/fine_purifying/README.md.
# `make fine-purifying`: BadWord and BadSent on SST-2 and AG News against every defence, with the
# rho and clean-set-size curves, on MiniLM-L6 at CPU scale, then the tables;
# `make fine-purifying-paper`: BERT-base, the paper's four datasets (downloads; a GPU machine);
# `make fine-purifying-report`: the tables of the runs under runs/fine_purifying;
# `make fine-purifying-bench`: the clean curvature by torch.func vs a per-example loop.
FINE_PURIFYING_RUNS ?= runs/fine_purifying
FINE_PURIFYING_RUN = $(RUN) -m progress=false paths.runs=$(FINE_PURIFYING_RUNS) $(ARGS)
AG_NEWS_SPLITS := data=ag_news task.train_split=test task.eval_split=test task.eval_size=1600

.PHONY: fine-purifying fine-purifying-smoke fine-purifying-demo fine-purifying-paper \
	fine-purifying-report fine-purifying-bench fine-purifying-eps

fine-purifying: $(SETUP)
	$(FINE_PURIFYING_RUN) experiment=fine_purifying/badword data=sst2
	$(FINE_PURIFYING_RUN) experiment=fine_purifying/badsent data=sst2
	$(FINE_PURIFYING_RUN) experiment=fine_purifying/badword $(AG_NEWS_SPLITS)
	$(FINE_PURIFYING_RUN) experiment=fine_purifying/badsent $(AG_NEWS_SPLITS)
	$(MAKE) fine-purifying-report
	$(MAKE) fine-purifying-eps

# The curvature floor of the indicator (delta^2 / (H + eps * mean H)) on the demo's attack.
fine-purifying-eps: $(SETUP)
	$(RUN) -m progress=false paths.runs=runs/fine_purifying_eps experiment=fine_purifying/demo \
	  'task.defences=[fine_purifying]' task.defence.eps=1e-8,1e-4,1e-2,1
	$(PY) scripts/compare.py runs/fine_purifying_eps

fine-purifying-smoke: $(SETUP)
	$(RUN) experiment=fine_purifying/smoke $(ARGS)

fine-purifying-demo: $(SETUP)
	$(RUN) experiment=fine_purifying/demo $(ARGS)

fine-purifying-paper: $(SETUP)
	for e in badword badsent; do \
	  $(FINE_PURIFYING_RUN) experiment=fine_purifying/$$e model=bert-base-uncased \
	    data=ag_news,imdb task.train_size=null task.eval_split=test \
	    task.defence.clean_size=1000 seed=42,43,44 && \
	  $(FINE_PURIFYING_RUN) experiment=fine_purifying/$$e model=bert-base-uncased data=qnli \
	    task.train_size=null task.defence.clean_size=1000 seed=42,43,44 || exit 1; \
	done
	$(MAKE) fine-purifying-report

fine-purifying-report: $(SETUP)
	$(PY) -m papers.fine_purifying.report $(FINE_PURIFYING_RUNS)

fine-purifying-bench: $(SETUP)
	$(PY) scripts/bench_fine_purifying.py $(ARGS)
