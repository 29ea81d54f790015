"""Every bad input of the catalogue (tests/bad_inputs.py) gives its clear error and changes
no parameter, buffer or optimiser state (bit for bit)."""
import re
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import CASES, make_world, markdown

ROOT = Path(__file__).resolve().parents[1]


def _snapshot(model, opt):
    arrays = {name: t.data.copy() for name, t in model.named_parameters()}
    arrays.update({name: t.data.copy() for name, t in model.named_buffers()})
    state = opt.state_dict()["state"]
    arrays.update({f"opt.{i}.{k}": np.copy(v) for i, entry in state.items() for k, v in entry.items()})
    return arrays


def test_catalogue_has_at_least_30_distinct_cases_across_areas():
    assert len(CASES) >= 30
    assert len({c["tried"] for c in CASES}) == len(CASES)
    assert {"engine", "nn", "optim", "save/load", "CLI"} <= {c["area"] for c in CASES}


@pytest.mark.parametrize("entry", CASES, ids=[c["tried"] for c in CASES])
def test_bad_input_gives_clear_error_and_changes_nothing(entry, tmp_path):
    model, opt = make_world()
    before = _snapshot(model, opt)
    with pytest.raises(entry["error"]) as error:
        entry["call"](model, opt, tmp_path)
    text = str(error.value) if entry["error"] is not KeyError else error.value.args[0]
    assert re.search(entry["message"], text), text
    after = _snapshot(model, opt)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)


def test_reliability_doc_lists_every_case():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    assert markdown() in doc, "regenerate the table: python -m tests.bad_inputs"
