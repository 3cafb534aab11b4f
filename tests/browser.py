"""Headless Chromium for the page tests: open a file:// page, read its console, charts, tables.

Debian's `chromium` and `chromium-driver` (`.ci/run` installs them), driven by Selenium. A
missing browser is an error, not a skip: the HTML reports are only tested here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)
WINDOW = (1280, 900)


def _which(names) -> str:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                      else None)
        if path:
            return path
    raise RuntimeError(f"none of {', '.join(names)} found: install Debian's chromium and "
                       "chromium-driver (apt-get install -y chromium chromium-driver; "
                       ".ci/run does it)")


def start_browser():
    """A headless Chromium session that keeps the page's console messages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = _which(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1",
                "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(_which(DRIVER)), options=opts)


@dataclass
class Page:
    driver: object
    path: Path

    def console_errors(self) -> list[str]:
        """Console messages at SEVERE level (script errors, failed loads) since the last call."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def charts(self) -> list[dict]:
        """Every <figure class=chart>: how many SVG shapes/canvases it holds and its size."""
        return self.driver.execute_script("""
          return Array.from(document.querySelectorAll('figure.chart')).map(function (f) {
            var svg = f.querySelector('svg'), canvas = f.querySelector('canvas');
            var el = svg || canvas, box = el ? el.getBoundingClientRect() : {width: 0, height: 0};
            return {label: f.querySelector('figcaption').textContent,
                    shapes: svg ? svg.querySelectorAll('path, rect, line, polygon, use').length
                                : (canvas ? 1 : 0),
                    width: box.width, height: box.height};
          });""")

    def column(self, table_id: str, index: int) -> list[str]:
        """The visible text of one column of a table's body, in displayed order."""
        return self.driver.execute_script("""
          var t = document.getElementById(arguments[0]);
          var col = arguments[1];
          return Array.from(t.tBodies[0].rows).filter(function (r) {
            return r.style.display !== 'none'; }).map(function (r) {
            return r.cells[col].textContent.trim(); });""", table_id, int(index))

    def click_header(self, table_id: str, index: int) -> None:
        from selenium.webdriver.common.by import By
        th = self.driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")[index]
        self.driver.execute_script("arguments[0].scrollIntoView();", th)
        th.click()

    def type_filter(self, table_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By
        box = self.driver.find_element(By.CSS_SELECTOR, f"input[data-filter='{table_id}']")
        box.clear()
        box.send_keys(text)

    def screenshot(self, path: Path, full: bool = False) -> Path:
        """A PNG of the window (or of the whole page's height with `full`)."""
        if full:
            height = self.driver.execute_script("return document.body.scrollHeight")
            self.driver.set_window_size(WINDOW[0], min(int(height) + 40, 12000))
        self.driver.execute_script("window.scrollTo(0, 0);")
        self.driver.save_screenshot(str(path))
        if full:
            self.driver.set_window_size(*WINDOW)
        return path


def open_page(driver, path: Path) -> Page:
    driver.get_log("browser")  # drop messages from the previous page
    driver.get(Path(path).resolve().as_uri())
    return Page(driver, Path(path))


def numbers(cells: list[str]) -> list[float]:
    """Cells like '12.345', '1.10x', '-' as floats (a dash, as the page sorts it: -inf)."""
    out = []
    for c in cells:
        t = c.replace(",", "").rstrip("x%").strip()
        out.append(float("-inf") if t in ("-", "") else float(t))
    return out
