"""Inception-v3 (torchvision's definition in eval mode: no auxiliary classifier, no input transform)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Size = int | tuple[int, int]


class BasicConv2d(nn.Sequential):
    """Convolution without bias, batch norm (eps 1e-3), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: Size, stride: int = 1, padding: Size = 0) -> None:
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(cout, eps=0.001), nn.ReLU(inplace=True))


def _avg_pool_branch(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.AvgPool2d(3, 1, 1), BasicConv2d(cin, cout, 1))


class InceptionA(nn.Module):
    """35x35 module: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(cin, 64, 1)
        self.b5 = nn.Sequential(BasicConv2d(cin, 48, 1), BasicConv2d(48, 64, 5, padding=2))
        self.b3 = nn.Sequential(BasicConv2d(cin, 64, 1), BasicConv2d(64, 96, 3, padding=1),
                                BasicConv2d(96, 96, 3, padding=1))
        self.bp = _avg_pool_branch(cin, pool_features)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.bp(x)], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b3 = BasicConv2d(cin, 384, 3, stride=2)
        self.b3d = nn.Sequential(BasicConv2d(cin, 64, 1), BasicConv2d(64, 96, 3, padding=1),
                                 BasicConv2d(96, 96, 3, stride=2))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b3(x), self.b3d(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    """17x17 module with factorised 7x7 convolutions (1x7 and 7x1)."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(cin, 192, 1)
        self.b7 = nn.Sequential(BasicConv2d(cin, c7, 1), BasicConv2d(c7, c7, (1, 7), padding=(0, 3)),
                                BasicConv2d(c7, 192, (7, 1), padding=(3, 0)))
        self.b7d = nn.Sequential(
            BasicConv2d(cin, c7, 1), BasicConv2d(c7, c7, (7, 1), padding=(3, 0)),
            BasicConv2d(c7, c7, (1, 7), padding=(0, 3)), BasicConv2d(c7, c7, (7, 1), padding=(3, 0)),
            BasicConv2d(c7, 192, (1, 7), padding=(0, 3)),
        )
        self.bp = _avg_pool_branch(cin, 192)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b7(x), self.b7d(x), self.bp(x)], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b3 = nn.Sequential(BasicConv2d(cin, 192, 1), BasicConv2d(192, 320, 3, stride=2))
        self.b7 = nn.Sequential(
            BasicConv2d(cin, 192, 1), BasicConv2d(192, 192, (1, 7), padding=(0, 3)),
            BasicConv2d(192, 192, (7, 1), padding=(3, 0)), BasicConv2d(192, 192, 3, stride=2),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b3(x), self.b7(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """8x8 module with expanded filter banks (1x3 and 3x1 splits)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(cin, 320, 1)
        self.b3_1 = BasicConv2d(cin, 384, 1)
        self.b3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.b3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.b3d_1 = nn.Sequential(BasicConv2d(cin, 448, 1), BasicConv2d(448, 384, 3, padding=1))
        self.b3d_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.b3d_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.bp = _avg_pool_branch(cin, 192)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.b3_1(x)
        b3d = self.b3d_1(x)
        return torch.cat([
            self.b1(x),
            torch.cat([self.b3_2a(b3), self.b3_2b(b3)], 1),
            torch.cat([self.b3d_2a(b3d), self.b3d_2b(b3d)], 1),
            self.bp(x),
        ], 1)


class InceptionV3(nn.Module):
    """Inception-v3 (Szegedy et al. 2016) for 299x299 inputs and 1000 ImageNet classes."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            BasicConv2d(3, 32, 3, stride=2), BasicConv2d(32, 32, 3), BasicConv2d(32, 64, 3, padding=1),
            nn.MaxPool2d(3, 2), BasicConv2d(64, 80, 1), BasicConv2d(80, 192, 3), nn.MaxPool2d(3, 2),
            InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64), InceptionB(288),
            InceptionC(768, 128), InceptionC(768, 160), InceptionC(768, 160), InceptionC(768, 192),
            InceptionD(768), InceptionE(1280), InceptionE(2048),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pool(self.features(x)).flatten(1)))


def inception_v3() -> InceptionV3:
    return InceptionV3()
