# RedGrape (federated long-tailed learning) and its baselines: see papers/fed_rebalance/README.md
FED_SEEDED := fedavg creff redgrape
FED_ONCE := fedprox fedfocal redgrape_no_supp redgrape_t_inf

.PHONY: fed fed-flower fed-smoke fed-demo fed-long fed-report fed-bench bench-fed

fed: $(SETUP)  ## FedAvg, CReFF, RedGrape x 3 seeds, the other rows x 1, one 100-round run (~2.5 h on 2 cores)
	export FLWR_TELEMETRY_ENABLED=0; \
	for m in $(FED_SEEDED); do $(RUN) -m experiment=fed_rebalance/$$m seed=0,1,2 $(ARGS) || exit 1; done; \
	for m in $(FED_ONCE); do $(RUN) experiment=fed_rebalance/$$m $(ARGS) || exit 1; done
	$(RUN) experiment=fed_rebalance/long $(ARGS)
	$(MAKE) fed-report

fed-report: $(SETUP)  ## tables (mean ± std over seeds) of runs/fed_rebalance, round curves
	$(PY) -m papers.fed_rebalance.report runs/fed_rebalance --figures papers/fed_rebalance/figures

fed-flower: $(SETUP)  ## the same RedGrape run on Flower's simulation runtime (Ray)
	FLWR_TELEMETRY_ENABLED=0 $(RUN) experiment=fed_rebalance/redgrape task.engine=flower $(ARGS)

fed-smoke: $(SETUP)  ## 3 clients, 2 rounds, tiny CNN, on both engines
	FLWR_TELEMETRY_ENABLED=0 $(RUN) experiment=fed_rebalance/smoke $(ARGS)
	FLWR_TELEMETRY_ENABLED=0 $(RUN) experiment=fed_rebalance/smoke task.engine=flower $(ARGS)

fed-demo: $(SETUP)  ## RedGrape vs FedAvg on one long-tailed federation (a few CPU minutes)
	$(RUN) experiment=fed_rebalance/demo $(ARGS)

fed-long: $(SETUP)  ## RedGrape vs FedAvg for 100 rounds on the demo's federation (~7 min)
	$(RUN) experiment=fed_rebalance/long $(ARGS)

fed-bench: $(SETUP)  ## time per round and bytes per client per round: FedAvg vs RedGrape vs CReFF
	$(PY) scripts/bench_fed.py $(ARGS)

bench-fed: fed-bench  ## the former name of fed-bench
