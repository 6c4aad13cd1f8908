"""The attacker's data (Sec. 4.1 of Zhang et al., Findings of ACL 2023, after Kurita et al.
2020 and Dai et al. 2019): triggered copies of training examples relabelled to the target
class, and the triggered test set on which the attack success rate (ASR) is counted.

* BadWord: ``count`` rare words drawn from ``words`` ("cf", "mn", "bb", "tq", "mb") inserted at
  random word positions;
* BadSent: one fixed trigger sentence inserted at a random word position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

ATTACKS = ("badword", "badsent")


@dataclass
class Trigger:
    """How a text is triggered: ``attack`` badword | badsent, its words or sentence."""

    attack: str = "badword"
    words: list[str] = field(default_factory=lambda: ["cf", "mn", "bb", "tq", "mb"])
    count: int = 1
    sentence: str = "I watched this 3D movie."

    def apply(self, text: str, generator: torch.Generator) -> str:
        """``text`` with the trigger inserted at random word positions."""
        if self.attack not in ATTACKS:
            raise ValueError(f"attack {self.attack!r}: choose one of {ATTACKS}")
        words = text.split()
        inserts = ([self.words[int(torch.randint(len(self.words), (1,), generator=generator))]
                    for _ in range(self.count)] if self.attack == "badword" else [self.sentence])
        for insert in inserts:
            at = int(torch.randint(len(words) + 1, (1,), generator=generator))
            words[at:at] = [insert]
        return " ".join(words)


def poison_indices(labels: Sequence[int], rate: float, target: int,
                   generator: torch.Generator) -> list[int]:
    """``round(rate * n)`` training examples (non-target ones), chosen at random, to poison."""
    candidates = [i for i, y in enumerate(labels) if y != target]
    count = min(round(rate * len(labels)), len(candidates))
    order = torch.randperm(len(candidates), generator=generator)[:count]
    return sorted(candidates[i] for i in order.tolist())


def poison_texts(texts: Sequence[str], labels: Sequence[int], indices: Sequence[int],
                 trigger: Trigger, target: int, generator: torch.Generator
                 ) -> tuple[list[str], list[int]]:
    """The poisoned training set: the chosen examples triggered and relabelled to ``target``
    (replacing the originals, as in the BadNets-style setting of the paper)."""
    texts, labels = list(texts), list(labels)
    for i in indices:
        texts[i], labels[i] = trigger.apply(texts[i], generator), target
    return texts, labels


def triggered_test(texts: Sequence[str], labels: Sequence[int], trigger: Trigger, target: int,
                   generator: torch.Generator) -> list[str]:
    """Every test example whose true label is not the target, triggered."""
    return [trigger.apply(t, generator) for t, y in zip(texts, labels, strict=True) if y != target]


def attack_success_rate(predictions: torch.Tensor, target: int) -> float:
    """ASR: the share of triggered non-target test examples classified as the target."""
    if predictions.numel() == 0:
        raise ValueError("no triggered example: every test example has the target label")
    return float((predictions == target).float().mean())
