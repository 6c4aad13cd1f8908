"""Image classifiers that expose ``features(x)`` and a final ``classifier`` (``nn.Linear``).

Every model here computes ``logits = classifier(features(x))`` so that methods acting on the last
layer (classifier re-balancing, feature re-training) can reach h(x) and W separately.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (He et al., 2016)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 channels) residual block, used for depth >= 44."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.shortcut = _shortcut(in_planes, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes)
    )


class CifarResNet(nn.Module):
    """CIFAR ResNet with three stages of 16/32/64 x ``width`` channels: depth 6n+2 with basic
    blocks, or (depth >= 44) 9n+2 with bottleneck blocks, n blocks per stage.

    ``depth=8, width=4`` is CReFF's ResNet-8 (one basic block per stage, 256-d features);
    ``depth=56, width=1`` is the ResNet-56 of RedGrape's FedML code (bottleneck blocks, 6 per
    stage, 256-d features).
    ``name`` is the config's label and is not used.
    """

    def __init__(
        self,
        num_classes: int,
        depth: int = 8,
        width: int = 1,
        in_channels: int = 3,
        name: str | None = None,
    ):
        super().__init__()
        block = Bottleneck if depth >= 44 else BasicBlock
        layers_per_block = 3 if block is Bottleneck else 2
        if (depth - 2) % (3 * layers_per_block):
            raise ValueError(f"CifarResNet depth must be 6n+2 (basic) or 9n+2 (>= 44), got {depth}")
        per_stage = (depth - 2) // (3 * layers_per_block)
        planes = [16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(in_channels, planes[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        layers: list[nn.Module] = []
        in_planes = planes[0]
        for stage, p in enumerate(planes):
            for i in range(per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(block(in_planes, p, stride))
                in_planes = p * block.expansion
        self.layers = nn.Sequential(*layers)
        self.feature_dim = in_planes
        self.classifier = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h(x): the globally average-pooled output of the last stage."""
        out = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return out.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class SmallCNN(nn.Module):
    """Two conv + pool layers and one hidden dense layer: the fast model for smoke runs."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        channels: int = 16,
        hidden: int = 64,
        name: str | None = None,
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(2 * channels * 16, hidden),
            nn.ReLU(),
        )
        self.feature_dim = hidden
        self.classifier = nn.Linear(hidden, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
