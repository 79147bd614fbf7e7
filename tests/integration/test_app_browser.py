"""End to end in a real browser: the app served by ``streamlit run`` on loopback, driven by
headless Chromium through Selenium: log in, type a text, get a prediction, give feedback,
and save a screenshot of each step as a test artifact.

Screenshots go to ``$TEXTCLF_TEST_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored).
Skips with the reason when Chromium, its driver or Selenium is missing (CI installs
Debian's ``chromium`` and ``chromium-driver`` in ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import textclf.app
from tests_support import free_port, start_module, wait_until_up
from textclf.auth import hash_password
from textclf.feedback import FeedbackStore

pytestmark = pytest.mark.browser

MAIN = Path(textclf.app.__file__).with_name("main.py")
ROOT = Path(__file__).resolve().parents[2]
TEXT = "grape and guava with ginger number 4"


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = os.environ.get("TEXTCLF_CHROMIUM") or _find(("chromium", "chromium-browser"))
DRIVER = os.environ.get("TEXTCLF_CHROMEDRIVER") or _find(("chromedriver",))


def _artifacts() -> Path:
    folder = Path(os.environ.get("TEXTCLF_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def served_app(trained_run, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The app on a free loopback port with one user (ann / wonderland); yields (url, db)."""
    pytest.importorskip("streamlit", reason="the app needs the 'app' extra (streamlit)")
    db = tmp_path / "feedback.sqlite3"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTCLF_APP_")}
    env.update(
        TEXTCLF_APP_MODELS=str(trained_run("multiclass")),
        TEXTCLF_FEEDBACK_DB=str(db),
        TEXTCLF_APP_USERS="ann:" + hash_password("wonderland", n=2**10),
    )
    log = tmp_path / "server.log"
    args = [
        "streamlit", "run", str(MAIN),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        "--client.showErrorDetails", "none",
        "--theme.primaryColor", "#6366f1",
    ]  # fmt: skip
    proc = start_module(args, log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(f"{url}/_stcore/health", proc, 90):
            pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
        yield url, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.copy(log, _artifacts() / "app-browser-server.log")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(
            "no Chromium/chromedriver on PATH (Debian: apt-get install chromium chromium-driver; "
            ".ci/run installs them)"
        )
    webdriver = pytest.importorskip(
        "selenium.webdriver",
        reason="selenium is not installed (pip install 'textclf[browser-test]')",
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1366,900",  # a laptop screen
    ):
        options.add_argument(arg)
    # Chromium keeps its profile's singleton socket in a directory under TMPDIR and leaves
    # it there: give it the test's own directory, so that no run leaves one in /tmp.
    service = webdriver.ChromeService(DRIVER, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except Exception as e:  # a browser that cannot start here is a missing resource
        pytest.skip(f"Chromium could not be started ({str(e).splitlines()[0]})")
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_log_in_predict_give_feedback_in_a_real_browser(served_app, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, db = served_app
    driver = browser
    wait = WebDriverWait(driver, 60)
    shots = _artifacts()

    def click_button(text: str) -> None:
        xpath = f"//button[normalize-space(.)='{text}' or .//p[normalize-space(.)='{text}']]"
        wait.until(ec.element_to_be_clickable((By.XPATH, xpath))).click()

    driver.get(url)
    password = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=password]")))
    driver.find_element(By.CSS_SELECTOR, "input[aria-label='User name']").send_keys("ann")
    password.send_keys("wonderland")
    driver.save_screenshot(str(shots / "app-browser-1-login.png"))
    click_button("Log in")

    area = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "textarea")))
    area.send_keys(TEXT)
    click_button("Predict")
    chip = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".tc-chips .tc-chip")))
    predicted = chip.text.strip()
    assert predicted in {"alpha", "beta", "gamma"}
    bars = driver.find_elements(By.CSS_SELECTOR, ".tc-bar-label")
    assert len(bars) == 3
    driver.save_screenshot(str(shots / "app-browser-2-prediction.png"))

    wait.until(
        ec.element_to_be_clickable((By.XPATH, "//*[@role='tab'][contains(., 'Give feedback')]"))
    ).click()
    click_button("Prediction is correct")
    wait.until(
        ec.presence_of_element_located(
            (By.XPATH, "//*[contains(text(), 'marked this prediction correct')]")
        )
    )
    path = shots / "app-browser-3-feedback.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not an empty page

    [rec] = FeedbackStore(db).records()
    assert (rec.text, rec.user, rec.verdict, rec.labels) == (TEXT, "ann", "correct", [predicted])
