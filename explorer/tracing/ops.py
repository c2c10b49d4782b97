"""The tracer's vocabulary: torch functions by what they do, as a recording names them (``dataflow.op_name``:
``conv2d`` for ``F.conv2d``, ``torch.conv2d`` and ``aten.conv2d.default`` alike). Every other module of
``tracing`` (and the lesions) reads its sets from here, so one op is classified in one place."""
from __future__ import annotations

# Additions: what a residual block's sum is made of (ADDS), and those that write into their first operand.
INPLACE_ADDS = frozenset({"add_", "__iadd__"})
ADDS = frozenset({"add", "__add__", "__radd__"}) | INPLACE_ADDS

# Ops with a kernel (their kernel, stride and dilation are recorded), and reductions that may pool a whole map.
CONVS = frozenset({"conv1d", "conv2d", "conv3d", "convolution", "_convolution"})
POOLS = frozenset({"max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "max_pool1d", "avg_pool1d"})
GLOBAL = frozenset({"adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_avg_pool1d", "mean", "sum", "amax",
                    "max", "std", "var", "_adaptive_avg_pool2d", "adaptive_max_pool2d_with_indices"})

# Ops that keep each position to itself and one tensor to one tensor: what may follow the sum in a block.
POINTWISE = frozenset({"relu", "relu_", "gelu", "silu", "silu_", "leaky_relu", "leaky_relu_", "hardswish",
                       "hardswish_", "mish", "elu", "elu_", "relu6", "hardtanh", "hardtanh_", "prelu", "dropout",
                       "clone", "contiguous", "selu", "celu", "softplus", "tanh", "sigmoid", "identity", "alias",
                       "detach", "_to_copy", "to"})

# Ops that move positions: a sum fed through one of them merges resolutions (a feature pyramid's top-down
# path), which no residual block does.
RESAMPLE = frozenset({"interpolate", "upsample", "upsample_nearest2d", "upsample_bilinear2d", "_upsample_nearest_exact2d",
                      "upsample_bicubic2d", "grid_sample", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold"})

# Functional ops that move no data between positions or channels: left out of the layer records (their
# modules, nn.Flatten say, are kept).
SHAPE_ONLY = frozenset({"flatten", "view", "reshape", "contiguous", "squeeze", "unsqueeze", "permute", "transpose",
                        "expand", "clone", "detach", "dropout", "identity", "alias", "to", "_to_copy", "__getitem__",
                        "getitem", "split", "chunk", "unbind", "size", "t", "type_as", "float", "half", "bfloat16"})
# Ops that join or scale values rather than being a layer: never a block's "extra" layer.
STRUCTURAL = ADDS | frozenset({"cat", "mul", "mul_", "__mul__", "stack", "sum", "div", "sub", "__truediv__", "__sub__"})

# A functional op as the layer kind its records show.
OP_KINDS = {"relu": "relu", "relu_": "relu", "batch_norm": "bn", "max_pool2d": "maxpool", "avg_pool2d": "avgpool2d",
            "adaptive_avg_pool2d": "avgpool", "mean": "avgpool", "linear": "fc", "conv2d": "conv",
            "group_norm": "GroupNorm", "layer_norm": "LayerNorm", "addmm": "fc", "matmul": "fc",
            "_native_batch_norm_legit_no_training": "bn", "max_pool2d_with_indices": "maxpool",
            "adaptive_avg_pool2d_backward": "avgpool", "_adaptive_avg_pool2d": "avgpool", "silu": "SiLU",
            "gelu": "GELU", "hardtanh": "ReLU6", "hardtanh_": "ReLU6", "leaky_relu": "LeakyReLU",
            "sigmoid": "sigmoid", "add": "add", "add_": "add"}

# What a parameter-free shortcut is made of (``shortcuts``): strided slices, pads, concatenations with zeros.
SLICES = frozenset({"__getitem__", "getitem", "slice", "narrow", "index_select"})
PADS = frozenset({"pad", "constant_pad_nd", "reflection_pad2d", "replication_pad2d"})
FILLS = {"pad": 3, "constant_pad_nd": 2}  # the argument a constant pad takes its fill value from
CONCATS = frozenset({"cat", "concat", "concatenate"})
ZEROS = frozenset({"zeros", "zeros_like", "new_zeros"})

__all__ = ["ADDS", "CONCATS", "CONVS", "FILLS", "GLOBAL", "INPLACE_ADDS", "OP_KINDS", "PADS", "POINTWISE", "POOLS",
           "RESAMPLE", "SHAPE_ONLY", "SLICES", "STRUCTURAL", "ZEROS"]
