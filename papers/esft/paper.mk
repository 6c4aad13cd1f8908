# ESFT (Wang et al., EMNLP 2024): see papers/esft/README.md.
# `make esft-pretrain`: pretrain the tiny DeepSeek-V2 MoE once (cached under $REPRO_CACHE/esft)
# and report its per-domain routing concentration; `make esft`: then every method (vanilla, FFT,
# LoRA, ESFT-Token, ESFT-Gate, random- and shared-expert ablations) on the math and intent tasks,
# then the tables; `make esft-p-sweep`: ESFT-Token at p = 0.4, 0.6, 0.8 (how many experts it takes
# to reach FFT); `make esft-paper`: ESFT-vanilla-lite (downloads; a GPU machine);
# `make esft-report`: the tables of the runs under runs/esft; `make esft-bench`: trainable
# parameters, optimizer memory, step time and checkpoint size per method.
ESFT_RUNS ?= runs/esft
ESFT_RUN = $(RUN) progress=false paths.runs=$(ESFT_RUNS) $(ARGS)

.PHONY: esft esft-pretrain esft-p-sweep esft-smoke esft-demo esft-paper esft-report esft-bench

esft-pretrain: $(SETUP)
	$(ESFT_RUN) experiment=esft/pretrain

esft: esft-pretrain
	$(ESFT_RUN) experiment=esft/main
	$(MAKE) esft-p-sweep

esft-p-sweep: esft-pretrain
	$(ESFT_RUN) -m experiment=esft/main name=p_sweep 'task.methods=[esft_token]' \
	  task.p_token=0.4,0.6,0.8
	$(MAKE) esft-report

esft-smoke: $(SETUP)
	$(RUN) experiment=esft/smoke $(ARGS)

esft-demo: $(SETUP)
	$(RUN) experiment=esft/demo $(ARGS)

esft-paper: $(SETUP)
	$(ESFT_RUN) experiment=esft/paper
	$(MAKE) esft-report

esft-report: $(SETUP)
	$(PY) -m papers.esft.report $(ESFT_RUNS)

esft-bench: $(SETUP)
	$(PY) scripts/bench_esft.py $(ARGS)
