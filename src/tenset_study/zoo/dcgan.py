"""The DCGAN generator as TVM's ``relay.testing.dcgan`` defined it (the network TenSet tuned).

A latent vector of 100 values goes through a dense layer to a ``(ngf*8, s/16, s/16)`` map and four
4x4 stride-2 transposed convolutions (batch norm without scale and ReLU after the first three, tanh
after the last) up to a 3-channel ``s x s`` image.
"""

from __future__ import annotations

from torch import Tensor, nn

LATENT = 100


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2015) with ``ngf`` final feature maps and ``size x size`` output."""

    def __init__(self, size: int = 64, ngf: int = 128, latent: int = LATENT) -> None:
        super().__init__()
        if size % 16:
            raise ValueError(f"DCGAN output size must be a multiple of 16, got {size}")
        self.base = size // 16
        self.ngf = ngf
        self.dense = nn.Sequential(nn.Linear(latent, self.base * self.base * ngf * 8, bias=False), nn.ReLU())
        layers: list[nn.Module] = []
        channels = (ngf * 8, ngf * 4, ngf * 2, ngf)
        for cin, cout in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(cout, eps=1e-5 + 1e-12, affine=True), nn.ReLU()]
        layers += [nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.dense(z).reshape(-1, self.ngf * 8, self.base, self.base)
        return self.deconv(x)


def dcgan(size: int = 64) -> DCGANGenerator:
    return DCGANGenerator(size)
