"""minigrad.viz.stepper: the backward stepper page, checked in Python and in headless Chromium.

The Python tests read the steps behind the page (``page.steps``, the list the page exposes
as ``window.minigradSteps``) and compare them with the engine: the order of the VJP calls,
the gradients each one sent, and what ``backward()`` left in ``.grad``. The browser tests
open the saved page in headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium), step through it with the keyboard and read what is shown.
"""
from __future__ import annotations

import html
from html.parser import HTMLParser

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz
from norms.app import graph_examples
from minigrad.viz import stepper
from minigrad.viz.stepper import backward_stepper

HAVE_DOT = viz.dot_available()
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")
EXAMPLES = ("spectral-norm", "weight-norm", "mlp")


def build(example: str):
    """(output, params, title) of a graph example: seeded, so two builds are equal."""
    return graph_examples.EXAMPLES[example]()


def engine_grads(example: str) -> dict:
    """name -> .grad after a plain ``backward()`` on a fresh build (no stepper involved)."""
    output, params, _ = build(example)
    output.backward()
    return {name: p.grad.data.copy() for name, p in params.named_parameters()}


def graph_nodes(output) -> list:
    """Every node behind ``output``, found by following parents (not by the stepper)."""
    seen, stack = {}, [output._node]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(p._node for p in node.parents if p._node is not None)
    return list(seen.values())


def engine_steps(page) -> list:
    return [s for s in page.steps if s["phase"] == "backward" and s["path"] == "both" and s["op"] != "seed"]


# ---------------------------------------------------------------------------------------
# The steps against the engine (no browser needed)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("example", EXAMPLES + ("mlp-spectral", "pixel-norm", "frobenius"))
def test_backward_steps_follow_the_engine_order(example):
    output, params, title = build(example)
    nodes = graph_nodes(output)
    page = backward_stepper(output, params=params, title=title)
    expected = [n.op.name for n in sorted(nodes, key=lambda n: -n.seq)]
    assert [s["op"] for s in engine_steps(page)] == expected
    forward = [s["op"] for s in page.steps if s["phase"] == "forward" and s["path"] == "both"]
    assert forward == ["leaves"] + expected[::-1]


@pytest.mark.parametrize("example", EXAMPLES + ("mlp-spectral",))
def test_last_leaf_sums_equal_grad(example):
    output, params, title = build(example)
    page = backward_stepper(output, params=params, title=title)
    reference = engine_grads(example)
    last: dict = {}
    for step in engine_steps(page):
        for send in step["sends"]:
            if send["leaf"]:
                last[send["leafName"]] = np.array(send["accumulated"])
    assert set(last) == set(reference)
    for name, grad in reference.items():
        np.testing.assert_allclose(last[name], grad, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dict(params.named_parameters())[name].grad.data, grad, rtol=0, atol=1e-12)


def test_a_tensor_used_twice_shows_both_contributions_and_their_sum():
    output, params, title = build("spectral-norm")   # loss = mean(y * y): y is used twice
    page = backward_stepper(output, params=params, title=title)
    mul = next(s for s in engine_steps(page) if s["op"] == "mul")
    assert [(s["count"], s["of"]) for s in mul["sends"]] == [(1, 2), (2, 2)]
    first, second = (np.array(s["grad"]) for s in mul["sends"])
    np.testing.assert_allclose(np.array(mul["sends"][1]["accumulated"]), first + second, rtol=0, atol=1e-15)
    # the sum is the gradient the engine hands to y's producer (linear) at the next step
    linear = next(s for s in engine_steps(page) if s["op"] == "linear")
    np.testing.assert_allclose(np.array(linear["grad"]), first + second, rtol=0, atol=1e-15)
    assert "contribution 2 of 2" in mul["text"]


@pytest.mark.parametrize("example, fused", [("spectral-norm", "spectral_normalize"), ("weight-norm", "weight_norm")])
def test_norm_cluster_steps_over_the_fused_vjp_or_into_the_composite(example, fused):
    output, params, title = build(example)
    page = backward_stepper(output, params=params, title=title)
    over = next(s for s in engine_steps(page) if s["op"] == fused)
    assert over["fused"] and over["cluster"] and over["node"] is None
    assert f"the engine ran the fused VJP of '{fused}'" in over["text"]
    inside = [s for s in page.steps if s["phase"] == "backward" and s["path"] == "into"]
    assert inside and all(s["cluster"] == over["cluster"] and not s["engine"] for s in inside)
    # The composite's gradient for the cluster's first input equals the fused VJP's.
    to_first = [send for s in inside for send in s["sends"] if send["to"] == over["sends"][0]["to"]]
    composite = sum(np.array(send["grad"]) for send in to_first)
    np.testing.assert_allclose(composite, np.array(over["sends"][0]["grad"]), rtol=0, atol=1e-12)
    assert "the engine ran the fused VJP" in page.html


def test_elementwise_vjp_is_shown_as_mathml_from_sympy():
    x = mg.tensor([0.5, -1.0], requires_grad=True, name="x")
    w = mg.tensor([2.0, 3.0], requires_grad=True, name="w")
    loss = mg.sum(mg.tanh(x * w))
    page = backward_stepper(loss)
    steps = {s["op"]: s for s in engine_steps(page)}
    assert "<msub><mi>grad</mi><mi>a</mi></msub>" in steps["mul"]["mathml"]
    assert "<mi>tanh</mi>" in steps["tanh"]["mathml"]
    assert steps["sum"]["mathml"] is None           # no scalar form: the text formula only
    assert steps["mul"]["formula"] == "d(a*b): grad_a = g*b, grad_b = g*a"
    np.testing.assert_allclose(x.grad.data, (1 - np.tanh([1.0, -3.0]) ** 2) * [2.0, 3.0], rtol=1e-15)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: list = []
        self.tags: list = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.values += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href")]


@needs_dot
@pytest.mark.parametrize("example", sorted(graph_examples.EXAMPLES))
def test_page_is_one_small_file_with_no_external_url(example):
    output, params, title = build(example)
    page = backward_stepper(output, params=params, title=title)
    parser = _Links()
    parser.feed(page.html)
    assert parser.values == []                       # nothing is loaded from anywhere
    assert "link" not in parser.tags and "svg" in parser.tags
    assert len(page.html.encode("utf-8")) < 1_000_000
    assert "window.minigradSteps=" in page.html


def test_failed_calls_say_what_to_do_and_change_nothing():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    with pytest.raises(ValueError, match="leaf"):
        backward_stepper(x)
    with pytest.raises(TypeError, match="expected a minigrad Tensor, got a list"):
        backward_stepper([1.0])
    loss = mg.sum(x * x)
    loss.backward()
    before = x.grad.data.copy()
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        backward_stepper(loss)
    np.testing.assert_array_equal(x.grad.data, before)
    with pytest.raises(ValueError, match="max_nodes must be at least 1, got 0"):
        backward_stepper(mg.sum(x * x), max_nodes=0)
    assert x.grad.data.tolist() == before.tolist()


def test_recording_leaves_the_primitives_as_they_were():
    from minigrad.ops.registry import REGISTRY

    before = {name: (vars(cls).get("vjp"), vars(cls).get("fast_vjp")) for name, cls in REGISTRY.items()}
    output, params, title = build("mlp-spectral")
    backward_stepper(output, params=params, title=title)
    after = {name: (vars(cls).get("vjp"), vars(cls).get("fast_vjp")) for name, cls in REGISTRY.items()}
    assert after == before


@pytest.mark.parametrize("norm", ["pixel_norm", "rms_norm", "layer_norm", "batch_norm"])
def test_recording_keeps_an_inherited_class_method_vjp_bound_to_its_op(norm):
    # The four activation norms share one classmethod VJP that reads the op's settings
    # (centre or not, which axes) from cls: recorded, it must still see the subclass.
    import norms

    rng = np.random.default_rng(4)
    data, weight, bias, mix = (rng.standard_normal(shape) for shape in ((4, 3), (3,), (3,), (4, 3)))
    call = {
        "pixel_norm": lambda x, w, b: norms.pixel_norm(x, axis=1),
        "rms_norm": lambda x, w, b: norms.rms_norm(x, (3,), w),
        "layer_norm": lambda x, w, b: norms.layer_norm(x, (3,), w, b),
        "batch_norm": lambda x, w, b: norms.batch_norm(x, weight=w, bias=b, training=True),
    }[norm]
    grads = []
    for step in (backward_stepper, lambda loss: loss.backward()):
        x, w, b = (mg.tensor(a, requires_grad=True) for a in (data, weight, bias))
        step(mg.sum(call(x, w, b) * mix))
        grads.append([t.grad.data if t.grad is not None else None for t in (x, w, b)])
    for stepped, plain in zip(*grads):
        if plain is None:
            assert stepped is None
        else:
            np.testing.assert_allclose(stepped, plain, rtol=1e-12, atol=1e-14)


def test_large_arrays_are_summarised():
    x = mg.tensor(np.linspace(-1, 1, 50), requires_grad=True, name="x")
    page = backward_stepper(mg.sum(x * x), max_values=10)
    mul = engine_steps(page)[-1]
    first, second = mul["sends"]
    # each contribution of x * x is g * x = x (min -1, max 1); too long to list, so summarised
    assert first["grad"] is None and second["grad"] is None and second["accumulated"] is None
    assert first["summary"].startswith("min -1 ") and first["summary"].endswith("max 1")
    np.testing.assert_allclose(x.grad.data, 2 * np.linspace(-1, 1, 50), rtol=0, atol=1e-15)


def test_a_graph_too_large_to_step_through_is_collapsed():
    x = mg.tensor(np.array([0.3, -0.2]), requires_grad=True, name="x")
    y = x
    for _ in range(1500):
        y = mg.tanh(y) * 1.001
    loss = mg.sum(y)
    page = backward_stepper(loss, max_nodes=60)
    backward = [s for s in page.steps if s["phase"] == "backward" and s["op"] != "seed"]
    folded = [s for s in backward if s["op"] == "\u22ef"]
    assert len(folded) == 1 and folded[0]["node"].startswith("hidden")
    # every VJP call the engine made is in exactly one step
    assert sum(len(s.get("ops") or [s["op"]]) for s in backward) == 2 * 1500 + 1
    assert folded[0]["text"].startswith(f"Backward: {len(folded[0]['ops']):,} VJP calls inside the collapsed part")
    last = [send for s in backward for send in s["sends"] if send["leaf"]][-1]
    np.testing.assert_allclose(np.array(last["accumulated"]), x.grad.data, rtol=0, atol=1e-12)
    assert len(page.html.encode("utf-8")) < 300_000


def test_without_graphviz_the_page_still_steps_and_says_why_the_picture_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # no `dot` on PATH
    assert not viz.dot_available()
    output, params, title = build("mlp")
    page = backward_stepper(output, params=params, title=title)
    assert "<svg" not in page.html
    note = f"Graphviz's `dot` is not installed, so the picture is missing ({viz.INSTALL_HINT})"
    assert html.escape(note) in page.html
    assert [s["op"] for s in engine_steps(page)] == ["cross_entropy", "linear", "tanh", "linear"]


def test_report_section_saves_the_page_and_links_only_files_it_wrote(tmp_path, monkeypatch):
    def no_browser(*args, **kwargs):
        raise stepper.BrowserUnavailable("none here")

    monkeypatch.setattr(stepper, "screenshot", no_browser)
    output, params, title = build("spectral-norm")
    section = stepper.report_section(backward_stepper(output, params=params, title=title), tmp_path)
    parser = _Links()
    parser.feed(section)
    assert parser.values == ["backward-stepper.html"]   # the frame
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backward-stepper.html"]
    assert section.endswith("</p>") and "<p class='meaning'>" in section


def test_repr_html_is_an_iframe_holding_the_page(tmp_path):
    output, params, title = build("mlp")
    page = backward_stepper(output, params=params, title=title)
    shown = page._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "window.minigradSteps" in shown
    saved = tmp_path / "page.html"
    assert page.save(saved) == str(saved) and saved.read_text(encoding="utf-8") == page.html


@needs_dot
def test_graph_command_writes_a_stepper_page(tmp_path, capsys):
    out = tmp_path / "sn.html"
    assert graph_examples.main(["spectral-norm", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "window.minigradSteps=" in text and "spectral_normalize" in text


def test_the_tutorial_shows_pages_inline_in_a_notebook():
    from pathlib import Path

    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    path = Path(__file__).resolve().parents[1] / "tutorials" / "08_backward_stepper.py"
    notebook = jupytext.read(path)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    shown = [output["data"]["text/html"] for cell in notebook.cells if cell.cell_type == "code"
             for output in cell.get("outputs", []) if "text/html" in output.get("data", {})]
    assert len(shown) == 2
    assert all(text.startswith("<iframe srcdoc=") and "window.minigradSteps=" in text for text in shown)
    assert "spectral_normalize" in shown[1]


# ---------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    try:
        driver = stepper.start_browser()
    except stepper.BrowserUnavailable as error:
        pytest.skip(f"no headless browser: {error}")
    yield driver
    driver.quit()


def open_page(browser, tmp_path, example):
    output, params, title = build(example)
    page = backward_stepper(output, params=params, title=title)
    path = tmp_path / f"{example}.html"
    page.save(path)
    browser.get(path.resolve().as_uri())
    return page, params


def press(browser, key):
    from selenium.webdriver.common.by import By

    browser.find_element(By.TAG_NAME, "body").send_keys(key)


def current(browser) -> dict:
    return browser.execute_script("return window.minigradCurrent")


def shown_leaf_grads(browser) -> dict:
    import json

    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, "#mg-leaf-grads > tr")
    return {row.get_attribute("data-name"): json.loads(row.get_attribute("data-value")) for row in rows}


def step_to_the_end(browser) -> list:
    """Press ArrowRight until the last step; the step indices visited, in order."""
    from selenium.webdriver.common.keys import Keys

    press(browser, Keys.HOME)
    visited = [current(browser)["index"]]
    for _ in range(current(browser)["count"] + 2):
        press(browser, Keys.ARROW_RIGHT)
        visited.append(current(browser)["index"])
    return visited


def severe(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@needs_dot
@pytest.mark.parametrize("example", EXAMPLES)
def test_arrow_right_visits_every_op_and_ends_on_the_engine_grads(browser, tmp_path, example):
    from selenium.webdriver.common.by import By

    page, params = open_page(browser, tmp_path, example)
    assert severe(browser) == []
    steps = browser.execute_script("return window.minigradSteps")
    assert [s["op"] for s in steps] == [s["op"] for s in page.steps]
    assert all(isinstance(s, dict) and {"phase", "node", "op"} <= set(s) for s in steps)

    # Stepping over norms: every step the engine made, each once, in order.
    visited = step_to_the_end(browser)
    engine = [i for i, s in enumerate(steps) if s["path"] == "both"]
    assert sorted(set(visited)) == engine and visited == sorted(visited)
    live = browser.find_element(By.ID, "mg-live").text
    assert live == steps[visited[-1]]["text"]
    reference = engine_grads(example)
    shown = shown_leaf_grads(browser)
    assert set(shown) == set(reference)
    for name, grad in reference.items():
        np.testing.assert_allclose(np.array(shown[name], dtype=np.float64), grad, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.array(shown[name]), dict(params.named_parameters())[name].grad.data,
                                   rtol=0, atol=1e-12)

    # Stepping into norms: every op drawn in the picture is highlighted at some step.
    press(browser, "i")
    visited = step_to_the_end(browser)
    assert sorted(set(visited)) == list(range(len(steps)))
    drawn_ops = set(browser.execute_script(
        "return Array.from(document.querySelectorAll('#mg-graph g.node.op')).map(function (g) { return g.id; })"))
    highlighted = {steps[i]["node"] for i in visited}
    assert drawn_ops and drawn_ops <= highlighted
    for name, grad in reference.items():
        shown = np.array(shown_leaf_grads(browser)[name], dtype=np.float64)
        np.testing.assert_allclose(shown, grad, rtol=0, atol=1e-12)
    assert severe(browser) == []


@needs_dot
def test_keys_and_buttons_move_one_step_or_to_the_ends(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page, _ = open_page(browser, tmp_path, "mlp")
    count = current(browser)["count"]
    assert current(browser)["position"] == 0
    press(browser, Keys.END)
    assert current(browser)["position"] == count - 1
    press(browser, Keys.ARROW_LEFT)
    assert current(browser)["position"] == count - 2
    press(browser, Keys.HOME)
    assert current(browser)["position"] == 0
    browser.find_element(By.ID, "mg-next").click()
    browser.find_element(By.ID, "mg-next").click()
    assert current(browser)["position"] == 2
    browser.find_element(By.ID, "mg-prev").click()
    assert current(browser)["position"] == 1
    browser.find_element(By.ID, "mg-last").click()
    assert current(browser)["position"] == count - 1
    live = browser.find_element(By.ID, "mg-live")
    assert live.get_attribute("aria-live") == "polite" and live.text == page.steps[-1]["text"]
    assert browser.find_elements(By.CSS_SELECTOR, "#mg-graph .mg-current")   # the op is highlighted
    assert severe(browser) == []
