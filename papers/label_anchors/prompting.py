"""ICL prompts with every token's role: the positions the paper's analyses index (Sec. 2).

A prompt is demonstrations and a query rendered with :class:`common.text.prompts.ICLTemplate`
(``"Review: {sentence}\\nSentiment: {label}"``, examples joined by ``"\\n"``). Each token gets a
role from the first non-whitespace character it covers:

* ``FIELD``: the example's own text (a review, a question);
* ``FORMAT``: template text and separators (``Review``, ``:``, ``\\n``, ``Sentiment``);
  a whitespace-only token takes the role of its first character;
* ``LABEL``: a demonstration's label word.

The label position p_k of demonstration k is the first token of its label word (the anchor);
the target position q is the prompt's last token (the ``:`` before the predicted label word).
Hidden-anchor compression (Sec. 3.2) keeps the demonstrations' FORMAT and LABEL tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter

from transformers import PreTrainedTokenizerBase

from common.text.prompts import ICLTemplate
from common.text.tokenizers import add_bos

FIELD, FORMAT, LABEL = 0, 1, 2


@dataclass
class Prompt:
    """Token ids of one ICL prompt and the positions of Sec. 2: ``label_positions[k]`` is p_k,
    ``demo_labels[k]`` its class, ``target`` is q, ``roles[t]`` the role of token t and
    ``context_length`` the number of tokens before the query (demonstrations and their
    separators, plus BOS)."""

    ids: list[int]
    roles: list[int]
    label_positions: list[int]
    demo_labels: list[int]
    context_length: int
    query_label: int | None = None

    @property
    def target(self) -> int:
        return len(self.ids) - 1

    def anchor_positions(self) -> list[int]:
        """Positions Hidden_anchor keeps: the context's FORMAT and LABEL tokens (and BOS)."""
        return [t for t in range(self.context_length) if self.roles[t] != FIELD]

    def field_positions(self, demo: int) -> list[int]:
        """The FIELD tokens of demonstration ``demo`` (Hidden_random draws from these)."""
        start = self.label_positions[demo - 1] + 1 if demo > 0 else 0
        return [t for t in range(start, self.label_positions[demo]) if self.roles[t] == FIELD]


def _pieces(template: ICLTemplate, example: Mapping[str, object], label: int | None
            ) -> list[tuple[str, int]]:
    """The rendered example as (text, role) pieces; ``label=None`` renders a query."""
    pieces: list[tuple[str, int]] = []
    for literal, name, spec, conversion in Formatter().parse(template.template):
        if literal:
            pieces.append((literal, FORMAT))
        if name is None:
            continue
        if name == "label":
            break
        value = Formatter().format_field(
            Formatter().convert_field(example[name], conversion), spec or "")
        pieces.append((value, FIELD))
    last, role = pieces.pop()
    if last.rstrip():
        pieces.append((last.rstrip(), role))
    if label is not None:
        pieces.append((template.label_text(label), LABEL))
    return pieces


def build_prompt(
    tokenizer: PreTrainedTokenizerBase,
    template: ICLTemplate,
    demonstrations: Sequence[Mapping[str, object]],
    query: Mapping[str, object],
    label_field: str,
    *,
    label_ids: Sequence[int] | None = None,
) -> Prompt:
    """Tokenise demonstrations + query (the text of ``template.build``) and find p_k and q.

    ``label_ids`` (the first token of each label word, :func:`common.text.prompts.label_token_ids`)
    checks that every p_k holds its class's label token, i.e. that the analyses look at the
    token the model predicts.
    """
    pieces: list[tuple[str, int]] = []
    label_chars: list[int] = []
    demo_labels: list[int] = []
    for demo in demonstrations:
        label = int(demo[label_field])
        for text, role in _pieces(template, demo, label):
            if role == LABEL:
                label_chars.append(sum(len(t) for t, _ in pieces) + len(text) - len(text.lstrip()))
            pieces.append((text, role))
        pieces.append((template.separator, FORMAT))
        demo_labels.append(label)
    context_chars = sum(len(t) for t, _ in pieces)
    pieces.extend(_pieces(template, query, None))
    text = "".join(t for t, _ in pieces)
    char_roles = [role for t, role in pieces for _ in t]

    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(encoded["input_ids"]), list(encoded["offset_mapping"])
    roles = []
    for start, end in offsets:
        chars = [c for c in range(start, end) if not text[c].isspace()]
        roles.append(char_roles[chars[0] if chars else start])
    positions = []
    for char in label_chars:
        token = next(i for i, (s, e) in enumerate(offsets) if s <= char < e)
        positions.append(token)
    context = next((i for i, (s, _) in enumerate(offsets) if s >= context_chars), len(ids))
    if add_bos(tokenizer):
        ids, roles = [tokenizer.bos_token_id, *ids], [FORMAT, *roles]
        positions = [p + 1 for p in positions]
        context += 1
    if label_ids is not None:
        for p, c in zip(positions, demo_labels, strict=True):
            if ids[p] != label_ids[c]:
                raise ValueError(
                    f"token {p} of the prompt is {ids[p]}, not the first token {label_ids[c]} of "
                    f"label word {template.label_words[c]!r}: the word merges with its context")
    query_label = query.get(label_field)
    return Prompt(ids, roles, positions, demo_labels, context,
                  None if query_label is None else int(query_label))
