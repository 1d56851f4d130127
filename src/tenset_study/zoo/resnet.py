"""ResNet, ResNeXt and Wide ResNet (torchvision's v1.5 layout: stride on the 3x3 convolution)."""

from __future__ import annotations

from torch import Tensor, nn


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(cin, planes, 3, stride), nn.ReLU(inplace=True), *_conv_bn(planes, planes, 3)
        )
        self.shortcut = _shortcut(cin, planes * self.expansion, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt, strided), 1x1 expand by 4."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.body = nn.Sequential(
            *_conv_bn(cin, width, 1), nn.ReLU(inplace=True),
            *_conv_bn(width, width, 3, stride, groups), nn.ReLU(inplace=True),
            *_conv_bn(width, planes * self.expansion, 1),
        )
        self.shortcut = _shortcut(cin, planes * self.expansion, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(*_conv_bn(cin, cout, 1, stride))


class ResNet(nn.Module):
    """ImageNet ResNet: 7x7/2 stem, 3x3/2 max pool, four stages, global average pool, 1000-way FC."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, int, int, int],
                 groups: int = 1, width_per_group: int = 64, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages: list[nn.Module] = []
        cin = 64
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(cin, planes, stride, groups, width_per_group))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(x.flatten(1))


def resnet_18() -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2))


def resnet_50() -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3))


def resnext_50() -> ResNet:
    """ResNeXt-50 32x4d."""
    return ResNet(Bottleneck, (3, 4, 6, 3), groups=32, width_per_group=4)


def wide_resnet_50() -> ResNet:
    """Wide ResNet-50-2 (bottleneck width doubled)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), width_per_group=128)


class BasicBlock3d(nn.Module):
    """R3D basic block: two 3x3x3 convolutions with an identity or 1x1x1 projection shortcut."""

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(cin, planes, 3, stride, 1, bias=False), nn.BatchNorm3d(planes), nn.ReLU(inplace=True),
            nn.Conv3d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm3d(planes),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv3d(cin, planes, 1, stride, bias=False), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet3d(nn.Module):
    """torchvision's ``r3d_18`` (video ResNet-18 with full 3x3x3 convolutions, 400 Kinetics classes)."""

    def __init__(self, layers: tuple[int, int, int, int] = (2, 2, 2, 2), num_classes: int = 400) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), nn.BatchNorm3d(64), nn.ReLU(inplace=True)
        )
        stages: list[nn.Module] = []
        cin = 64
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = [BasicBlock3d(cin if j == 0 else planes, planes, 2 if (i > 0 and j == 0) else 1)
                      for j in range(count)]
            cin = planes
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


def resnet3d_18() -> ResNet3d:
    return ResNet3d()
