"""The ICL setting every analysis shares: a frozen causal LM on eager attention, a task's
template and label words, seeded demonstrations and a seeded test sample (Sec. 2, App. A).

Demonstrations: ``shots`` per class from the training split, drawn from the run's
``demonstrations`` seed stream (one set per shot count and index) and shuffled
(``common.text.prompts.sample_demonstrations``); the same set serves every test example unless
an analysis asks for one per example. The test sample
is ``test_size`` rows of the evaluation split drawn with the ``test`` stream; prompts longer than
``max_length`` tokens are skipped, as in the official code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from hydra.utils import instantiate
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from common.context import RunContext
from common.params import ConfigError, check_choice, check_positive
from common.seeding import derive_seed
from common.text.data import TextDataset
from common.text.prompts import ICLTemplate, sample_demonstrations
from papers.label_anchors.prompting import Prompt, build_prompt
from papers.label_anchors.scoring import SCORING, label_logits, label_word_tokens

EVAL_SPLITS = {"sst2": "validation"}
"""Evaluation split per dataset (default ``test``): SST-2's test labels are hidden."""


@dataclass
class ICLParams:
    """``test_size`` test examples (None: the whole split), ``shots`` demonstrations per class,
    ``label_scoring`` (:data:`~papers.label_anchors.scoring.SCORING`), ``max_length`` tokens."""

    test_size: int | None = 1000
    shots: int = 1
    label_scoring: str = "first"
    max_length: int = 1024

    def __post_init__(self) -> None:
        check_positive("icl.test_size", self.test_size)
        check_positive("icl.shots", self.shots)
        check_positive("icl.max_length", self.max_length)
        check_choice("icl.label_scoring", self.label_scoring, SCORING)


@dataclass
class Setting:
    """Model, tokenizer, task and samples of one run; :meth:`prompt` and :meth:`logits` are the
    two things every analysis does."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    template: ICLTemplate
    label_field: str
    label_tokens: list[list[int]]
    demonstrations: list[dict[str, object]]
    test: list[dict[str, object]]
    train: object
    params: ICLParams
    device: torch.device
    demo_seed: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.template.label_words)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        return int(self.model.config.num_attention_heads)

    @property
    def first_label_tokens(self) -> list[int]:
        return [ids[0] for ids in self.label_tokens]

    def draw_demonstrations(self, shots: int, index: int = 0) -> list[dict[str, object]]:
        """``shots`` demonstrations per class, set ``index`` of the run's demonstration stream
        (set 0 with ``icl.shots`` is :attr:`demonstrations`)."""
        return sample_demonstrations(self.train, self.label_field, shots,
                                     derive_seed(self.demo_seed, f"shots{shots}", index),
                                     num_classes=self.num_classes)

    def prompt(self, example: Mapping[str, object],
               demonstrations: Sequence[Mapping[str, object]] | None = None) -> Prompt:
        """The ICL prompt of ``example`` after ``demonstrations`` (default: the run's)."""
        demos = self.demonstrations if demonstrations is None else demonstrations
        return build_prompt(self.tokenizer, self.template, demos, example, self.label_field,
                            label_ids=self.first_label_tokens)

    def prompts(self, examples: Sequence[Mapping[str, object]] | None = None) -> list[Prompt]:
        """Prompts of ``examples`` (default: the test sample) no longer than ``max_length``."""
        built = [self.prompt(ex) for ex in (self.test if examples is None else examples)]
        return [p for p in built if len(p.ids) <= self.params.max_length]

    def ids(self, prompt: Prompt) -> Tensor:
        return torch.tensor([prompt.ids], device=self.device)

    def logits(self, prompt: Prompt) -> Tensor:
        """Next-token logits (V,) at the target position q."""
        return self.model(self.ids(prompt)).logits[0, -1].float()

    def class_scores(self, logits: Tensor) -> Tensor:
        """Label-word scores (..., C) from next-token logits (..., V)."""
        return label_logits(logits, self.label_tokens)

    def sample_examples(self, rows: object, per_class: int, seed: int,
                        exclude: Sequence[Mapping[str, object]] = ()) -> list[dict[str, object]]:
        """``per_class`` rows of each class from ``rows`` not in ``exclude`` (by content)."""
        taken = {tuple(sorted((k, str(v)) for k, v in ex.items())) for ex in exclude}
        keep = [i for i in range(len(rows))
                if tuple(sorted((k, str(v)) for k, v in dict(rows[i]).items())) not in taken]
        return sample_demonstrations(rows.select(keep), self.label_field, per_class, seed,
                                     num_classes=self.num_classes)


def load_setting(ctx: RunContext, params: ICLParams) -> Setting:
    """The run's model (eager attention) and data, samples from its seed streams."""
    model, tokenizer = instantiate(ctx.cfg.model, head="causal_lm", attn_implementation="eager")
    return build_setting(model, tokenizer, instantiate(ctx.cfg.data), params,
                         demo_seed=ctx.seed_for("demonstrations"),
                         test_seed=ctx.seed_for("test"), device=ctx.device)


def build_setting(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, data: TextDataset,
                  params: ICLParams, *, demo_seed: int, test_seed: int,
                  device: torch.device | str = "cpu") -> Setting:
    """Freeze ``model`` (eval mode, no parameter gradients: only attention needs them) and draw
    the demonstrations and the test sample with the two seeds."""
    model.requires_grad_(False)
    model.eval()
    model.to(device)
    if data.icl is None or data.label_field is None:
        raise ConfigError("data", f"'{data.name}' has no ICL template",
                          "pick a dataset with an icl: block: data=sst2, ag_news, trec or emo")
    template = data.icl
    train = data.load("train")
    test_rows = data.load(EVAL_SPLITS.get(data.name, "test"))
    if params.test_size is not None and params.test_size < test_rows.num_rows:
        test_rows = test_rows.shuffle(seed=test_seed).select(range(params.test_size))
    setting = Setting(
        model=model,
        tokenizer=tokenizer,
        template=template,
        label_field=data.label_field,
        label_tokens=label_word_tokens(tokenizer, template, params.label_scoring),
        demonstrations=[],
        test=[dict(r) for r in test_rows],
        train=train,
        params=params,
        device=torch.device(device),
        demo_seed=demo_seed,
    )
    setting.demonstrations = setting.draw_demonstrations(params.shots)
    return setting
