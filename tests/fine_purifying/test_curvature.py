"""The clean curvature: per-example gradients by torch.func equal the backward loop (padded
batches included); Hutchinson's estimate approaches the exact Hessian diagonal."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from papers.fine_purifying.curvature import (
    fisher_diagonal,
    fisher_diagonal_loop,
    hutchinson_diagonal,
)


def test_torch_func_fisher_equals_the_loop(tiny_classifier):
    model, tok = tiny_classifier
    enc = tok(["a short one", "a much longer sentence with more words in it", "mid length here"],
              padding=True, return_tensors="pt")
    batch = {**enc, "labels": torch.tensor([0, 1, 1])}
    names = ["bert.embeddings.word_embeddings.weight",
             "bert.encoder.layer.0.attention.self.query.weight", "classifier.weight"]
    fast = fisher_diagonal(model, [batch], names, chunk=2)
    slow = fisher_diagonal_loop(model, [batch], names)
    for n in names:
        assert torch.allclose(fast[n], slow[n], rtol=1e-4, atol=1e-10), n
    assert float(fast["classifier.weight"].sum()) > 0


class Tiny(nn.Module):
    """A linear-tanh-linear classifier with ``.logits`` outputs, small enough for a full Hessian."""

    base_model_prefix = "body"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Linear(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, input_ids: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=self.head(torch.tanh(self.body(input_ids))))


def test_hutchinson_approaches_the_exact_hessian_diagonal():
    model = Tiny()
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(3))
    names = ["body.weight", "head.weight"]
    estimate = hutchinson_diagonal(model, [{"input_ids": x, "labels": y}], names, 3000,
                                   torch.Generator().manual_seed(2))
    params = dict(model.named_parameters())
    for n in names:
        def loss(w, n=n):
            replaced = {**{k: v.detach() for k, v in params.items()}, n: w}
            out = torch.func.functional_call(model, replaced, (x,)).logits
            return nn.functional.cross_entropy(out, y)
        exact = torch.autograd.functional.hessian(loss, params[n].detach())
        diag = exact.reshape(params[n].numel(), -1).diagonal().view_as(params[n])
        assert torch.allclose(estimate[n], diag, atol=0.15 * float(diag.abs().max()) + 1e-4), n
