"""pixelcnn_torch.py: the PixelCNN of cugen's include/cugen/pixelcnn.h in PyTorch, the
same module names (its state_dict is pixelcnn.safetensors), for the reference files
(make_refs.py) and the training comparison (train_torch_pixelcnn.py).

    conv_in 7x7 mask A (1 -> 2h); blocks.i: x + conv3(relu(conv2(relu(conv1(relu(x))))))
    with conv1 1x1 2h -> h, conv2 3x3 mask B, conv3 1x1 h -> 2h; relu, out1 1x1 2h -> 2h,
    relu, out2 1x1 2h -> L (1 logit for binary pixels, 256 for 8-bit ones).

The masks multiply the weights in the forward (so their gradient is masked); they are
buffers left out of the state_dict.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_mask(k, type_b):
    c = k // 2
    m = torch.zeros(k, k)
    m[:c, :] = 1
    m[c, :c + (1 if type_b else 0)] = 1
    return m


class Block(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.conv1 = nn.Conv2d(2 * h, h, 1)
        self.conv2 = nn.Conv2d(h, h, 3, padding=1)
        self.conv3 = nn.Conv2d(h, 2 * h, 1)


class PixelCNN(nn.Module):
    def __init__(self, hidden, blocks, levels):
        super().__init__()
        self.levels = levels
        self.conv_in = nn.Conv2d(1, 2 * hidden, 7, padding=3)
        self.blocks = nn.ModuleList([Block(hidden) for _ in range(blocks)])
        self.out1 = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.out2 = nn.Conv2d(2 * hidden, 1 if levels == 2 else 256, 1)
        self.register_buffer("mask_a", causal_mask(7, False), persistent=False)
        self.register_buffer("mask_b", causal_mask(3, True), persistent=False)

    def forward(self, x):
        """x (N, 1, H, W) -> logits (N, L, H, W)"""
        h = F.conv2d(x, self.conv_in.weight * self.mask_a, self.conv_in.bias, padding=3)
        for b in self.blocks:
            r = b.conv1(F.relu(h))
            r = F.conv2d(F.relu(r), b.conv2.weight * self.mask_b, b.conv2.bias, padding=1)
            h = h + b.conv3(F.relu(r))
        return self.out2(F.relu(self.out1(F.relu(h))))

    def nll(self, x, labels):
        """-log p(x) summed over the batch, nats; labels (N, H, W) int64 (the 0/1 or 8-bit
        values of the pixels)"""
        z = self.forward(x)
        if self.levels == 2:
            return F.binary_cross_entropy_with_logits(z, x, reduction="sum")
        return F.cross_entropy(z, labels, reduction="sum")


def pixels(images_u8, levels):
    """uint8 (N, H, W) -> network input (N, 1, H, W), labels (N, H, W): binarized at 0.5
    (v >= 128) or the 8-bit values with input v / 255"""
    v = images_u8.to(torch.int64)
    if levels == 2:
        lab = (v >= 128).to(torch.int64)
        return lab.to(torch.float32).unsqueeze(1), lab
    return (v.to(torch.float32) / 255.0).unsqueeze(1), v
