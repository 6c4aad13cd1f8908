"""Sequence classification: tokenise (single sentences or pairs), collate with dynamic padding,
evaluate, and fine-tune any encoder with the shared ``common.training.Trainer``.

:func:`fine_tune` takes the optimizer from ``cfg.optim`` (``optim.lr`` is the learning rate), the
learning-rate schedule from ``cfg.schedule`` and the loop from ``cfg.trainer`` (epochs or steps);
training batches come from :class:`common.training.SeededBatches`, so a run resumed mid-epoch
draws the batches the uninterrupted run would have, and under ``accelerate launch`` / ``torchrun``
every global batch is split across the processes (the effective batch size is unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import datasets
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from common.metrics import accuracy, f1_scores
from common.text.tokenizers import encode_pair, pad_batch

if TYPE_CHECKING:
    from common.context import RunContext
    from common.training import FitResult

Batch = dict[str, torch.Tensor]
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def tokenize(
    dataset: datasets.Dataset,
    tokenizer,
    text_fields: Sequence[str],
    label_field: str | None = "label",
    *,
    max_length: int = 128,
) -> datasets.Dataset:
    """Add model inputs (``input_ids``, ``attention_mask``, ``token_type_ids`` for BERT-likes)
    and ``labels`` (from ``label_field``); unpadded, so batches pad to their own longest row."""
    if len(text_fields) not in (1, 2):
        raise ValueError("text_fields must name one column or a pair")

    def one(example: Mapping[str, Any]) -> dict[str, Any]:
        second = example[text_fields[1]] if len(text_fields) == 2 else None
        out = encode_pair(tokenizer, example[text_fields[0]], second, max_length=max_length)
        if label_field is not None:
            out["labels"] = int(example[label_field])
        return out

    return dataset.map(one, desc="tokenize")


def collate_fn(tokenizer) -> Callable[[Sequence[Mapping[str, Any]]], Batch]:
    """A DataLoader ``collate_fn`` padding every input column to the batch's longest row
    (right padding; token types padded with 0) and stacking ``labels``."""

    def collate(rows: Sequence[Mapping[str, Any]]) -> Batch:
        batch = pad_batch(tokenizer, [r["input_ids"] for r in rows], side="right")
        if "token_type_ids" in rows[0]:
            types = torch.zeros_like(batch["input_ids"])
            for i, r in enumerate(rows):
                types[i, : len(r["token_type_ids"])] = torch.as_tensor(r["token_type_ids"])
            batch["token_type_ids"] = types
        if "labels" in rows[0]:
            batch["labels"] = torch.as_tensor([int(r["labels"]) for r in rows])
        return batch

    return collate


def model_inputs(dataset: datasets.Dataset) -> datasets.Dataset:
    """The columns of a :func:`tokenize`-d dataset a model takes (inputs and ``labels``)."""
    return dataset.select_columns([c for c in MODEL_INPUTS if c in dataset.column_names])


def loader(dataset: datasets.Dataset, tokenizer, *, batch_size: int = 32) -> DataLoader:
    """Batches of a :func:`tokenize`-d dataset in row order with dynamic padding (evaluation;
    training batches come from :class:`common.training.SeededBatches` in :func:`fine_tune`)."""
    return DataLoader(model_inputs(dataset), batch_size=batch_size,
                      collate_fn=collate_fn(tokenizer))


def _to(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def predict(model, batches: DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) over all batches, in order, on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    logits, labels = [], []
    for batch in batches:
        batch = _to(batch, device)
        gold = batch.pop("labels")
        logits.append(model(**batch).logits.float().cpu())
        labels.append(gold.cpu())
    model.train(was_training)
    return torch.cat(logits), torch.cat(labels)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy, macro-F1 (scikit-learn's: over the classes present in ``labels`` or the
    predictions; :func:`common.metrics.f1_scores`) and ``loss``, the mean cross-entropy."""
    return {
        "acc": accuracy(logits, labels),
        "macro_f1": f1_scores(logits, labels, num_classes=logits.shape[-1])["macro_f1"],
        "loss": float(F.cross_entropy(logits.float(), labels)),
    }


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states over non-padding positions (sentence-transformers pooling)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


def fine_tune(
    ctx: RunContext,
    model,
    tokenizer,
    train: datasets.Dataset,
    eval_sets: Mapping[str, datasets.Dataset],
    *,
    name: str = "classifier",
    batch_size: int = 32,
    eval_batch_size: int = 128,
    **trainer_kwargs: Any,
) -> FitResult:
    """Fine-tune ``model`` (a ``...ForSequenceClassification``) on the tokenised ``train`` with
    its own cross-entropy loss, evaluating accuracy, macro-F1 and loss on each tokenised eval set
    as ``<split>/acc``, ``<split>/macro_f1``, ``<split>/loss``.

    The optimizer is ``cfg.optim`` (``optim.lr``, ``optim.weight_decay``), the schedule
    ``cfg.schedule`` and the loop ``cfg.trainer``; ``trainer_kwargs`` are ``TrainerConfig``
    fields (``max_steps``, ``monitor="validation/acc"``, ...) or ``Trainer`` arguments
    (``callbacks``). ``batch_size`` is the global batch: with several processes each takes its
    slice of every batch (``SeededBatches(shard=, num_shards=)``) and gradients are averaged,
    while every process evaluates the full eval sets.
    """
    from common.training import SeededBatches, Trainer

    accelerator = ctx.accelerator
    model.to(ctx.device)
    train_batches = SeededBatches(
        model_inputs(train), batch_size, seed=ctx.seed_for("shuffle"),
        collate_fn=collate_fn(tokenizer),
        shard=accelerator.process_index, num_shards=accelerator.num_processes,
    )
    eval_batches = {split: loader(ds, tokenizer, batch_size=eval_batch_size)
                    for split, ds in eval_sets.items()}

    def loss_fn(m, batch: Batch):
        return m(**_to(batch, ctx.device))

    def evaluate(m) -> dict[str, float]:
        metrics = {}
        for split, batches in eval_batches.items():
            for key, value in classification_metrics(*predict(m, batches)).items():
                metrics[f"{split}/{key}"] = value
        return metrics

    trainer = Trainer.from_context(
        ctx, name=name, model=model, loss_fn=loss_fn, train_data=train_batches,
        evaluate=evaluate, **trainer_kwargs,
    )
    return trainer.fit()
