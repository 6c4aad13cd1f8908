"""Sequence classification: tokenise (single sentences or pairs), collate with dynamic padding,
evaluate, and fine-tune any encoder with the shared ``common.training.Trainer``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import datasets
import torch
from torch.utils.data import DataLoader

from common.text.tokenizers import encode_pair, pad_batch

if TYPE_CHECKING:
    from common.context import RunContext
    from common.training import FitResult

Batch = dict[str, torch.Tensor]


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


def loader(
    dataset: datasets.Dataset,
    tokenizer,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A DataLoader over a :func:`tokenize`-d dataset with dynamic padding."""
    columns = [c for c in ("input_ids", "attention_mask", "token_type_ids", "labels")
               if c in dataset.column_names]
    return DataLoader(
        dataset.select_columns(columns),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=collate_fn(tokenizer),
    )


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
    """Accuracy and macro-F1 (mean over the classes present in ``labels`` or predictions)."""
    pred = logits.argmax(-1)
    f1s = []
    for c in torch.unique(torch.cat([labels, pred])).tolist():
        tp = int(((pred == c) & (labels == c)).sum())
        fp = int(((pred == c) & (labels != c)).sum())
        fn = int(((pred != c) & (labels == c)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"acc": float((pred == labels).float().mean()), "macro_f1": sum(f1s) / len(f1s)}


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
    lr: float = 2e-5,
    weight_decay: float = 0.01,
    batch_size: int = 32,
    eval_batch_size: int = 128,
    **trainer_overrides: Any,
) -> FitResult:
    """Fine-tune ``model`` (a ``...ForSequenceClassification``) on the tokenised ``train`` with
    AdamW and cross-entropy, evaluating accuracy and macro-F1 on each tokenised eval set as
    ``<split>/acc``, ``<split>/macro_f1``. ``trainer_overrides`` are ``TrainerConfig`` fields
    (``max_epochs``, ``monitor="validation/acc"``, ``patience``, ...)."""
    from common.training import Trainer

    model.to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    train_batches = loader(train, tokenizer, batch_size=batch_size, shuffle=True,
                           generator=ctx.generator)
    eval_batches = {split: loader(ds, tokenizer, batch_size=eval_batch_size)
                    for split, ds in eval_sets.items()}

    def loss_fn(m, batch: Batch):
        out = m(**_to(batch, ctx.device))
        acc = (out.logits.argmax(-1) == batch["labels"].to(ctx.device)).float().mean()
        return out.loss, {"train/acc": float(acc)}

    def evaluate(m) -> dict[str, float]:
        metrics = {}
        for split, batches in eval_batches.items():
            for key, value in classification_metrics(*predict(m, batches)).items():
                metrics[f"{split}/{key}"] = value
        return metrics

    trainer = Trainer.from_context(
        ctx, name=name, model=model, optimizer=optimizer, loss_fn=loss_fn,
        train_data=train_batches, evaluate=evaluate, **trainer_overrides,
    )
    return trainer.fit()
