"""NPR: Neighbouring Pixel Relationships (Tan et al., CVPR 2024).

"Rethinking the Up-Sampling Operations in CNN-based Generative Network for Generalizable Deepfake
Detection". Almost every image generator ends in up-sampling layers, and up-sampling makes each 2x2
group of output pixels depend on one input value. The residual x - up(down(x)) with nearest-neighbour
down/up-sampling by 2 isolates exactly that local relationship and removes most image content, so a small
ResNet trained from scratch on it generalises across generators better than one trained on raw pixels.

The network follows the paper's reference design: a ResNet-50 stem and its first two Bottleneck stages
(3 and 4 blocks), global average pooling and one logit. `width` scales every stage (64 is the paper's);
a narrower net trains in minutes on a CPU, which is what the bundled default uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The paper feeds NPR of an ImageNet-normalised image and multiplies it by 2/3; dividing by a typical
# ImageNet channel std (0.225) reproduces that scale for inputs in [0, 1].
_INPUT_SCALE = (2.0 / 3.0) / 0.225


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """x - nearest_up(nearest_down(x)) by a factor 2: zero wherever a 2x2 block is one repeated value.

    Height and width must be even (the 224 crops are), so every 2x2 block is complete.
    """
    down = x[:, :, ::2, ::2]
    up = down.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    return x - up


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or inplanes != out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inplanes, out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + self.shortcut(x))


class NPRNet(nn.Module):
    """Input: float images in [0, 1], Nx3xHxW with even H and W. Output: N logits (P(generated) = sigmoid)."""

    def __init__(self, width: int = 64, layers: tuple[int, int] | list[int] = (3, 4)) -> None:
        super().__init__()
        if width < 1 or len(layers) != 2 or min(layers) < 1:
            raise ValueError("NPRNet needs width >= 1 and two stages of at least one block each")
        self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = width
        stages: list[nn.Module] = []
        for index, blocks in enumerate(layers):
            planes = width * (2**index)
            stride = 1 if index == 0 else 2
            stage: list[nn.Module] = []
            for block in range(blocks):
                stage.append(Bottleneck(inplanes, planes, stride if block == 0 else 1))
                inplanes = planes * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(inplanes, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = npr_residual(x) * _INPUT_SCALE
        y = self.maxpool(F.relu(self.bn1(self.conv1(residual))))
        y = self.stages(y)
        y = torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)
        return self.fc(y).squeeze(1)
