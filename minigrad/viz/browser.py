"""A headless Chromium for the stepper's browser tests and the tour's screenshot.

Optional: Selenium, Chromium and chromedriver are needed; without them ``start_browser``
raises ``BrowserUnavailable`` with one line saying what is missing.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

class BrowserUnavailable(RuntimeError):
    """No headless Chromium with its driver (or no Selenium) on this machine."""


CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


def start_browser(width: int = 1400, height: int = 900):
    """A Selenium driver for headless Chromium with a fresh profile, its console log kept.

    Raises ``BrowserUnavailable`` (one line saying what is missing) when Selenium,
    Chromium or chromedriver is absent. The caller quits the driver; the profile folder is
    removed on ``driver.quit()``.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserUnavailable("selenium is not installed (pip install 'selenium>=4')") from error
    binary = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                   if shutil.which(name)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise BrowserUnavailable(
            "no Chromium and chromedriver on PATH (make browser, or apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="minigrad-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as error:  # any start-up failure means "no usable browser"
        shutil.rmtree(profile, ignore_errors=True)
        raise BrowserUnavailable(f"Chromium did not start: {str(error).splitlines()[0]}") from error
    quit_driver = driver.quit

    def quit_and_clean():
        try:
            quit_driver()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def screenshot(page_path, png_path, step: int | None = None, width: int = 1400, height: int = 820) -> str:
    """Open the saved page in headless Chromium, go to ``step`` (default: the first backward
    step that sends a gradient to two inputs) and save a PNG of the window."""
    driver = start_browser(width, height)
    try:
        driver.get(Path(page_path).resolve().as_uri())
        if step is None:
            step = driver.execute_script(
                "var s=window.minigradSteps;for(var i=0;i<s.length;i++){if(s[i].phase==='backward'&&s[i].sends"
                "&&s[i].sends.length>1&&s[i].path==='both')return i;}return 0;")
        driver.execute_script(
            "var want=arguments[0];window.minigradGo(0);for(var k=0;k<window.minigradSteps.length;k++){"
            "if(window.minigradCurrent.index>=want)break;window.minigradGo(window.minigradCurrent.position+1);}",
            step)
        driver.save_screenshot(os.fspath(png_path))
    finally:
        driver.quit()
    return os.fspath(png_path)
