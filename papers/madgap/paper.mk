# MADGap (Chen et al., AAAI 2020). `make madgap`: the offline reproduction behind the README's
# table (about 80 min wall on 2 busy shared CPU cores, about 30-40 min of CPU time);
# `make madgap-paper`: the issue's full grid (every model x both datasets x 5 seeds, hours);
# `make madgap-report`: tables of the runs under runs/madgap and the README's PNGs (figures/);
# `make madgap-bench [ARGS=--nodes 20000]`: MADGap's kernel against the dense way.
# `make madgap-depth-ablation`: GCN at 2 / 4 / 6 layers on Cora, the Kipf setting with one choice
# of the former default put back at a time (README: which choice hid the depth effect).
MADGAP_RUNS ?= runs/madgap
MADGAP_MULTI = $(RUN) -m progress=false $(ARGS)

.PHONY: madgap madgap-paper madgap-smoke madgap-demo madgap-smoothing madgap-madgap-acc \
	madgap-topology madgap-madreg madgap-adagraph madgap-report madgap-bench madgap-depth-ablation

madgap: madgap-smoothing madgap-madgap-acc madgap-topology madgap-madreg madgap-adagraph
	$(MAKE) madgap-report

madgap-smoke: $(SETUP)
	$(RUN) experiment=madgap/smoke $(ARGS)

madgap-demo: $(SETUP)
	$(RUN) experiment=madgap/demo $(ARGS)

madgap-smoothing: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/smoothing model=gcn_kipf,gat data=cora seed=0

madgap-madgap-acc: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/madgap_acc model=gcn_kipf data=cora,citeseer seed=0,1,2
	$(MADGAP_MULTI) experiment=madgap/madgap_acc model=gat data=cora seed=0,1,2

madgap-topology: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/topology model=gcn_kipf data=cora,citeseer seed=0

madgap-madreg: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/madreg model=gcn_kipf data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/madreg model=gat data=cora seed=0,1,2

madgap-adagraph: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/adagraph model=gcn_kipf data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/adagraph model=gat data=cora seed=0,1,2

madgap-paper: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/smoothing model=gcn_kipf,gat,sage,cheb,sgc,appnp data=cora,citeseer seed=0
	$(MADGAP_MULTI) experiment=madgap/madgap_acc model=gcn_kipf,gat data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/topology model=gcn_kipf,gat data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/madreg model=gcn_kipf,gat data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/adagraph model=gcn_kipf,gat data=cora,citeseer seed=0,1,2,3,4
	$(MAKE) madgap-report

madgap-report: $(SETUP)
	$(PY) -m papers.madgap.report $(MADGAP_RUNS) --figures papers/madgap/figures

madgap-bench: $(SETUP)
	$(PY) scripts/bench_madgap.py $(ARGS)

MADGAP_ABLATION = $(MADGAP_MULTI) experiment=madgap/madgap_acc data=cora seed=0,1,2 'task.depths=[2,4,6]'
MADGAP_EARLY_STOP = trainer.monitor=val/acc trainer.patience=50 trainer.min_epochs=50 \
	trainer.restore_best=true trainer.eval_every=1

madgap-depth-ablation: $(SETUP)
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/kipf
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/hidden64 model.hidden=64
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/raw_features data.normalize_features=false
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/decay_all model.weight_decay_layers=all
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/no_input_dropout model.input_dropout=false
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/early_stopping $(MADGAP_EARLY_STOP)
	$(MADGAP_ABLATION) paths.runs=$(MADGAP_RUNS)_ablation/former_default model=gcn \
		data.normalize_features=false $(MADGAP_EARLY_STOP)
	for v in kipf hidden64 raw_features decay_all no_input_dropout early_stopping former_default; do \
		echo "## $$v"; $(PY) -m papers.madgap.report $(MADGAP_RUNS)_ablation/$$v | head -12; done
