"""Types of the sampler's C candidate pass (``_candidates.c``)."""

import numpy as np
import numpy.typing as npt

def candidates(
    logits: npt.NDArray[np.float32], out: npt.NDArray[np.void], top_k: int, margin: float
) -> int:
    """Write the tokens that can be among the top-k into ``out``; returns how many."""
