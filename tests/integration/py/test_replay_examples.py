"""The example notebooks (examples/*.ipynb) executed through the server in
their recorded order and replayed: each kernel's notebook reproduces, the
out-of-order one reproduces as it was run, the nondeterministic one is
flagged (examples/replay_examples.py holds the procedure and the
expectations live in each notebook's metadata.cellgate)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "examples"))

import replay_examples  # noqa: E402

pytestmark = pytest.mark.cellgate_only(reason="cellgate's replays")


@pytest.mark.parametrize("name", replay_examples.examples())
def test_example_replays_as_expected(server, name):
    ok, lines = replay_examples.run_example(server, name)
    if ok is None:
        pytest.skip(lines[0])
    assert ok, "\n".join(lines)
