"""The web console in a real browser: headless Chromium (Debian's `chromium` with its `chromium-driver`,
which `make test` installs where it can) against `flowport dev`, as `make dev` runs it.

Each test signs in with the development admin's key and does what a user would: opens a workflow and its
graph, starts an execution from the form and watches it complete, searches, cancels, and sees a refusal
next to its field. Screenshots of each page go to build/console-screenshots (docs/ keeps one of each).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.dev_process import ROOT, dev_key, free_port, start_dev, stop, wait_for_server

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = ROOT / "build" / "console-screenshots"
WAIT_SECONDS = 60
WINDOW = (1280, 1000)
# Ran if the console put an execution's values into the page as markup: it must never be set.
PAYLOAD_SUBJECT = '<script>window.__pwned = "script"</script>Printer on fire'
PAYLOAD_BODY = "<img src=x onerror=\"window.__pwned = 'img'\"> and <b>bold</b>"

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip(
        "no chromium and chromedriver on PATH: `make test` installs Debian's chromium and chromium-driver "
        "with apt-get when it runs as root; elsewhere install them to run the console's browser tests",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402  (only once a browser is known to be there)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


class Server:
    def __init__(self, url: str, key: str, banner: Path) -> None:
        self.url = url
        self.key = key
        self.banner = banner

    def call(self, method: str, path: str, **options: Any) -> requests.Response:
        headers = {"X-API-Key": self.key, **options.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **options)

    def start(self, ticket: dict[str, Any]) -> str:
        answer = self.call("POST", "/workflows/ticket-triage/executions", json=ticket)
        assert answer.status_code in (201, 202), answer.text
        return str(answer.json()["executionId"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("dev-state")
    port = free_port()
    log_path = state / "dev.log"
    with log_path.open("w") as log:
        process = start_dev(port, state, log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_server(url)
            yield Server(url, dev_key(state), log_path)
        finally:
            stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver named explicitly: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*WINDOW)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, server: Server) -> Iterator[WebDriver]:
    """The console signed in with the development admin's key; after the test, no script error and no
    Content-Security-Policy violation may have been logged."""
    browser.get(f"{server.url}/console")
    sign_in(browser, server.key)
    yield browser
    assert_nothing_went_wrong(browser)


def assert_nothing_went_wrong(browser: WebDriver) -> None:
    """The API's 4xx answers are logged as failed loads; anything else the browser logs as an error (a
    script error, a Content-Security-Policy violation: "Refused to ...") is the console's own fault."""
    logged = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert [message for message in logged if "Failed to load resource" not in message] == []


def sign_in(browser: WebDriver, key: str) -> None:
    browser.execute_script("sessionStorage.clear()")
    browser.get(browser.current_url.split("#")[0] + "#/workflows")
    field = wait_for(browser, lambda: browser.find_element(By.ID, "api-key"))
    field.send_keys(key)
    browser.find_element(By.CSS_SELECTOR, ".sign-in button").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "main table a"))


def wait_for(browser: WebDriver, probe: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    return WebDriverWait(browser, timeout, poll_frequency=0.1, ignored_exceptions=(Exception,)).until(
        lambda _: probe()
    )


def go(browser: WebDriver, server: Server, fragment: str) -> None:
    browser.get(f"{server.url}/console/index.html#{fragment}")


def state_class(browser: WebDriver, name: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, f'[data-state="{name}"]').get_attribute("class"))


def status_of(browser: WebDriver) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, ".status-line .status").text)


def screenshot(browser: WebDriver, name: str) -> None:
    """The whole page: the window as tall as the page is, for the picture."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width, height = WINDOW
    page_height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(width, min(max(page_height, 600), 2400))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    browser.set_window_size(width, height)


def field(form: WebElement, pointer: str) -> WebElement:
    return form.find_element(By.CSS_SELECTOR, f'[data-pointer="{pointer}"]')


def test_the_dev_banner_names_the_console_and_its_files_carry_a_strict_policy(server: Server):
    assert f"console: {server.url}/console" in server.banner.read_text()
    page = requests.get(f"{server.url}/console", timeout=10)  # redirected to its page
    assert page.url == f"{server.url}/console/index.html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert requests.get(f"{server.url}/console/nothing.js", timeout=10).json()["code"] == (
        "console_file_not_found"
    )


def test_the_workflows_and_a_workflow_graph(page: WebDriver, server: Server):
    names = [link.text for link in page.find_elements(By.CSS_SELECTOR, "main table tbody th a")]
    assert names == ["document-summary", "nightly-report", "partner-sync", "ticket-triage"]
    screenshot(page, "workflows")
    page.find_element(By.LINK_TEXT, "document-summary").click()
    wait_for(page, lambda: page.find_elements(By.CSS_SELECTOR, "svg.graph [data-state]"))
    states = {e.get_attribute("data-state") for e in page.find_elements(By.CSS_SELECTOR, "[data-state]")}
    assert states == {
        "ParseDocument",
        "ReportSections",
        "RejectDocument",
        "AnalyseSections",
        "AnalyseSection",
        "Summarise",
        "Summarised",
    }
    assert "container" in state_class(page, "AnalyseSections")  # the Map is a box around its item states
    # By keyboard: a state takes the focus, and Enter opens it.
    page.execute_script("document.querySelector('[data-state=\"ParseDocument\"]').focus()")
    ActionChains(page).send_keys(Keys.ENTER).perform()
    assert "lambda:invoke" in wait_for(page, lambda: page.find_element(By.CSS_SELECTOR, ".state-detail").text)
    screenshot(page, "workflow")


def test_a_phone_reads_a_workflow_without_scrolling_sideways(page: WebDriver, server: Server):
    page.set_window_size(390, 844)
    try:
        go(page, server, "/workflows/ticket-triage")
        wait_for(page, lambda: page.find_elements(By.CSS_SELECTOR, "form.try-it"))
        overflow = page.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0  # the graph scrolls in its own box, tables in theirs
        assert page.find_element(By.ID, "graph-version").is_displayed()
    finally:
        page.set_window_size(*WINDOW)


def test_start_from_the_form_and_watch_it_complete_with_values_shown_as_text(page: WebDriver, server: Server):
    go(page, server, "/workflows/ticket-triage")
    form = wait_for(page, lambda: page.find_element(By.CSS_SELECTOR, "form.try-it"))
    field(form, "/subject").find_element(By.TAG_NAME, "input").send_keys(PAYLOAD_SUBJECT)
    field(form, "/body").find_element(By.TAG_NAME, "textarea").send_keys(PAYLOAD_BODY)
    Select(field(form, "/customerTier").find_element(By.TAG_NAME, "select")).select_by_visible_text("pro")
    # Long enough for the page to open on the running Wait state, on a loaded machine too.
    field(form, "/delaySeconds").find_element(By.TAG_NAME, "input").send_keys("8")
    form.find_element(By.ID, "start-correlation").send_keys("console-start")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(page, lambda: "#/executions/" in page.current_url)
    execution_id = page.current_url.rsplit("/", 1)[-1]
    wait_for(page, lambda: "running" in state_class(page, "WaitForAgentPool"))
    assert "succeeded" in state_class(page, "Classify")
    screenshot(page, "execution-running")
    wait_for(page, lambda: status_of(page) == "COMPLETED")
    wait_for(page, lambda: "succeeded" in state_class(page, "Done"))
    assert "not-reached" in state_class(page, "Reject")
    assert "not-reached" in state_class(page, "Priority")
    assert page.find_element(By.CSS_SELECTOR, ".progress label").text == "Progress 100%"
    variables = page.find_element(By.CSS_SELECTOR, ".variables").text
    assert "queue" in variables
    assert "standard" in variables
    page.find_element(By.CSS_SELECTOR, '[data-state="Standard"]').click()
    state_input = wait_for(page, lambda: page.find_element(By.CSS_SELECTOR, ".state-input"))
    assert PAYLOAD_SUBJECT.replace('"', '\\"') in state_input.text  # as JSON text, escaped quotes and all
    assert "<img src=x" in page.find_element(By.CSS_SELECTOR, ".state-output").text
    # Nothing of the payloads ran, and none became an element.
    assert page.execute_script("return window.__pwned === undefined") is True
    assert page.find_elements(By.CSS_SELECTOR, "main img, main script, main b") == []
    screenshot(page, "execution")
    assert server.call("GET", f"/executions/{execution_id}").json()["correlationId"] == "console-start"


def test_a_refused_input_is_shown_next_to_its_fields(page: WebDriver, server: Server):
    go(page, server, "/workflows/ticket-triage")
    form = wait_for(page, lambda: page.find_element(By.CSS_SELECTOR, "form.try-it"))
    field(form, "/delaySeconds").find_element(By.TAG_NAME, "input").send_keys("601")  # at most 600
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    delay_error = wait_for(
        page, lambda: field(form, "/delaySeconds").find_element(By.CLASS_NAME, "field-error")
    )
    wait_for(page, lambda: "600" in delay_error.text)
    delay = field(form, "/delaySeconds").find_element(By.TAG_NAME, "input")
    assert delay.get_attribute("aria-invalid") == "true"
    # The required fields left empty: each refusal next to its field, none for the others.
    assert "required" in field(form, "/subject").find_element(By.CLASS_NAME, "field-error").text
    assert "required" in field(form, "/customerTier").find_element(By.CLASS_NAME, "field-error").text
    assert field(form, "/body").find_element(By.CLASS_NAME, "field-error").text == ""
    assert "input_validation_failed" in form.find_element(By.CSS_SELECTOR, ".form-problem").text
    assert "#/workflows/ticket-triage" in page.current_url  # nothing started
    screenshot(page, "validation-error")


def test_search_by_status_and_by_an_input_field(page: WebDriver, server: Server):
    done = server.start({"subject": "Done soon", "customerTier": "free", "customerId": "cust-done"})
    waiting = server.start(
        {"subject": "Waits", "customerTier": "free", "customerId": "cust-waits", "delaySeconds": 300}
    )
    go(page, server, "/executions?workflow=ticket-triage&input.customerId=cust-waits")
    rows = wait_for(page, lambda: page.find_elements(By.CSS_SELECTOR, ".results tbody tr"))
    assert [row.get_attribute("data-execution") for row in rows] == [waiting]
    assert "Refreshing" in page.find_element(By.CSS_SELECTOR, ".refresh-note").text  # one of them runs
    screenshot(page, "executions")
    # From the form: the finished ones only.
    page.find_element(By.ID, "filter-input-value").clear()
    Select(page.find_element(By.ID, "filter-status")).select_by_visible_text("COMPLETED")
    wait_for(page, lambda: server.call("GET", f"/executions/{done}").json()["status"] == "COMPLETED")
    page.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait_for(page, lambda: "status=COMPLETED" in page.current_url)

    def listed() -> list[str]:
        return [
            str(row.get_attribute("data-execution"))
            for row in page.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]

    wait_for(page, lambda: done in listed())
    assert waiting not in listed()
    statuses = {cell.text for cell in page.find_elements(By.CSS_SELECTOR, ".results tbody .status")}
    assert statuses == {"COMPLETED"}
    # A time range: nothing was created before 2000; the field shows it in the browser's time.
    go(page, server, "/executions?workflow=ticket-triage&until=2000-01-01T00:00:00.000Z")
    wait_for(page, lambda: "No execution matches" in page.find_element(By.CSS_SELECTOR, ".results").text)
    shown_until = str(page.find_element(By.ID, "filter-until").get_attribute("value"))
    assert shown_until[:10] in ("1999-12-31", "2000-01-01")
    server.call("DELETE", f"/executions/{waiting}")


def test_cancel_a_running_execution(page: WebDriver, server: Server):
    execution_id = server.start({"subject": "Long wait", "customerTier": "pro", "delaySeconds": 300})
    go(page, server, f"/executions/{execution_id}")
    wait_for(page, lambda: "running" in state_class(page, "WaitForAgentPool"))
    page.find_element(By.XPATH, "//div[@class='actions']/button[text()='Cancel']").click()
    wait_for(page, lambda: status_of(page) == "CANCELLED")
    wait_for(page, lambda: "cancelled" in state_class(page, "WaitForAgentPool"))
    assert [b.text for b in page.find_elements(By.CSS_SELECTOR, ".actions button")] == ["Retry", "Rerun"]
    assert server.call("GET", f"/executions/{execution_id}").json()["status"] == "CANCELLED"
    # Rerun it: the new execution opens, linked both ways.
    page.find_element(By.XPATH, "//div[@class='actions']/button[text()='Rerun']").click()
    wait_for(page, lambda: execution_id not in page.current_url)
    rerun_id = page.current_url.rsplit("/", 1)[-1]
    # The summary is drawn again as the stream reports: click whichever link is there.
    wait_for(page, lambda: page.find_element(By.LINK_TEXT, execution_id).click() or True)
    wait_for(page, lambda: page.find_elements(By.LINK_TEXT, rerun_id))
    server.call("DELETE", f"/executions/{rerun_id}")


def test_a_read_only_key_is_offered_no_start_and_no_cancel(browser: WebDriver, server: Server):
    created = server.call(
        "POST",
        "/admin/principals",
        json={"name": "console-reader", "scopes": {"workflows": ["ticket-triage"], "actions": ["read"]}},
    )
    assert created.status_code == 201, created.text
    reader = server.call("POST", f"/admin/principals/{created.json()['principalId']}/keys").json()["secret"]
    running = server.start({"subject": "Watched", "customerTier": "pro", "delaySeconds": 300})
    browser.get(f"{server.url}/console")
    sign_in(browser, reader)
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "main table tbody th a")] == [
        "ticket-triage"
    ]
    go(browser, server, "/workflows/ticket-triage")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "svg.graph"))
    assert browser.find_elements(By.CSS_SELECTOR, "form.try-it") == []
    assert "may not start" in browser.find_element(By.TAG_NAME, "main").text
    try:
        go(browser, server, f"/executions/{running}")
        wait_for(browser, lambda: status_of(browser) == "RUNNING")
        assert browser.find_elements(By.CSS_SELECTOR, ".actions button") == []
        assert_nothing_went_wrong(browser)
    finally:
        server.call("DELETE", f"/executions/{running}")
