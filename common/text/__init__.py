"""The language core: offline pretrained models, tokenizers, text datasets, prompts, generation.

Language papers get everything text-related from here; see ``common/text/README.md``.
"""
