"""Every shipped example, exported: loss and every gradient equal `cdlc
grad`'s on a real batch of its own data (f64 to 1e-10, f32 to 1e-4)."""

import glob
import os

import pytest

import compare

EXAMPLES = sorted(glob.glob(os.path.join(compare.ROOT, "examples", "*.cdl")))
# Examples the JIT does not compile (a nested field): f32 against the
# interpreter.
INTERP_ONLY = {"labelled_trees"}


@pytest.mark.parametrize("program", EXAMPLES, ids=[os.path.basename(p)[:-4] for p in EXAMPLES])
def test_loss_and_gradients_equal_cdlc_grad(program, tmp_path):
    name = os.path.basename(program)[:-4]
    compare.check_against_cdlc(program, str(tmp_path), f32_backend="interp" if name in INTERP_ONLY else "jit")
