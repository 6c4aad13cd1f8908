"""CReFF (Shang et al., IJCAI 2022): federated features optimised on the server by matching the
clients' real-feature gradients of the classifier (Eq. 4-6), then classifier re-training (Eq. 7)."""

from __future__ import annotations

import torch
from torch import nn

from papers.fed_rebalance.federated import Arrays, ClientData, ClientEnv, ClientReply, FedMethod
from papers.fed_rebalance.local import FedNet

REAL = "creff_grad"
RETRAINED = "creff_classifier"


def cosine_distance_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """sum_i (1 - <a_i, b_i> / (|a_i| |b_i| + eps)) over the rows of 2-D tensors; a 1-D tensor is
    one row (CReFF's layer-wise gradient distance, Eq. 5)."""
    a2, b2 = a.reshape(1, -1) if a.dim() == 1 else a, b.reshape(1, -1) if b.dim() == 1 else b
    cos = (a2 * b2).sum(-1) / (a2.norm(dim=-1) * b2.norm(dim=-1) + eps)
    return (1.0 - cos).sum()


def gradient_matching_loss(
    features: torch.Tensor,
    label: int,
    classifier: nn.Linear,
    target: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """D(grad_{W,b} CE(classifier(features), label), target) with the graph kept for features."""
    y = torch.full((len(features),), label, dtype=torch.long, device=features.device)
    loss = nn.functional.cross_entropy(classifier(features), y)
    gw, gb = torch.autograd.grad(loss, [classifier.weight, classifier.bias], create_graph=True)
    return cosine_distance_rows(gw, target[0]) + cosine_distance_rows(gb, target[1])


@torch.no_grad()
def _features(
    model: FedNet, data: ClientData, env: ClientEnv, batch_size: int = 500
) -> torch.Tensor:
    model.eval()
    return torch.cat(
        [
            model.features(env.prep(data.x[i : i + batch_size]))
            for i in range(0, len(data.y), batch_size)
        ]
    )


def real_feature_gradients(
    h: torch.Tensor,
    y: torch.Tensor,
    classifier: nn.Linear,
    num_classes: int,
    batch: int,
    repeats: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Client side (Eq. 4): per local class c, the mean over ``repeats`` random batches of at most
    ``batch`` real features of grad_{W,b} CE(classifier(h), c). Returns (C x C x d, C x C, mask)."""
    d = h.shape[1]
    gw = torch.zeros(num_classes, num_classes, d, device=h.device)
    gb = torch.zeros(num_classes, num_classes, device=h.device)
    present = torch.zeros(num_classes, dtype=torch.bool)
    for c in range(num_classes):
        idx = torch.nonzero(y == c).flatten()
        if len(idx) == 0:
            continue
        present[c] = True
        for _ in range(repeats):
            pick = idx[torch.randperm(len(idx), generator=generator)[:batch]].to(h.device)
            target = torch.full((len(pick),), c, dtype=torch.long, device=h.device)
            loss = nn.functional.cross_entropy(classifier(h[pick]), target)
            w, b = torch.autograd.grad(loss, [classifier.weight, classifier.bias])
            gw[c] += w / repeats
            gb[c] += b / repeats
    return gw, gb, present


class CReFF(FedMethod):
    """CReFF on the shared engine. Server state: the federated features (``per_class`` per class,
    initialised N(0, 1)) and the re-trained classifier, which the clients use to compute their
    real-feature gradients and the server uses for evaluation; the global model passed to the next
    round keeps the plain FedAvg classifier, as in the official code.

    The clients train on the shared Trainer like every method (``ClientEnv.train``). The server's
    two optimisations, :meth:`optimise_features` (Eq. 6) and :meth:`retrain_classifier` (Eq. 7),
    are small named loops owned by this paper: they optimise a feature tensor and a linear layer
    on the server's own generator, with no data loader, evaluation or logging to share."""

    def __init__(
        self,
        per_class: int = 100,
        match_steps: int = 100,
        feature_lr: float = 0.1,
        retrain_epochs: int = 300,
        retrain_lr: float = 0.01,
        retrain_batch: int = 32,
        real_batch: int = 32,
        real_repeats: int = 10,
        seed: int = 0,
    ):
        self.per_class, self.match_steps, self.feature_lr = per_class, match_steps, feature_lr
        self.retrain_epochs, self.retrain_lr = retrain_epochs, retrain_lr
        self.retrain_batch, self.real_batch, self.real_repeats = (
            retrain_batch,
            real_batch,
            real_repeats,
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.features: torch.Tensor | None = None
        self.retrained: nn.Linear | None = None

    def setup(self, model: FedNet) -> None:
        c, d = model.classifier.out_features, model.classifier.in_features
        self.features = torch.randn(c * self.per_class, d, generator=self.generator)
        self.labels = torch.arange(c).repeat_interleave(self.per_class)
        self.retrained = self._fresh_linear(d, c)

    def _fresh_linear(self, d: int, c: int) -> nn.Linear:
        layer = nn.Linear(d, c)
        bound = 1.0 / d**0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=self.generator)
            layer.bias.uniform_(-bound, bound, generator=self.generator)
        return layer

    def broadcast(self, client_id: int) -> Arrays:
        if self.retrained is None:
            return {}
        return {
            f"{RETRAINED}.weight": self.retrained.weight.detach().clone(),
            f"{RETRAINED}.bias": self.retrained.bias.detach().clone(),
        }

    def client_update(
        self, model: FedNet, data: ClientData, arrays: Arrays, env: ClientEnv
    ) -> tuple[Arrays, float]:
        out: Arrays = {}
        if f"{RETRAINED}.weight" in arrays:
            head = nn.Linear(model.classifier.in_features, env.num_classes).to(env.prep.device)
            head.weight.data.copy_(arrays[f"{RETRAINED}.weight"])
            head.bias.data.copy_(arrays[f"{RETRAINED}.bias"])
            h = _features(model, data, env)
            gw, gb, present = real_feature_gradients(
                h,
                data.y.to(h.device),
                head,
                env.num_classes,
                self.real_batch,
                self.real_repeats,
                env.generator,
            )
            out = {f"{REAL}.weight": gw, f"{REAL}.bias": gb, f"{REAL}.present": present}
        loss = env.train(model, data)
        return out, loss

    def optimise_features(self, targets: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Eq. 6: ``match_steps`` SGD steps on sum_c D(grad of the class-c federated features,
        mean client gradient of class c) with the current re-trained classifier held fixed."""
        feats = self.features.clone().requires_grad_(True)
        opt = torch.optim.SGD([feats], lr=self.feature_lr)
        head = self.retrained
        for _ in range(self.match_steps):
            loss = sum(
                gradient_matching_loss(
                    feats[c * self.per_class : (c + 1) * self.per_class], c, head, target
                )
                for c, target in targets.items()
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.features = feats.detach()

    def retrain_classifier(self) -> None:
        """Eq. 7: a fresh linear classifier trained by SGD on the federated features."""
        d, c = self.features.shape[1], int(self.labels.max()) + 1
        head = self._fresh_linear(d, c)
        opt = torch.optim.SGD(head.parameters(), lr=self.retrain_lr)
        n = len(self.labels)
        for _ in range(self.retrain_epochs):
            order = torch.randperm(n, generator=self.generator)
            for start in range(0, n, self.retrain_batch):
                idx = order[start : start + self.retrain_batch]
                loss = nn.functional.cross_entropy(head(self.features[idx]), self.labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.retrained = head

    def server_update(self, model: FedNet, replies: list[tuple[int, ClientReply]]) -> None:
        sums: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        for _, r in replies:
            if f"{REAL}.weight" not in r.arrays:
                continue
            for c in torch.nonzero(r.arrays[f"{REAL}.present"]).flatten().tolist():
                sums.setdefault(c, []).append(
                    (r.arrays[f"{REAL}.weight"][c], r.arrays[f"{REAL}.bias"][c])
                )
        targets = {
            c: (torch.stack([g[0] for g in gs]).mean(0), torch.stack([g[1] for g in gs]).mean(0))
            for c, gs in sorted(sums.items())
        }
        if targets:
            self.optimise_features(targets)
        self.retrain_classifier()

    def eval_model(self, model: FedNet) -> nn.Module:
        """The FedAvg backbone with the re-trained classifier."""
        if self.retrained is None:
            return model
        head = self.retrained.to(next(model.parameters()).device)
        return _WithHead(model, head)


class _WithHead(nn.Module):
    def __init__(self, model: FedNet, head: nn.Linear):
        super().__init__()
        self.model, self.head = model, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.model.features(x))
