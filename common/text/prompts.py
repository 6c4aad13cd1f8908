"""In-context-learning prompts: templates, demonstrations per class, label words -> token ids.

A template is a format string over the dataset's columns plus ``{label}``, e.g.
``"Review: {text}\\nSentiment: {label}"``. A demonstration fills ``{label}`` with its label word;
the query stops right before ``{label}`` and the whitespace in front of it, so the model's next
token is the label word with its leading space (``" Positive"``); demonstrations and query are
joined by newlines. This is the prompt format of Wang et al. 2023 ("Label Words are Anchors").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

LABEL = "{label}"


@dataclass
class ICLTemplate:
    """``template`` with a ``{label}`` slot, one label word per class id, and the separator
    between consecutive examples."""

    template: str
    label_words: Sequence[str]
    separator: str = "\n"

    def __post_init__(self) -> None:
        self.label_words = [str(w) for w in self.label_words]
        if self.template.count(LABEL) != 1 or not self.template.endswith(LABEL):
            raise ValueError(f"template must end with one {LABEL} slot: {self.template!r}")

    @property
    def query_suffix(self) -> str:
        """The template text before ``{label}`` without trailing whitespace."""
        return self.template[: -len(LABEL)].rstrip()

    @property
    def label_prefix(self) -> str:
        """The whitespace between the query and the label word (it belongs to the label)."""
        head = self.template[: -len(LABEL)]
        return head[len(head.rstrip()) :]

    def label_text(self, label: int) -> str:
        return self.label_prefix + self.label_words[label]

    def query(self, example: Mapping[str, object]) -> str:
        """The example formatted up to (not including) its label."""
        return self.query_suffix.format(**example)

    def demonstration(self, example: Mapping[str, object], label: int) -> str:
        """The example formatted with its label word."""
        return self.query(example) + self.label_text(label)

    def build(
        self,
        demonstrations: Sequence[Mapping[str, object]],
        query: Mapping[str, object],
        label_field: str = "label",
    ) -> str:
        """Demonstrations (with labels) then the query, joined by ``separator``."""
        parts = [self.demonstration(d, int(d[label_field])) for d in demonstrations]
        return self.separator.join([*parts, self.query(query)])


def sample_demonstrations(
    dataset: Sequence[Mapping[str, object]],
    label_field: str,
    per_class: int,
    seed: int,
    *,
    num_classes: int | None = None,
    shuffle: bool = True,
) -> list[dict[str, object]]:
    """``per_class`` examples of every class drawn without replacement with ``seed``; class
    order (0, 1, ...) unless ``shuffle``, which permutes the whole list with the same seed."""
    labels = np.asarray(dataset[label_field] if hasattr(dataset, "column_names")
                        else [ex[label_field] for ex in dataset])
    classes = range(num_classes) if num_classes is not None else sorted(set(labels.tolist()))
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise ValueError(f"class {c} has {len(pool)} examples, fewer than {per_class}")
        chosen.extend(rng.choice(pool, size=per_class, replace=False).tolist())
    if shuffle:
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    return [dict(dataset[int(i)]) for i in chosen]


def label_token_ids(tokenizer: PreTrainedTokenizerBase, template: ICLTemplate) -> list[int]:
    """The first token of each label word as the model sees it after the query.

    Computed in context: the ids of ``query_suffix + label_text`` minus those of
    ``query_suffix`` (works for byte-level BPE and SentencePiece alike). Raises when two label
    words share a first token, since their scores would be indistinguishable.
    """
    context = template.query_suffix
    base = tokenizer(context, add_special_tokens=False)["input_ids"]
    ids = []
    for label in range(len(template.label_words)):
        full = tokenizer(context + template.label_text(label), add_special_tokens=False)
        full_ids = full["input_ids"]
        if full_ids[: len(base)] != base or len(full_ids) == len(base):
            raise ValueError(f"label word {template.label_words[label]!r} merges with the prompt")
        ids.append(full_ids[len(base)])
    if len(set(ids)) != len(ids):
        raise ValueError(f"label words {template.label_words} share a first token: {ids}")
    return ids
