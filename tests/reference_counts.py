"""Parameter and multiply-accumulate counts of the zoo's architectures from sources outside edgecnn.

The registry's ``params``/``macs`` are edgecnn's own counts of its own builders (tests/test_zoo_* check that
the builders give exactly those); this table is what they are checked against, one source per row:

- **torchvision**: the ``num_params`` and ``_ops`` of each model's ImageNet weights in torchvision's
  source (``torchvision/models/<family>.py``, shown as "num_params" and "GFLOPS" on
  pytorch.org/vision/stable/models.html). torchvision counts ``_ops`` with fvcore-style counting, one per
  multiply-add, so they are GMACs: ResNet-50's 4.089 is its multiply-add count. ``num_params`` counts
  learnable weights only (BatchNorm running statistics are buffers), as edgecnn's ``published_params`` does.
- **paper**: the paper's own table, for the two families torchvision does not ship.

Tolerances (relative): parameters are exact for torchvision rows (the same architectures, weight for
weight); MACs within 1% for torchvision (it prints 3 decimals of G, which alone is up to 0.9% for
MobileNetV3-small's 0.057); 2% for papers, which round to two or three significant digits (3% for LeNet-5's
parameters: see its row).
"""
from __future__ import annotations

from dataclasses import dataclass

TV = "torchvision/models/"


@dataclass(frozen=True)
class Reference:
    params: int | None
    macs: float | None
    source: str
    params_tolerance: float
    macs_tolerance: float


def _tv(params: int, gmacs: float, where: str) -> Reference:
    return Reference(params, gmacs * 1e9, TV + where, 0.0, 0.01)


def _paper(params: int | None, macs: float | None, where: str) -> Reference:
    return Reference(params, macs, where, 0.02, 0.02)


REFERENCE: dict[str, Reference] = {
    "alexnet": _tv(61_100_840, 0.714, "alexnet.py AlexNet_Weights.IMAGENET1K_V1"),
    "vgg11": _tv(132_863_336, 7.609, "vgg.py VGG11_Weights.IMAGENET1K_V1"),
    "vgg16": _tv(138_357_544, 15.47, "vgg.py VGG16_Weights.IMAGENET1K_V1"),
    "googlenet": _tv(6_624_904, 1.498, "googlenet.py GoogLeNet_Weights.IMAGENET1K_V1 (no auxiliary heads)"),
    "resnet18": _tv(11_689_512, 1.814, "resnet.py ResNet18_Weights.IMAGENET1K_V1"),
    "resnet34": _tv(21_797_672, 3.664, "resnet.py ResNet34_Weights.IMAGENET1K_V1"),
    "resnet50": _tv(25_557_032, 4.089, "resnet.py ResNet50_Weights.IMAGENET1K_V1 (v1.5: stride in the 3x3)"),
    "densenet121": _tv(7_978_856, 2.834, "densenet.py DenseNet121_Weights.IMAGENET1K_V1"),
    "mobilenet_v2": _tv(3_504_872, 0.301, "mobilenetv2.py MobileNet_V2_Weights.IMAGENET1K_V1"),
    "mobilenet_v3_large": _tv(5_483_032, 0.217, "mobilenetv3.py MobileNet_V3_Large_Weights.IMAGENET1K_V1"),
    "mobilenet_v3_small": _tv(2_542_856, 0.057, "mobilenetv3.py MobileNet_V3_Small_Weights.IMAGENET1K_V1"),
    "efficientnet_b0": _tv(5_288_548, 0.386, "efficientnet.py EfficientNet_B0_Weights.IMAGENET1K_V1"),
    "convnext_tiny": _tv(28_589_128, 4.456, "convnext.py ConvNeXt_Tiny_Weights.IMAGENET1K_V1"),
    # Howard et al. 2017, arXiv:1704.04861, Table 8: 1.0 MobileNet-224, 569 million mult-adds, 4.2 million params
    "mobilenet_v1": _paper(4_200_000, 569e6, "Howard et al. 2017, MobileNets, Table 8"),
    # LeCun et al. 1998, Proc. IEEE, section II.B: LeNet-5 has about 60,000 trainable parameters, with C3's partial
    # connection table; edgecnn connects C3 fully (61,706), hence 3% here. The paper counts connections, not MACs.
    "lenet5": Reference(60_000, None, "LeCun et al. 1998, Gradient-Based Learning, section II.B", 0.03, 0.0),
}
# simple_cnn is edgecnn's own baseline (no paper): tests/test_zoo_classic.py derives its counts by hand.
NO_REFERENCE = ("simple_cnn",)
