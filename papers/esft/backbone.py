"""The backbone: ESFT-vanilla-lite from the hub (paper scale), or the CPU-scale miniature, a
DeepSeek-V2 MoE (transformers' own classes, so the same ESFT code runs on both) pretrained from
scratch on the domains of :mod:`papers.esft.corpus` with a BPE vocabulary trained on them.

Pretraining is the language-modelling loss plus DeepSeek-V2's expert-level balance loss
(alpha * sum_i f_i P_i, :func:`papers.esft.routing.balance_loss`), with the shared ``Trainer``.
The result is cached under ``$REPRO_CACHE/esft/<name>-<hash of everything that shapes it>``,
so ``make esft-pretrain`` runs once and every ESFT experiment reuses it.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import transformers
from omegaconf import DictConfig, OmegaConf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import Tensor, nn
from transformers import DeepseekV2Config, DeepseekV2ForCausalLM, PreTrainedTokenizerFast

from common.context import RunContext
from common.optim import CosineWarmup, build_optimizer
from common.params import ConfigError
from common.text.data import dataset_by_name
from common.text.models import load_from_config
from common.text.tokenizers import configure
from common.training import SeededBatches, Trainer
from papers.esft import corpus
from papers.esft.finetune import general_ability
from papers.esft.routing import balance_loss, record_routing

CORPUS_VERSION = 2
EOS, PAD = "<|endoftext|>", "<pad>"


@dataclass
class PretrainParams:
    """How the miniature is pretrained: ``steps`` AdamW steps of ``batch_size`` sequences of
    ``seq_len`` tokens at ``lr`` (``warmup`` linear steps, then cosine to 10 %), balance loss
    weight ``balance_alpha``; ``sequences_per_domain`` packed training sequences and
    ``heldout_sequences`` evaluation sequences per domain; ``english_sources`` are mirror
    data configs and splits (``name:split``); a BPE vocabulary of ``vocab_size``."""

    steps: int = 1500
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.1
    balance_alpha: float = 0.01
    sequences_per_domain: int = 2000
    heldout_sequences: int = 64
    english_sources: tuple[str, ...] = ("reuters_modapte:train", "wikitext2:test")
    vocab_size: int = 2048


@dataclass
class Backbone:
    """The frozen pretrained model, its tokenizer, and the general (pretraining-domain) data:
    packed training sequences (FFT/LoRA's 1:1 mix) and held-out sequences (general ability)."""

    model: nn.Module
    tokenizer: Any
    general_train: dict[str, Tensor]
    general_heldout: dict[str, Tensor]
    location: Path | None = None

    @cached_property
    def general(self) -> dict[str, float]:
        """The frozen backbone's general ability (measured once; every task's vanilla row)."""
        return general_ability(self.model, self.general_heldout)


def english_documents(sources: tuple[str, ...]) -> list[str]:
    """English documents of the mirror's corpora, each source ``<data config>:<split>``."""
    docs: list[str] = []
    for i, source in enumerate(sources):
        name, _, split = source.partition(":")
        if not split:
            raise ConfigError(f"task.pretrain.english_sources[{i}]", f"{source!r} has no split",
                              "write <data config>:<split>, e.g. reuters_modapte:train")
        data = dataset_by_name(name)
        docs.extend(corpus.english(data.load(split)[data.text_fields[0]]))
    return docs


def domain_documents(params: PretrainParams, seed: int) -> dict[str, list[str]]:
    """Documents per pretraining domain: English from the mirror (shuffled with ``seed``),
    the synthetic domains generated with ``seed``; enough for training plus held-out."""
    docs = english_documents(tuple(params.english_sources))
    random.Random(seed).shuffle(docs)
    n = (params.sequences_per_domain + params.heldout_sequences) * params.seq_len // 8
    out = {"english": docs}
    out.update({d: corpus.synthetic(d, n, seed) for d in corpus.GENERATORS})
    return out


def train_tokenizer(docs: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE of ``vocab_size`` trained on ``docs``, digits split one per token (so
    numbers are spelled digit by digit), with EOS and PAD specials."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, PAD],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(docs, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS,
                                   pad_token=PAD)


def pack(tokenizer: Any, docs: list[str], seq_len: int, count: int) -> Tensor:
    """``count`` sequences of ``seq_len`` tokens cut from the documents joined by EOS."""
    stream: list[int] = []
    need = count * seq_len
    for doc in docs:
        stream.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
        stream.append(tokenizer.eos_token_id)
        if len(stream) >= need:
            break
    if len(stream) < need:
        raise ConfigError("task.pretrain.sequences_per_domain",
                          f"the corpus yields {len(stream) // seq_len} sequences, {count} asked",
                          "lower sequences_per_domain / heldout_sequences")
    return torch.tensor(stream[:need]).view(count, seq_len)


def split_domains(tokenizer: Any, docs: dict[str, list[str]], params: PretrainParams
                  ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Per domain: training sequences and held-out sequences from disjoint documents."""
    train, heldout = {}, {}
    for domain, texts in docs.items():
        cut = max(1, len(texts) // 10)
        heldout[domain] = pack(tokenizer, texts[:cut], params.seq_len, params.heldout_sequences)
        train[domain] = pack(tokenizer, texts[cut:], params.seq_len, params.sequences_per_domain)
    return train, heldout


def cache_key(architecture: dict, params: PretrainParams, seed: int, training: dict) -> str:
    """Everything that shapes the pretrained miniature: its architecture, the pretraining
    settings, the seed, the corpus version, the optimizer / trainer settings and device kind
    (``training``) and the transformers version (its config defaults and kernels)."""
    blob = json.dumps({"arch": architecture, "pretrain": asdict(params), "seed": seed,
                       "corpus": CORPUS_VERSION, "training": training,
                       "transformers": transformers.__version__},
                      sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def moe_config(architecture: dict, tokenizer: Any) -> DeepseekV2Config:
    """The DeepSeek-V2 config of the miniature on ``tokenizer``'s vocabulary."""
    return DeepseekV2Config(**architecture, vocab_size=len(tokenizer),
                            bos_token_id=tokenizer.bos_token_id,
                            eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)


def lm_and_balance_loss(alpha: float):
    """The pretraining loss: next-token cross-entropy + alpha x the mean over MoE layers of the
    expert-level balance loss (DeepSeek-V2 eq. 12-14)."""

    def loss_fn(model: nn.Module, batch: Tensor):
        with record_routing(model, keep_grad=True) as records:
            out = model(input_ids=batch, labels=batch)
        balance = torch.stack([balance_loss(*calls[-1]) for calls in records.values()]).mean()
        return out.loss + alpha * balance, {"train/lm_loss": out.loss.detach(),
                                            "train/balance": balance.detach()}

    return loss_fn


def pretrain(ctx: RunContext, model_cfg: DictConfig, params: PretrainParams) -> Backbone:
    """The miniature, pretrained (or loaded from the cache when the same settings ran before)."""
    architecture = OmegaConf.to_container(model_cfg.architecture, resolve=True)
    trainer = ctx.cfg.get("trainer", {})
    optim = {k: v for k, v in OmegaConf.to_container(ctx.cfg.optim, resolve=True).items()
             if k not in ("lr", "weight_decay")}  # pretraining sets these from ``params``
    training = {"optim": optim,
                "mixed_precision": trainer.get("mixed_precision", "no"),
                "grad_accum": trainer.get("grad_accum", 1), "device": ctx.device.type}
    key = cache_key(architecture, params, ctx.seed, training)
    location = ctx.cache_dir / "esft" / f"{model_cfg.name}-{key}"
    docs = domain_documents(params, ctx.seed_for("corpus"))
    if (location / "config.json").exists():
        tokenizer = configure(PreTrainedTokenizerFast.from_pretrained(str(location)),
                              model_cfg.get("add_bos", False))
        train, heldout = split_domains(tokenizer, docs, params)
        model = DeepseekV2ForCausalLM.from_pretrained(str(location)).to(ctx.device)
        return Backbone(model.eval(), tokenizer, train, heldout, location)
    sample = [t for texts in docs.values() for t in texts[: 4 * params.sequences_per_domain]]
    tokenizer = configure(train_tokenizer(sample, params.vocab_size),
                          model_cfg.get("add_bos", False))
    train, heldout = split_domains(tokenizer, docs, params)
    with ctx.seeded("init"):
        model = DeepseekV2ForCausalLM(moe_config(architecture, tokenizer)).to(ctx.device)
    optimizer = build_optimizer(ctx.cfg.optim, model.parameters(), lr=params.lr,
                                weight_decay=params.weight_decay)
    sequences = torch.cat(list(train.values()))
    trainer = Trainer.from_context(
        ctx, name="pretrain", model=model, optimizer=optimizer,
        schedule=CosineWarmup(warmup=params.warmup, min_ratio=0.1),
        loss_fn=lm_and_balance_loss(params.balance_alpha),
        train_data=SeededBatches(sequences, params.batch_size, seed=ctx.seed_for("shuffle"),
                                 collate_fn=lambda rows: torch.stack(rows).to(ctx.device)),
        unit="step", max_steps=params.steps, max_epochs=None, eval_every=params.steps,
        checkpoint_every=0, log_every=50, monitor=None, restore_best=False,
        log_prefix="pretrain/", grad_clip=1.0)
    trainer.fit()
    partial = location.with_name(location.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    partial.replace(location)  # the folder appears whole or not at all
    return Backbone(model.eval(), tokenizer, train, heldout, location)


def load_backbone(ctx: RunContext, params: PretrainParams) -> Backbone:
    """The run's backbone: the miniature when ``model.architecture`` is set (pretrained once),
    else the config's pretrained causal LM (ESFT-vanilla-lite), whose general data is the same
    domains tokenised with its own tokenizer."""
    if ctx.cfg.model.get("architecture") is not None:
        return pretrain(ctx, ctx.cfg.model, params)
    model, tokenizer = load_from_config(ctx.cfg.model, head="causal_lm")
    train, heldout = split_domains(tokenizer, domain_documents(params, ctx.seed_for("corpus")),
                                   params)
    return Backbone(model.to(ctx.device).eval(), tokenizer, train, heldout)
