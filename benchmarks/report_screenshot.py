"""Look at report.html as a person would: headless Chromium renders it at 1400 px wide, takes a screenshot and
measures how far right the widest table reaches (every column must be within the page).

    .venv/bin/python benchmarks/report_screenshot.py RESULTS.jsonl [--out DIR] [--width 1400]

Needs Chromium (Debian: apt-get install chromium); not part of CI. Writes DIR/report.html (+ charts) through
`armlprof report --format html --out DIR`, DIR/screenshot.png, and prints the right edge of the widest table and
of the page content in CSS px. Exit status 1 when a table is wider than the window.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from armlprof.cli import main as armlprof

# Run after layout: the right edge of every table (and the page) into a data attribute --dump-dom prints.
_MEASURE = """<script>
window.addEventListener("load", () => {
  const right = Math.max(0, ...[...document.querySelectorAll("table")].map(t => t.getBoundingClientRect().right));
  document.body.dataset.tableRight = Math.ceil(right);
  document.body.dataset.scrollWidth = document.documentElement.scrollWidth;
});
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    sys.exit("Chromium not found: apt-get install chromium")


def run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--out", type=Path, default=Path("report-screenshot"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args()
    if armlprof(["report", *args.results, "--format", "html", "--out", str(args.out)]) != 0:
        return 2
    page = args.out / "report.html"
    shot = (args.out / "screenshot.png").resolve()
    size = f"--window-size={args.width},{args.height}"
    run_chromium(size, f"--screenshot={shot}", page.resolve().as_uri())
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
        dom = run_chromium(size, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()).stdout
    table = re.search(r'data-table-right="(\d+)"', dom)
    scroll = re.search(r'data-scroll-width="(\d+)"', dom)
    if not table or not scroll:
        print("could not measure the page (Chromium printed no DOM)", file=sys.stderr)
        return 2
    table_right, scroll_width = int(table.group(1)), int(scroll.group(1))
    print(f"screenshot: {shot}")
    print(f"window {args.width} px: widest table ends at {table_right} px, page content {scroll_width} px wide")
    return 0 if table_right <= args.width and scroll_width <= args.width else 1


if __name__ == "__main__":
    sys.exit(main())
