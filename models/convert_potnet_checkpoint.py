#!/usr/bin/env python3
"""Turn a checkpoint of the original PotNet code (divelab/AIRS, OpenMat/PotNet) into a
state dict saved as safetensors, the input of `crystalpot import-potnet`.

Usage:
    python3 models/convert_potnet_checkpoint.py CHECKPOINT.pt STATE_DICT.safetensors
    crystalpot import-potnet --weights STATE_DICT.safetensors --config CONFIG.json --out MODEL.safetensors

Needs only torch and safetensors (no PotNet code, no torch_geometric). The checkpoint may be
a bare state_dict or a training checkpoint holding one under "model", "state_dict" or
"model_state_dict" (ignite/PyTorch conventions); a "module." prefix (DataParallel) is removed.
Tensor names are kept exactly as in PyTorch: crystalpot reads them by those names.
"""

import sys

import torch
from safetensors.torch import save_file


def state_dict_of(checkpoint):
    if isinstance(checkpoint, torch.nn.Module):
        return checkpoint.state_dict()
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(checkpoint, dict) and key in checkpoint:
            inner = checkpoint[key]
            return inner.state_dict() if isinstance(inner, torch.nn.Module) else inner
    return checkpoint


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    state = state_dict_of(checkpoint)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        sys.exit(f"{source}: no state_dict found (keys: {list(checkpoint)[:10]})")
    tensors = {}
    for name, value in state.items():
        name = name[len("module."):] if name.startswith("module.") else name
        value = value.detach().cpu().contiguous()
        if value.is_floating_point():
            value = value.to(torch.float32)
        tensors[name] = value
    save_file(tensors, target)
    print(f"wrote {target}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
