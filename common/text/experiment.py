"""A generic text-classification experiment: fine-tune ``cfg.model`` on ``cfg.data``.

``python -m common.run experiment=text/classify`` (and ``text/smoke``) call :func:`run_classify`;
it exercises the whole language core (offline model, mirror data, tokenise/collate, Trainer).
The learning rate is ``optim.lr``, the schedule ``schedule=...`` and the loop length
``trainer.max_steps`` / ``trainer.max_epochs``; ``task`` holds only the data and batch settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra.utils import instantiate

from common.context import RunContext
from common.params import ConfigError, check_positive
from common.text.classification import fine_tune, tokenize
from common.text.data import TextDataset, seeded_subset
from common.text.models import load_from_config


@dataclass
class ClassifyTask:
    """``task:`` of ``text/*`` experiments: which splits, how many rows of each (``null``: all,
    else a seeded random subset), the tokeniser's ``max_length`` and the global batch sizes."""

    train_split: str = "train"
    eval_split: str = "validation"
    train_size: int | None = None
    eval_size: int | None = None
    max_length: int = 128
    batch_size: int = 32
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        for key in ("train_size", "eval_size", "max_length", "batch_size", "eval_batch_size"):
            check_positive(key, getattr(self, key))
        if self.train_split == self.eval_split:
            raise ConfigError("eval_split", f"is the training split '{self.train_split}'",
                              "evaluate on a held-out split, e.g. task.eval_split=validation")


def run_classify(ctx: RunContext, task: ClassifyTask) -> dict[str, float]:
    """Fine-tune the configured encoder with a fresh classification head; report the best
    evaluation's ``<eval_split>/acc``, ``/macro_f1`` and ``/loss`` (selected on that split by
    ``trainer.monitor``, like GLUE dev), the optimizer step it happened at (``best_step``) and
    the majority-class accuracy.

    Subsets draw from the ``split`` seed stream; a pretrained model's new head is initialised
    inside ``ctx.seeded("init")`` (tiny random models are seeded by their own ``model.seed``).
    """
    data: TextDataset = instantiate(ctx.cfg.data)
    split_seed = ctx.seed_for("split")
    train = seeded_subset(data.load(task.train_split), task.train_size, split_seed)
    evaluation = seeded_subset(data.load(task.eval_split), task.eval_size, split_seed)
    num_labels = train.features[data.label_field].num_classes
    with ctx.seeded("init"):
        model, tokenizer = load_from_config(
            ctx.cfg.model, head="sequence_classification", num_labels=num_labels
        )
    tokenized = {
        split: tokenize(ds, tokenizer, data.text_fields, data.label_field,
                        max_length=task.max_length)
        for split, ds in ((task.train_split, train), (task.eval_split, evaluation))
    }
    result = fine_tune(
        ctx, model, tokenizer, tokenized[task.train_split],
        {task.eval_split: tokenized[task.eval_split]},
        name=f"{data.name}_{ctx.cfg.model.name}",
        batch_size=task.batch_size, eval_batch_size=task.eval_batch_size,
    )
    majority = max(evaluation[data.label_field].count(c) for c in range(num_labels))
    return {
        **result.best_metrics,
        f"{task.eval_split}/majority_acc": majority / evaluation.num_rows,
        "best_step": result.best_step,
    }
