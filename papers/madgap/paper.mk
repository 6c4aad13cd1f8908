# MADGap (Chen et al., AAAI 2020). `make madgap`: the offline reproduction behind the README's
# table (about 80 min wall on 2 busy shared CPU cores, about 30-40 min of CPU time);
# `make madgap-paper`: the issue's full grid (every model x both datasets x 5 seeds, hours);
# `make madgap-report`: tables of the runs under runs/madgap and the README's PNGs (figures/);
# `make madgap-bench [ARGS=--nodes 20000]`: MADGap's kernel against the dense way.
MADGAP_RUNS ?= runs/madgap
MADGAP_MULTI = $(RUN) -m progress=false $(ARGS)

.PHONY: madgap madgap-paper madgap-smoke madgap-demo madgap-smoothing madgap-madgap-acc \
	madgap-topology madgap-madreg madgap-adagraph madgap-report madgap-bench

madgap: madgap-smoothing madgap-madgap-acc madgap-topology madgap-madreg madgap-adagraph
	$(MAKE) madgap-report

madgap-smoke: $(SETUP)
	$(RUN) experiment=madgap/smoke $(ARGS)

madgap-demo: $(SETUP)
	$(RUN) experiment=madgap/demo $(ARGS)

madgap-smoothing: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/smoothing model=gcn,gat data=cora seed=0

madgap-madgap-acc: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/madgap_acc model=gcn data=cora,citeseer seed=0,1,2
	$(MADGAP_MULTI) experiment=madgap/madgap_acc model=gat data=cora seed=0,1,2

madgap-topology: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/topology model=gcn data=cora,citeseer seed=0

madgap-madreg: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/madreg model=gcn data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/madreg model=gat data=cora seed=0,1,2

madgap-adagraph: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/adagraph model=gcn data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/adagraph model=gat data=cora seed=0,1,2

madgap-paper: $(SETUP)
	$(MADGAP_MULTI) experiment=madgap/smoothing model=gcn,gat,sage,cheb,sgc,appnp data=cora,citeseer seed=0
	$(MADGAP_MULTI) experiment=madgap/madgap_acc model=gcn,gat data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/topology model=gcn,gat data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/madreg model=gcn,gat data=cora,citeseer seed=0,1,2,3,4
	$(MADGAP_MULTI) experiment=madgap/adagraph model=gcn,gat data=cora,citeseer seed=0,1,2,3,4
	$(MAKE) madgap-report

madgap-report: $(SETUP)
	$(PY) -m papers.madgap.report $(MADGAP_RUNS) --figures papers/madgap/figures

madgap-bench: $(SETUP)
	$(PY) scripts/bench_madgap.py $(ARGS)
