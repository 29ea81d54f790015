"""`minigrad tour --quick` end to end: the post's numbers, the check table, the formulas, the
training summary, and a report.html that reads like a lab notebook (every row with the post's
value or "not in the post", ours, a tolerance and a verdict; each section closed by what its
numbers mean; the training's accuracy gap explained by numbers that are measured here)."""
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from norms.app import tour as tour_module

ROOT = Path(__file__).resolve().parents[1]


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.links, self.open_tags = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag not in ("meta", "br", "img"):
            self.open_tags.append(tag)

    def handle_endtag(self, tag):
        assert self.open_tags and self.open_tags[-1] == tag, f"unbalanced </{tag}>"
        self.open_tags.pop()


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    done = subprocess.run(
        [sys.executable, "-m", "minigrad", "tour", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    return done, out


def test_tour_exits_zero_and_prints_the_posts_numbers(tour):
    done, _ = tour
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = done.stdout
    for number in ("(0.6741, 0.3147)", "(1.0274, 0.4797)", "(1.0013, 0.4675)",
                   "(0.5694, 0.6682, 0.3360, 0.7280)", "14.2829"):
        assert number in text, number
    assert "Every number of the post reproduced and every check passed" in text


def test_tour_prints_check_table_formula_and_training(tour):
    done, _ = tour
    text = done.stdout
    assert "Every norm's gradient, three ways" in text
    assert "FAILED" not in text and "MISMATCH" not in text
    assert "d||W||_F / dw_0_0 =" in text and "proved" in text
    assert "largest singular value per layer" in text
    assert text.count("with spectral norm, sigma_max stayed within") == 1
    notes = [line for line in text.splitlines() if line.startswith("  note:")]
    assert len(notes) == len(set(notes))  # a note (e.g. Graphviz missing) is said once
    assert not any("sigma_max" in note for note in notes)  # the training's finding is not a note
    lines = [line for line in text.splitlines() if line.strip() and "[" not in line]
    repeated = {line for line in lines if lines.count(line) > 1 and "largest singular value" not in line}
    assert not repeated, repeated


def test_report_html_parses_and_every_image_exists(tour):
    _, out = tour
    page = (out / "report.html").read_text()
    parser = _Images()
    parser.feed(page)
    assert not parser.open_tags
    assert len(parser.sources) >= 5
    for source in parser.sources + parser.links:
        assert (out / source).is_file(), source
    for number in ("0.6741", "1.0013", "0.5694", "14.2829"):
        assert number in page
    svgs = [s for s in parser.sources if s.endswith(".svg")]
    assert svgs and all((out / s).read_text().lstrip().startswith(("<?xml", "<svg")) for s in svgs)


class _Sections(HTMLParser):
    """The page as a flat list of (kind, class, content): headings, paragraphs and tables."""

    def __init__(self):
        super().__init__()
        self.items, self._text, self._cells, self._rows, self._class = [], None, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h2", "h3", "p"):
            self._text, self._class = [], attrs.get("class", "")
        elif tag == "table":
            self._rows, self._class = [], attrs.get("class", "")
        elif tag == "tr":
            self._cells = []
        elif tag in ("td", "th"):
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("h2", "h3", "p") and self._text is not None:
            self.items.append((tag, self._class, "".join(self._text).strip()))
            self._text = None
        elif tag in ("td", "th"):
            self._cells.append("".join(self._text).strip())
            self._text = None
        elif tag == "tr":
            self._rows.append(self._cells)
        elif tag == "table":
            self.items.append(("table", self._class, self._rows))


def _page(out):
    parser = _Sections()
    parser.feed((out / "report.html").read_text())
    return parser.items


def test_every_comparison_row_has_the_post_ours_a_tolerance_and_a_verdict(tour):
    _, out = tour
    page = (out / "report.html").read_text()
    assert "(see text)" not in page
    tables = [rows for kind, css, rows in _page(out) if kind == "table" and css == "comparisons"]
    assert len(tables) == 7  # four sections of the post, the formulas, the training, the GAN
    rows = [row for table in tables for row in table[1:]]
    assert len(rows) >= 14
    for quantity, post, ours, tolerance, verdict in rows:
        assert post == "not in the post" or re.fullmatch(r"\((-?\d+\.\d{4}(, )?)+\)", post), (quantity, post)
        assert ours and ours != "(see text)", quantity
        assert tolerance == "exact (symbolic)" or 0 < float(tolerance) <= 0.05, (quantity, tolerance)
        assert verdict == "ok", (quantity, verdict)
    # the rows that are the post's own numbers, at the post's rounding
    posted = {row[0]: row for row in rows if row[1] != "not in the post"}
    assert posted["weight_u after the 2nd forward"][3] == "2e-04"
    assert posted["||arange(9)||_F"][1:3] == ["(14.2829)", "(14.2829)"]
    # the sigma row states a deviation and is not attributed to the post
    sigma = [row for row in rows if row[0].startswith("largest |sigma_max - 1|")]
    assert len(sigma) == 1 and sigma[0][1] == "not in the post" and sigma[0][3] == "5e-02"
    assert 0 <= float(sigma[0][2].strip("()")) < 0.05


def _blocks(items, kinds):
    """{heading: the items up to the next heading of one of ``kinds``}."""
    starts = [index for index, item in enumerate(items) if item[0] in kinds] + [len(items)]
    return {items[start][2]: items[start + 1:end] for start, end in zip(starts, starts[1:])}


def test_every_section_ends_with_what_its_numbers_mean(tour):
    _, out = tour
    items = _page(out)
    subsections = _blocks(items, ("h2", "h3"))
    sections = _blocks(items, ("h2",))
    closing = {title: body[-1] for title, body in sections.items()}
    closing.update({title: subsections[title][-1] for title in ("spectral norm", "weight norm", "Frobenius norm",
                                                                  "PixelNorm")})
    assert set(sections) >= {"Every norm's gradient, three ways", "Gradients as formulas",
                             "Training with and without spectral norm", "Plots", "Graphs"}
    for title, last in closing.items():
        if title == "The reference post, reproduced":
            continue  # only a heading: its four subsections each close with their own meaning
        assert last[:2] == ("p", "meaning") and len(last[2]) > 80, (title, last)
    spectral = closing["spectral norm"][2]
    assert "1.0274" in spectral and "1.0013" in spectral


@pytest.fixture(scope="module")
def training():
    report = tour_module.TourReport()
    tour_module.train_models(report, 300)  # the full tour's training (a second per run)
    return report


def test_training_explains_the_accuracy_gap_with_measured_numbers(training):
    runs, baseline = training.training, training.training_baseline
    plain, sn = runs["plain"], runs["spectral norm"]
    logits_only, scaled = runs["spectral norm, logits x25"], runs["spectral norm, inputs x5, logits x5"]
    # the gap itself
    assert plain["accuracy"] >= 0.98 and sn["accuracy"] <= 0.85
    # why: 1-Lipschitz, so the logit difference moves at most sqrt(2) per unit of input ...
    assert sn["slope"] <= math.sqrt(2) * 1.001 and plain["slope"] > 20 * sn["slope"]
    assert sn["lipschitz_bound"] == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(plain["lipschitz_bound"], np.prod(plain["sigmas"][-1]), rtol=1e-12)
    # ... tanh never bends, and the network does no better than a straight boundary
    assert sn["bent"] < 0.01 < 0.05 < plain["bent"]
    assert sn["accuracy"] < baseline["accuracy"] < plain["accuracy"]
    # how to recover it: the scale on inputs and logits, not on the logits alone
    assert scaled["accuracy"] >= 0.97 and max(np.abs(scaled["sigmas"][-1] - 1)) < 0.01
    assert logits_only["accuracy"] <= baseline["accuracy"] + 0.01 and logits_only["bent"] < 0.01
    text = training.meaning["training"]
    assert text.count("\n") == 1  # two sentences
    for number in (f"{sn['accuracy']:.1%}", f"{plain['accuracy']:.1%}", f"{baseline['accuracy']:.1%}",
                   f"{scaled['accuracy']:.1%}", f"{logits_only['accuracy']:.1%}", f"{sn['slope']:.2f}",
                   f"{plain['slope']:.1f}", "1-Lipschitz", "below a linear classifier"):
        assert number in text, number


def test_training_explanation_reaches_the_page(training, tmp_path):
    page = tour_module.write_html(training, tmp_path).read_text()
    items = _Sections()
    items.feed(page)
    meaning = [text for kind, css, text in items.items if kind == "p" and css == "meaning"]
    assert meaning[-2:] == training.meaning["training"].split("\n")
    table = [rows for kind, css, rows in items.items if kind == "table" and css == "training"][0]
    assert [row[0] for row in table[1:]] == [*training.training, "linear classifier (no hidden layer)"]
    assert all(len(row) == 9 for row in table)


def test_tour_refuses_an_output_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "minigrad", "tour", "--quick", "--out", str(blocker / "report")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"minigrad tour: cannot write into --out '{blocker / 'report'}'")
    assert "pass a folder you can create and write to" in done.stderr
