# RedGrape (federated long-tailed learning) and its baselines: see papers/fed_rebalance/README.md
FED_METHODS := redgrape fedavg fedprox fedfocal creff redgrape_no_supp redgrape_t_inf

.PHONY: fed fed-flower fed-smoke fed-demo fed-bench bench-fed

fed: $(SETUP)  ## RedGrape + baselines + ablations on CIFAR-10-LT (IF 100, alpha 0.5), ~45 CPU min
	export FLWR_TELEMETRY_ENABLED=0; \
	for m in $(FED_METHODS); do $(RUN) experiment=fed_rebalance/$$m $(ARGS) || exit 1; done

fed-flower: $(SETUP)  ## the same RedGrape run on Flower's simulation runtime (Ray)
	FLWR_TELEMETRY_ENABLED=0 $(RUN) experiment=fed_rebalance/redgrape task.engine=flower $(ARGS)

fed-smoke: $(SETUP)  ## 3 clients, 2 rounds, tiny CNN, on both engines
	FLWR_TELEMETRY_ENABLED=0 $(RUN) experiment=fed_rebalance/smoke $(ARGS)
	FLWR_TELEMETRY_ENABLED=0 $(RUN) experiment=fed_rebalance/smoke task.engine=flower $(ARGS)

fed-demo: $(SETUP)  ## RedGrape vs FedAvg on one long-tailed federation (a few CPU minutes)
	$(RUN) experiment=fed_rebalance/demo $(ARGS)

fed-bench: $(SETUP)  ## time per round and bytes per client per round: FedAvg vs RedGrape vs CReFF
	$(PY) scripts/bench_fed.py $(ARGS)

bench-fed: fed-bench  ## the former name of fed-bench
