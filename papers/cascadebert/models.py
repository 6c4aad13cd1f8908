"""Classifiers on pretrained encoders: a complete model (one classifier on the last layer, the
cascade's members) and a multi-exit model (one classifier after every layer, DeeBERT / PABEE).

Every classifier reads one vector of a layer: the first token ([CLS] / <s>, BERT's sequence
classifier and the three official codes) or the mean over the non-padding tokens (what
sentence-transformers such as all-MiniLM-L6-v2 were trained to produce); then a pooler (dense +
tanh, initialised from the encoder's pretrained pooler), dropout and a new linear layer. The
encoder's own pooler is dropped after its weights are copied, so no forward computes it. DeeBERT
gives every off-ramp its own pooler copy; PABEE shares one pooler across layers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from transformers.utils.output_capturing import maybe_install_capturing_hooks

from common.text.classification import mean_pool

ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
POOLINGS = ("cls", "mean")


def _take_pooler(encoder: nn.Module) -> nn.Linear:
    """A copy of the encoder's pretrained pooler dense layer (a fresh one if it has none); the
    encoder stops computing its pooler."""
    hidden = encoder.config.hidden_size
    pooler = getattr(encoder, "pooler", None)
    dense = copy.deepcopy(pooler.dense) if pooler is not None else nn.Linear(hidden, hidden)
    encoder.pooler = None
    return dense


class ClassifierHead(nn.Module):
    """tanh(W v + b) -> dropout -> linear: logits (B, C) from hidden states (B, T, H), with v
    the first token's state (``pooling="cls"``) or the mean of the unmasked ones (``"mean"``)."""

    def __init__(self, pooler: nn.Linear, num_labels: int, dropout: float,
                 pooling: str = "cls") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.pooler = pooler
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(pooler.out_features, num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        vector = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, attention_mask)
        return self.classifier(self.dropout(torch.tanh(self.pooler(vector))))


def encoder_inputs(batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k: v for k, v in batch.items() if k in ENCODER_INPUTS}


def _dropout(encoder: nn.Module) -> float:
    return float(getattr(encoder.config, "hidden_dropout_prob", 0.1))


class CompleteModel(nn.Module):
    """An encoder (a ``head="base"`` model) with one classifier on its last layer."""

    def __init__(self, encoder: nn.Module, num_labels: int, pooling: str = "cls") -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ClassifierHead(_take_pooler(encoder), num_labels, _dropout(encoder),
                                   pooling)

    @property
    def num_layers(self) -> int:
        return len(encoder_layers(self.encoder))

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.head(self.encoder(**encoder_inputs(batch)).last_hidden_state,
                         batch["attention_mask"])


class MultiExitModel(nn.Module):
    """An encoder with a classifier after each of its L layers: ``forward`` gives the layer
    logits (L, B, C). ``shared_pooler`` (PABEE) or one pooler per layer (DeeBERT)."""

    def __init__(self, encoder: nn.Module, num_labels: int, *, shared_pooler: bool,
                 pooling: str = "cls", heads: list[ClassifierHead] | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        if heads is None:
            pooler = _take_pooler(encoder)
            dropout = _dropout(encoder)
            heads = [ClassifierHead(pooler if shared_pooler else copy.deepcopy(pooler),
                                    num_labels, dropout, pooling)
                     for _ in range(len(encoder_layers(encoder)))]
        self.heads = nn.ModuleList(heads)

    @property
    def num_layers(self) -> int:
        return len(self.heads)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        hidden = self.encoder(**encoder_inputs(batch), output_hidden_states=True).hidden_states
        mask = batch["attention_mask"]
        return torch.stack([head(h, mask) for head, h in zip(self.heads, hidden[1:],
                                                              strict=True)])

    @classmethod
    def with_ramps(cls, trained: CompleteModel, pretrained_pooler: nn.Linear) -> MultiExitModel:
        """DeeBERT's second stage: the fine-tuned encoder and last classifier of ``trained``,
        with an off-ramp (its own copy of the pretrained pooler) after every earlier layer."""
        num_labels = trained.head.classifier.out_features
        ramps = [ClassifierHead(copy.deepcopy(pretrained_pooler), num_labels,
                                _dropout(trained.encoder), trained.head.pooling)
                 for _ in range(trained.num_layers - 1)]
        return cls(trained.encoder, num_labels, shared_pooler=False,
                   heads=[*ramps, trained.head])


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's transformer layers (BERT, MPNet, RoBERTa: ``encoder.layer``)."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise TypeError(f"{type(encoder).__name__} has no encoder.layer list: cascadebert "
                        "supports BERT-like encoders (BERT, MiniLM, MPNet, RoBERTa)")
    return layers


@contextmanager
def truncated(encoder: nn.Module, depth: int) -> Iterator[nn.Module]:
    """The encoder running only its first ``depth`` layers (for timing an exit at ``depth``:
    the same computation as stopping there).

    transformers installs its ``output_hidden_states`` hooks lazily, on the layers present at
    the first such call: they are installed here first, on every layer, or a model first called
    truncated would later return too few hidden states."""
    maybe_install_capturing_hooks(encoder)
    stack = encoder.encoder
    layers = stack.layer
    stack.layer = layers[:depth]
    try:
        yield encoder
    finally:
        stack.layer = layers
