"""A generic text-classification experiment: fine-tune ``cfg.model`` on ``cfg.data``.

``python -m common.run experiment=text/classify`` (and ``text/smoke``) call :func:`run_classify`;
it exercises the whole language core (offline model, mirror data, tokenise/collate, Trainer).
"""

from __future__ import annotations

from hydra.utils import instantiate

from common.context import RunContext
from common.text.classification import fine_tune, tokenize
from common.text.data import TextDataset


def _subset(ds, size: int | None, seed: int):
    if size is None or size >= ds.num_rows:
        return ds
    return ds.shuffle(seed=seed).select(range(size))


def run_classify(
    ctx: RunContext,
    *,
    train_split: str = "train",
    eval_split: str = "validation",
    train_size: int | None = None,
    eval_size: int | None = None,
    max_length: int = 128,
    lr: float = 2e-5,
    batch_size: int = 32,
) -> dict[str, float]:
    """Fine-tune the configured encoder with a fresh classification head; report the best
    epoch's ``<eval_split>/acc`` and ``/macro_f1`` (selected on that split, like GLUE dev)."""
    data: TextDataset = instantiate(ctx.cfg.data)
    train = _subset(data.load(train_split), train_size, ctx.seed)
    evaluation = _subset(data.load(eval_split), eval_size, ctx.seed)
    num_labels = train.features[data.label_field].num_classes
    model, tokenizer = instantiate(
        ctx.cfg.model, head="sequence_classification", num_labels=num_labels
    )
    train_tok = tokenize(train, tokenizer, data.text_fields, data.label_field,
                         max_length=max_length)
    eval_tok = tokenize(evaluation, tokenizer, data.text_fields, data.label_field,
                        max_length=max_length)
    result = fine_tune(ctx, model, tokenizer, train_tok, {eval_split: eval_tok},
                       name=f"{data.name}_{ctx.cfg.model.name}", lr=lr, batch_size=batch_size)
    majority = max(evaluation[data.label_field].count(c) for c in range(num_labels))
    return {
        **result.best_metrics,
        f"{eval_split}/majority_acc": majority / evaluation.num_rows,
        "best_epoch": result.best_epoch,
    }
