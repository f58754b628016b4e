"""The pages in a real headless browser (Debian's chromium, driven by Selenium), as an analyst uses them.

Fill the form for a shared example, see the expected subsidy and reasons,
switch to Dutch, compare with another date, save the test case and run it
with `kmo-rules test`; compare two versions with a corpus; read the rules;
and the same form with the script turned off. The screenshots of
docs/screenshots/ are made here: set KMO_RULES_SCREENSHOTS=docs/screenshots
to write them there (else they go to a temporary folder).

Skipped, saying why, where no browser is installed (`.ci/install-browser`
installs one).
"""
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("KMO_RULES_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KMO_RULES_CHROMEDRIVER", "/usr/bin/chromedriver"))
EXAMPLE = "small-cybersecurity-training"
SCHEME = "kmo-portefeuille"

selenium = pytest.importorskip("selenium", reason="no browser tests: selenium is not installed (pip install '.[test]')")
pytest.importorskip("uvicorn", reason="no browser tests: the serve extra is not installed (pip install '.[serve]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"no browser tests: {CHROMIUM} or {CHROMEDRIVER} is missing (run .ci/install-browser as root: "
                "apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from engine.cli import run  # noqa: E402
from engine.serve.form import values_of  # noqa: E402


def shared_example() -> tuple[dict, dict | None]:
    """The shared example's case and expected decision (the project's copy of the case when shared/ is absent)."""
    for base in (ROOT.parent / "shared" / "examples", Path("/work/shared/examples")):
        case = base / f"{EXAMPLE}.case.json"
        if case.is_file():
            return json.loads(case.read_text()), json.loads((base / f"{EXAMPLE}.expected.json").read_text())
    return json.loads((ROOT / "examples" / f"{EXAMPLE}.json").read_text()), None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    err = tmp_path_factory.mktemp("serve") / "serve.err"
    with open(err, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0"], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=handle, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        deadline = time.monotonic() + 60
        while not re.search(r"listening on (http://\S+/)", err.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
        yield re.search(r"listening on (http://\S+)/", err.read_text()).group(1)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert "internal error" not in err.read_text()


def _driver(downloads: Path, script: bool = True):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1800", "--lang=en-GB", "--hide-scrollbars"):
        options.add_argument(flag)
    prefs = {"download.default_directory": str(downloads), "download.prompt_for_download": False,
             "intl.accept_languages": "en-GB,en"}
    if not script:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    driver = _driver(downloads)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    wanted = os.environ.get("KMO_RULES_SCREENSHOTS")
    folder = (ROOT / wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver, folder: Path, name: str, element=None) -> Path:
    """The whole page (or from `element` down) as a PNG."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 900), 3200))
    if element is not None:
        driver.execute_script("arguments[0].scrollIntoView()", element)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1800)
    assert path.stat().st_size > 10_000
    return path


def wait(driver, condition, seconds: float = 20):
    return WebDriverWait(driver, seconds).until(condition)


def set_field(driver, name: str, value: str) -> None:
    """Type a value as a person would: choose an option, type into a text box, set a date picker."""
    element = driver.find_element(By.NAME, name)
    if element.tag_name == "select":
        Select(element).select_by_value(value)
    elif element.get_attribute("type") == "date":  # a date picker's keys depend on the locale: set its value
        driver.execute_script("arguments[0].value = arguments[1];"
                              "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                              "arguments[0].dispatchEvent(new Event('change', {bubbles: true}))", element, value)
    else:
        element.clear()
        element.send_keys(value)


def fill(driver, case: dict) -> None:
    values = values_of(case)
    for group in ("enterprise.related_enterprises", "enterprise.prior_aid"):
        rows = {key.split(".")[2] for key in values if key.startswith(group + ".")}
        for _ in rows:
            driver.find_element(By.CSS_SELECTOR, f'button[data-add="{group}"]').click()
    for name, value in values.items():
        set_field(driver, name, value)


def output(driver, side: str, name: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'#decision-{side} tr[data-output="{name}"] td').get_attribute(
        "data-value")


def test_an_analyst_tries_a_shared_example_compares_dates_and_saves_the_test(server, browser, downloads, shots,
                                                                              tmp_path):
    case, expected = shared_example()
    browser.get(f"{server}/?lang=en")
    assert "Try a case" in browser.title
    fill(browser, case)
    in_force = browser.find_element(By.ID, "version-in-force").text
    assert in_force == "version 2024-01-01, in force from 2024-01-01 to 2025-12-31"  # shown as the date changed
    browser.find_element(By.ID, "decide").click()
    wait(browser, lambda d: d.find_elements(By.ID, "decision-first"))

    # the expected subsidy and reasons
    verdict = browser.find_element(By.CSS_SELECTOR, "#decision-first .verdict")
    assert verdict.get_attribute("data-eligible") == "true" and "Eligible" in verdict.text
    assert output(browser, "first", "subsidy") == "1057.50"
    assert "EUR 1057.50" in browser.find_element(By.CSS_SELECTOR, '#decision-first tr[data-output="subsidy"]').text
    if expected is not None:
        for key, value in expected.items():
            if key not in ("reasons", "notes", "eligible"):
                assert output(browser, "first", key) == (value if value is not None else ""), key
        assert {e.get_attribute("data-code") for e in browser.find_elements(
            By.CSS_SELECTOR, "#decision-first ul.notes li")} == {n["code"] for n in expected["notes"]}
        assert not browser.find_elements(By.CSS_SELECTOR, "#decision-first ul.reasons li")
    conditions = browser.find_elements(By.CSS_SELECTOR, "#decision-first ul.conditions li")
    assert len(conditions) >= 10 and all(c.get_attribute("data-met") == "true" for c in conditions)
    assert all("Source:" in c.text for c in conditions)
    explanation = browser.find_element(By.CSS_SELECTOR, "#decision-first details.explanation")
    assert explanation.get_attribute("open") is None
    explanation.find_element(By.TAG_NAME, "summary").click()
    assert "Subsidy is EUR 1057.50" in explanation.text
    screenshot(browser, shots, "try-a-case")

    # the same case in Dutch
    browser.find_element(By.ID, "lang-nl").click()
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nl")
    assert "Komt in aanmerking" in browser.find_element(By.CSS_SELECTOR, "#decision-first .verdict").text
    assert "Subsidie" in browser.find_element(By.CSS_SELECTOR, '#decision-first tr[data-output="subsidy"]').text
    assert browser.find_element(By.NAME, "enterprise.prior_aid.1.amount").get_attribute("value") == "50000"
    assert "Catering telt voor maximaal" in browser.find_element(By.CSS_SELECTOR, "#decision-first ul.notes").text
    screenshot(browser, shots, "try-a-case-nl")

    # compared with the rules of 1 January 2020
    browser.find_element(By.ID, "lang-en").click()
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    set_field(browser, "compare", "2020-01-01")
    browser.find_element(By.ID, "decide").click()
    wait(browser, lambda d: d.find_elements(By.ID, "decision-second"))
    assert browser.find_element(By.ID, "decision-second").get_attribute("data-version") == "2020-01-01"
    assert output(browser, "second", "subsidy") == "705.00" and output(browser, "first", "subsidy") == "1057.50"
    changed = browser.find_element(By.CSS_SELECTOR, '#decision-first tr[data-output="subsidy"]')
    assert "changed" in changed.get_attribute("class") and "changed" in changed.text.lower()
    same = browser.find_element(By.CSS_SELECTOR, '#decision-first tr[data-output="eligible_cost"]')
    assert "changed" not in (same.get_attribute("class") or "")
    screenshot(browser, shots, "compare-dates", browser.find_element(By.ID, "result"))

    # save the test case and run it
    name = browser.find_element(By.ID, "test-name")
    name.clear()
    name.send_keys("the shared example tried in the browser")
    browser.find_element(By.ID, "save-test").click()
    saved = None
    deadline = time.monotonic() + 30
    while saved is None and time.monotonic() < deadline:
        found = [p for p in downloads.glob("*.yaml")]
        saved = found[0] if found else None
        time.sleep(0.1)
    assert saved is not None, "the test case was not downloaded"
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    shutil.copy(saved, rules / SCHEME / "tests" / "saved-in-the-browser.yaml")
    out, err = io.StringIO(), io.StringIO()
    status = run(["test", str(rules / SCHEME), "-k", "tried in the browser"], io.StringIO(""), out, err)
    assert status == 0 and "1 passed, 0 failed" in out.getvalue(), out.getvalue() + err.getvalue()


def test_an_auditor_compares_two_versions_with_a_corpus(server, browser, shots, tmp_path):
    browser.get(f"{server}/compare?from=2019-11-30&to=2020-01-01&lang=en")
    change = browser.find_element(By.CSS_SELECTOR, '#changes-parameters li[data-name="rates.small"]')
    assert "40 %" in change.text and "30 %" in change.text and "made in 2019-12-01" in change.text
    screenshot(browser, shots, "compare-versions")
    from corpus import corpus_lines, generate_cases, year_spec  # benchmarks/corpus.py
    corpus = tmp_path / "cases.jsonl"
    corpus.write_text("\n".join(corpus_lines(generate_cases(year_spec(200, 7, 2026)))) + "\n")
    browser.get(f"{server}/compare?from=2026-01-31&to=2026-02-01&lang=en")
    browser.find_element(By.ID, "f-corpus").send_keys(str(corpus))
    browser.find_element(By.ID, "show-impact").click()
    impact = wait(browser, lambda d: d.find_elements(By.ID, "impact"))[0]
    assert "Impact on 200 cases" in impact.text and "advice_limited_to_cybersecurity" in impact.text
    assert int(browser.find_element(By.ID, "changed-count").text) > 0
    screenshot(browser, shots, "impact", impact)


def test_the_rules_in_force_on_a_date(server, browser, shots):
    browser.get(f"{server}/rules?on=2024-06-10&lang=nl")
    assert "kmo-portefeuille 2024-01-01" in browser.find_element(By.CSS_SELECTOR, ".version-head").text
    assert "Steunpercentage kleine onderneming" in browser.page_source
    screenshot(browser, shots, "rules")


def test_without_a_script_rows_are_added_by_the_server_and_the_case_is_decided(server, downloads):
    driver = _driver(downloads, script=False)
    try:
        case, _ = shared_example()
        driver.get(f"{server}/?lang=en")
        driver.find_element(By.CSS_SELECTOR, 'button[data-add="enterprise.related_enterprises"]').click()
        wait(driver, lambda d: d.find_elements(By.NAME, "enterprise.related_enterprises.0.share"))
        assert driver.find_element(By.ID, "version-in-force").text == "—"  # no script: shown after deciding
        values = values_of(case)
        group = "enterprise.prior_aid"
        for number in sorted({key.split(".")[2] for key in values if key.startswith(group + ".")}):
            driver.find_element(By.CSS_SELECTOR, f'button[data-add="{group}"]').click()  # a new page, one row more
            wait(driver, lambda d: d.find_elements(By.NAME, f"{group}.{number}.amount"))
        for name, value in values.items():
            set_field(driver, name, value)
        driver.find_element(By.ID, "decide").click()
        wait(driver, lambda d: d.find_elements(By.ID, "decision-first"))
        assert output(driver, "first", "subsidy") == "1057.50"
        assert "version 2024-01-01" in driver.find_element(By.ID, "version-in-force").text
    finally:
        driver.quit()
