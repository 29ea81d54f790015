"""`minigrad tour --quick` end to end (issue 6): the post's numbers, the check table, the
formulas, the training summary, and a report.html whose every image exists."""
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

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
    assert "with spectral norm, sigma_max stayed within" in text


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
