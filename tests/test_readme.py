"""The README's code runs as written, and says what it claims (a stale README is a bug)."""
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run_and_their_claims_hold(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tour of the API saves a checkpoint
    text = (ROOT / "README.md").read_text()
    assert "make tour\nmake test" in text
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(compile(block, "README.md", "exec"), namespace)
    x = namespace["x"]
    assert (tmp_path / "model.npz").is_file()
    np.testing.assert_allclose(namespace["h"].data, 6 * np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert str(namespace["w"].grad.data[0]) == "w_1*(1 - tanh(w_0*w_1)**2)"
    assert namespace["loss"].item() < 1.1  # 20 SGD steps from ~log(3)
    assert x.shape == (3, 4)
