# ReNode (Chen et al., NeurIPS 2021): make renode = TINL table rows of GCN on Cora and CiteSeer
# (5 splits x 3 init seeds, with and without ReNode) + the Totoro correlation analysis on both +
# the table and the redrawn Totoro scatters in papers/renode/figures (about 8 min on 2 CPU cores).
# Other rows: make renode-tinl RENODE_DATA=citeseer ARGS="model=sgc task.loss=focal".
# Torch runs single-threaded here (RENODE_THREADS): on 2 shared cores that is several times faster
# for these small graphs than two spinning OpenMP threads.
RENODE_DATA ?= cora,citeseer
RENODE_THREADS ?= 1
RENODE_RUN = OMP_NUM_THREADS=$(RENODE_THREADS) REPRO_THREADS=$(RENODE_THREADS) $(RUN)

.PHONY: renode renode-smoke renode-demo renode-tinl renode-qinl renode-correlation \
	renode-report renode-bench

renode: renode-tinl renode-correlation
	$(MAKE) renode-report

renode-smoke: $(SETUP)
	$(RENODE_RUN) experiment=renode/smoke $(ARGS)

renode-demo: $(SETUP)
	$(RENODE_RUN) experiment=renode/demo $(ARGS)

renode-tinl: $(SETUP)
	$(RENODE_RUN) -m experiment=renode/tinl data=$(RENODE_DATA) progress=false $(ARGS)

renode-qinl: $(SETUP)
	$(RENODE_RUN) -m experiment=renode/tinl_qinl data=$(RENODE_DATA) \
	  task.loss=ce,re-weight,focal,cb-softmax progress=false $(ARGS)

renode-correlation: $(SETUP)
	$(RENODE_RUN) -m experiment=renode/totoro_correlation data=$(RENODE_DATA) progress=false $(ARGS)

renode-report: $(SETUP)
	$(PY) -m papers.renode.report runs/renode --figures papers/renode/figures

# Totoro cost, official dense inverse vs sparse labelled PPR rows (common.graph.ppr), ~3 min.
renode-bench: $(SETUP)
	OMP_NUM_THREADS=$(RENODE_THREADS) BENCH_THREADS=$(RENODE_THREADS) $(PY) scripts/bench_renode.py
