"""benchmarks/peer_shims: the torch_scatter stand-in used to run GEM-CNN, against obvious loops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import load_module_file

SHIM = Path(__file__).resolve().parents[1] / "benchmarks" / "peer_shims" / "torch_scatter" / "__init__.py"


@pytest.fixture(scope="module")
def shim():
    return load_module_file(SHIM, "torch_scatter_stand_in")


@pytest.mark.parametrize("reduce", ["sum", "min", "max", "mean"])
def test_scatter_matches_a_loop(shim, reduce):
    g = torch.Generator().manual_seed(0)
    src = torch.randn(40, 3, 2, generator=g, dtype=torch.float64)
    index = torch.randint(0, 7, (40,), generator=g)
    index[index == 5] = 6  # slot 5 stays empty
    got = shim.scatter(src, index, dim=0, reduce=reduce)
    want = torch.zeros(7, 3, 2, dtype=torch.float64)
    for slot in range(7):
        rows = src[index == slot]
        if len(rows):
            want[slot] = {"sum": rows.sum(0), "min": rows.min(0).values, "max": rows.max(0).values,
                          "mean": rows.mean(0)}[reduce]
    torch.testing.assert_close(got, want)


def test_scatter_sum_on_the_last_dimension_and_dim_size(shim):
    src = torch.tensor([1.0, 2.0, 3.0, 4.0])
    index = torch.tensor([0, 2, 2, 0])
    torch.testing.assert_close(shim.scatter_sum(src, index), torch.tensor([5.0, 0.0, 5.0]))
    torch.testing.assert_close(shim.scatter_sum(src, index, dim_size=5), torch.tensor([5.0, 0.0, 5.0, 0.0, 0.0]))
