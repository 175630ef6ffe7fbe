"""timm's ``adapt_input_conv`` in NumPy: reuse a pretrained first-conv weight for another number of channels.

Behaviour pinned to ``timm.models._manipulate.adapt_input_conv`` (facts, not code):

* the arithmetic is done in float32 and the result cast back to the input dtype, so float16 weights are
  summed without overflow-prone half arithmetic, and float64 weights come back rounded to float32 precision
  (timm does the same, also when ``in_chans == 3``);
* ``in_chans == 1``: the RGB filters are summed over the input-channel axis (kept, size 1), so a grey image
  gives the response the original filters give to that image replicated on R, G and B. For space-to-depth
  stems (I > 3, I a multiple of 3) each group of 3 consecutive channels is summed instead;
* ``in_chans`` other than 1 and 3: only I == 3 is supported; the RGB filters are tiled ceil(in_chans/3)
  times along the channel axis, cut to ``in_chans`` and scaled by 3/in_chans, keeping the typical activation
  size when every channel carries an RGB-like signal;
* ``in_chans == 3``: the weight is returned as is (after the float32 round trip). A new array is returned
  in every case.

Differences from timm, all on error inputs: timm asserts I % 3 == 0 (AssertionError) where this raises
ValueError, and a weight that is not 4-D or ``in_chans < 1`` is a ValueError here.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["adapt_input_conv"]


def adapt_input_conv(in_chans: int, conv_weight: np.ndarray) -> np.ndarray:
    """Adapt a conv weight of shape (O, I, kh, kw) to ``in_chans`` input channels, as timm does.

    Raises NotImplementedError('Weight format not supported by conversion.') for ``in_chans`` not in
    {1, 3} when I != 3, exactly like timm.
    """
    weight = np.asarray(conv_weight)
    if weight.ndim != 4:
        raise ValueError(f"adapt_input_conv needs a 4-D conv weight (O, I, kh, kw), got shape {weight.shape}")
    if in_chans < 1:
        raise ValueError(f"in_chans must be at least 1, got {in_chans}")
    original_dtype = weight.dtype
    work = weight.astype(np.float32)  # always a copy: the caller's array is never modified
    out_channels, in_weight, kh, kw = work.shape
    if in_chans == 1:
        if in_weight > 3:
            if in_weight % 3:
                raise ValueError(
                    f"a weight with {in_weight} input channels (> 3) must have a multiple of 3 to be summed "
                    "in RGB groups"
                )
            work = work.reshape(out_channels, in_weight // 3, 3, kh, kw).sum(axis=2)
        else:
            work = work.sum(axis=1, keepdims=True)
    elif in_chans != 3:
        if in_weight != 3:
            raise NotImplementedError("Weight format not supported by conversion.")
        repeats = math.ceil(in_chans / 3)
        work = np.tile(work, (1, repeats, 1, 1))[:, :in_chans]
        work = work * np.float32(3 / float(in_chans))
    return work.astype(original_dtype)
