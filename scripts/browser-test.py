#!/usr/bin/python3
"""The `mixmae ui` test in a real browser (headless Chromium driven by Selenium).

Builds a registry with a real short training chain (a tiny MixMAE pretraining, then a
classification finetune from it), starts `mixmae ui` on a free port, and while the finetune
trains polls the API and pages (the registry is being written: no answer may fail, none may
say "locked"), loads each page, clicks from the runs table to a run, to its lineage, to the
finetune, checks what is shown; then runs a tiny sweep (the finetune over two seeds) and
watches the sweeps list and the sweep page follow it live, clicks through to a member run
and compares the sweep's runs; tries path traversal over raw HTTP, and saves screenshots.
Shared set-up (registry chain, server, driver, waits) is in scripts/uiharness.py.

    /usr/bin/python3 scripts/browser-test.py [PATH/TO/mixmae]

Run by scripts/test after `swift test`. Needs Debian's chromium, chromium-driver and
python3-selenium (scripts/install-deps installs them); without them it FAILS and says so.
"""
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.request

import uiharness as ui

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def check(condition, message):
    if not condition:
        fail(message)
    return condition


class Poller(threading.Thread):
    """Asks the server for pages and API answers in a loop while a training writes."""

    def __init__(self, base, paths):
        super().__init__(daemon=True)
        self.base, self.paths = base, paths
        self.stop = threading.Event()
        self.requests = 0
        self.errors = []

    def run(self):
        while not self.stop.is_set():
            for path in self.paths:
                try:
                    with urllib.request.urlopen(self.base + path, timeout=30) as response:
                        body = response.read().decode("utf-8", "replace")
                        if response.status != 200 or "locked" in body.lower() and "database" in body.lower():
                            self.errors.append(f"{path}: {response.status} {body[:200]}")
                except urllib.error.HTTPError as error:
                    body = error.read().decode("utf-8", "replace")
                    # Run 2 may not exist yet in the first moments of the finetune.
                    if not (error.code == 404 and "no run 2" in body):
                        self.errors.append(f"{path}: {error.code} {body[:200]}")
                except Exception as error:  # noqa: BLE001
                    self.errors.append(f"{path}: {error}")
                self.requests += 1
            time.sleep(0.2)


def raw_get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def main():
    ui.need_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    ws = ui.Workspace(ui.mixmae_binary(sys.argv[1] if len(sys.argv) > 1 else None), prefix="mixmae-ui-browser-")
    shots = os.path.join(ws.work, "screenshots")
    os.makedirs(shots)
    started = time.time()
    ws.chain(pretrain_epochs=2, log_every=1)
    print(f"browser-test: pretrained run 1 ({time.time() - started:.0f}s)", flush=True)

    with ui.Server(ws) as server, ui.Browser(console_log=True) as browser:
        base, port, driver = server.base, server.port, browser.driver
        wait, settle, css = browser.wait, browser.settle, browser.css
        print("browser-test: " + server.line.strip(), flush=True)

        # A finetune writes the registry while the UI serves it.
        finetune = ws.start("train", "classify.yaml")
        poller = Poller(base, ["api/runs?metrics=loss,top1", "api/runs/1", "runs", "run/1", "api/runs/2",
                               "run/2", "run/2/charts", "lineage?ref=run:1", "api/lineage?ref=run:1&direction=down"])
        poller.start()

        # Live status: the runs table shows the finetune RUNNING, then FINISHED without a reload.
        wait_for = time.time() + 300
        while time.time() < wait_for and finetune.poll() is None and \
                not any(run["id"] == 2 for run in json.loads(ws.run("runs", "list", "--format", "json").stdout)):
            time.sleep(0.5)
        browser.open(base + "runs", "#rows tr[data-run='2']")
        first_status = css("#rows tr[data-run='2']")[0].get_attribute("data-status")
        if first_status == "RUNNING":
            # The page refreshes every 3 s: the run may have finished since its row was read.
            live_text = driver.find_element(By.ID, "live").text
            status_now = css("#rows tr[data-run='2']")[0].get_attribute("data-status")
            check("live" in live_text or status_now != "RUNNING", "runs page: no live marker while run 2 RUNNING")
            driver.save_screenshot(os.path.join(shots, "runs-live.png"))
            # The run may finish between the two page loads: then its page has no live marker, only FINISHED.
            browser.open(base + "run/2", "h1")
            live_page = bool(css("#live"))
            pages = "runs and run pages" if live_page else "runs page"
            if live_page:
                driver.save_screenshot(os.path.join(shots, "run-live.png"))
                refreshed = wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed")
                                 or "FINISHED" in d.find_element(By.TAG_NAME, "h1").text, 120)
                check(bool(refreshed), "run page: curves were never refreshed while run 2 trained")
            else:
                heading = driver.find_element(By.TAG_NAME, "h1").text
                check("FINISHED" in heading, f"run page: no live marker, and the run is not FINISHED: {heading!r}")
                print("browser-test: note: run 2 finished before its page loaded; its live refresh not seen",
                      flush=True)
            browser.open(base + "runs", "#rows tr[data-run='2']")
            still = css("#rows tr[data-run='2']")[0].get_attribute("data-status")
            # No reload from here on: a change can only come from the page polling /api/runs.
            wait(lambda d: d.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2']").get_attribute("data-status")
                 != "RUNNING", 300)
            print(f"browser-test: saw run 2 RUNNING on the {pages}; at the second visit it was {still}, "
                  "then FINISHED" + (" without a reload (polling)" if still == "RUNNING" else ""), flush=True)
        else:
            print(f"browser-test: note: run 2 was already {first_status} when the page loaded; live update not seen",
                  flush=True)
        result = finetune.wait(timeout=900)
        check(result == 0, "finetune failed: " + ui.log_tail(finetune))
        time.sleep(1)
        poller.stop.set()
        poller.join(timeout=60)
        check(not poller.errors, "answers failed while a training wrote the registry: " + "; ".join(poller.errors[:5]))
        print(f"browser-test: {poller.requests} requests during the finetune, {len(poller.errors)} failed",
              flush=True)

        # The runs table: both runs, filter by task, sort, a metric column.
        browser.open(base + "runs", "#rows tr")
        wait(lambda d: len(css("#rows tr")) == 2)
        check(css("#rows tr[data-run='2']")[0].get_attribute("data-status") == "FINISHED",
              "runs page: run 2 is not FINISHED")
        Select(driver.find_element(By.ID, "task")).select_by_value("classify")
        wait(lambda d: len(css("#rows tr")) == 1)
        check("task=classify" in driver.current_url, "runs page: the filter is not in the address")
        Select(driver.find_element(By.ID, "task")).select_by_value("")
        wait(lambda d: len(css("#rows tr")) == 2)
        metrics = driver.find_element(By.ID, "metrics")
        metrics.clear()
        metrics.send_keys("top1,loss")
        driver.find_element(By.ID, "apply").click()
        wait(lambda d: css("th[data-key='metric:top1']"))
        top1 = driver.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2'] td:nth-child(11)").text
        check(re.match(r"^[0-9.e-]+$", top1) is not None, f"runs page: top1 of run 2 shows '{top1}'")
        driver.find_element(By.CSS_SELECTOR, "th[data-key='id']").click()  # id ascending, sorted by the server

        def row_ids(d):
            return [row.get_attribute("data-run") for row in css("#rows tr")]
        settle(lambda d: row_ids(d) == ["1", "2"])
        ids = row_ids(driver)
        check(ids == ["1", "2"], f"runs page: sorting by id ascending gave {ids}")
        check("dir=asc" in driver.current_url, f"runs page: the sort is not in the address: {driver.current_url}")
        driver.save_screenshot(os.path.join(shots, "runs.png"))

        # Pages of one run: the server cuts them, with the sort and the filters.
        driver.get(base + "runs?page_size=1")
        settle(lambda d: row_ids(d) == ["2"])
        check(row_ids(driver) == ["2"], f"runs page 1 of size 1: rows {row_ids(driver)}")
        check("page 1 of 2" in driver.find_element(By.ID, "position").text,
              f"runs pager: {driver.find_element(By.ID, 'position').text}")
        check(driver.find_element(By.ID, "previous").get_attribute("disabled") is not None,
              "runs pager: previous is enabled on page 1")
        driver.find_element(By.ID, "next").click()
        settle(lambda d: row_ids(d) == ["1"])
        check(row_ids(driver) == ["1"], f"runs page 2 of size 1: rows {row_ids(driver)}")
        check("page=2" in driver.current_url, f"runs pager: the page is not in the address: {driver.current_url}")
        check(driver.find_element(By.ID, "next").get_attribute("disabled") is not None,
              "runs pager: next is enabled on the last page")
        driver.find_element(By.CSS_SELECTOR, "th[data-key='id']").click()  # id ascending: back to page 1
        settle(lambda d: row_ids(d) == ["1"] and "page 1 of 2" in d.find_element(By.ID, "position").text)
        check(row_ids(driver) == ["1"] and "page 1 of 2" in driver.find_element(By.ID, "position").text,
              f"runs pager: sorting did not return to page 1 sorted ascending: {row_ids(driver)}")
        Select(driver.find_element(By.ID, "task")).select_by_value("classify")
        settle(lambda d: row_ids(d) == ["2"] and "page 1 of 1" in d.find_element(By.ID, "position").text)
        check(row_ids(driver) == ["2"] and "page 1 of 1" in driver.find_element(By.ID, "position").text,
              f"runs pager with a filter: {row_ids(driver)}, {driver.find_element(By.ID, 'position').text}")
        browser.open(base + "runs?sort=id&dir=asc", "#rows tr")
        wait(lambda d: len(css("#rows tr")) == 2)

        # Runs table -> run 1 -> its lineage -> the finetune (run 2).
        css("#rows tr[data-run='1'] a.run-link")[0].click()
        wait(lambda d: d.find_elements(By.ID, "run"))
        check(driver.find_element(By.TAG_NAME, "h1").text.startswith("run 1"), "run page: wrong heading")
        for section in ("summary", "metrics", "curves", "pictures", "lineage", "artifacts", "recipe"):
            check(driver.find_elements(By.ID, section), f"run page: no {section} section")
        check(len(css("#charts svg")) >= 2, "run page: fewer than 2 charts")
        images = css("img.picture")
        check(images and all(driver.execute_script("return arguments[0].naturalWidth", i) > 0 for i in images),
              "run page: pictures missing or not loaded")
        check("present" in driver.find_element(By.TAG_NAME, "body").text, "run page: no artifact file state")
        provenance = driver.find_elements(By.ID, "recipe-provenance")
        check(provenance and "pretrain.yaml:" in provenance[0].text, "run page: no recipe provenance")
        check(not css("a.sweep-link"), "run 1 is in no sweep but its page links to one")
        driver.save_screenshot(os.path.join(shots, "run.png"))
        driver.find_element(By.ID, "lineage-link").click()
        wait(lambda d: css("#graph svg"))
        nodes = {n.get_attribute("data-node") for n in css("#graph g.node")}
        check({"run:1", "run:2"} <= nodes, f"lineage page: nodes {sorted(nodes)}")
        driver.save_screenshot(os.path.join(shots, "lineage.png"))
        css("#graph a[href='/run/2']")[0].click()
        wait(lambda d: d.find_elements(By.ID, "run"))
        heading = driver.find_element(By.TAG_NAME, "h1").text
        check(heading.startswith("run 2") and "classify" in heading, f"finetune page heading: {heading}")
        check(css("a.parents-link[href='/run/1']"), "run 2: no link to its parent")
        parents = driver.find_element(By.CSS_SELECTOR, "p.parents").text
        check(parents.startswith("parents: finetuned from run 1 pretrain") and "(init.backbone, sha256:" in parents,
              f"run 2: its parent reads '{parents}'")

        # Compare: tick both runs in the table.
        browser.open(base + "runs", "#rows tr")
        wait(lambda d: len(css("#rows tr")) == 2)
        for box in css("input.pick"):
            box.click()
        driver.find_element(By.ID, "compare").click()
        wait(lambda d: d.find_elements(By.ID, "facts"))
        check("runs=1,2" in driver.current_url, f"compare address: {driver.current_url}")
        check(css("pre.diff .add"), "compare page: no recipe diff")
        check(css("#charts svg"), "compare page: no overlaid curves")
        driver.save_screenshot(os.path.join(shots, "compare.png"))

        sweep_checks(ws, browser, base, shots)

        severe = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        check(not severe, "browser console errors: " + json.dumps(severe[:3]))

        # The API equals the command line; raw paths that try to leave the run outputs are refused.
        for path, args in [("api/runs?metrics=loss", ["runs", "list", "--metrics", "loss", "--format", "json"]),
                           ("api/runs/2", ["runs", "show", "2", "--format", "json"]),
                           ("api/sweeps/1", ["runs", "compare", "--sweep", "1", "--format", "json"]),
                           ("api/lineage?ref=run:1&direction=down", ["lineage", "run:1", "--down", "--format", "json"])]:
            with urllib.request.urlopen(base + path) as response:
                check(response.read().decode() == ws.run(*args).stdout, f"/{path} differs from mixmae {' '.join(args)}")
        for path in ["/files/run/1/pictures/..%2F..%2F..%2Fregistry.sqlite", "/files/run/1/%2e%2e/%2e%2e/registry.sqlite",
                     "/files/run/1/pictures/../../../registry.sqlite", "/files//etc/passwd",
                     "/files/run/1/pictures/%2Fetc%2Fpasswd", "/files/artifact/..%2F..%2Fregistry.sqlite"]:
            status, body = raw_get(port, path)
            check(status in (400, 404) and b"SQLite format" not in body and b"root:" not in body,
                  f"raw GET {path}: {status}")
        status, _ = raw_get(port, "/files/run/1/pictures/" + os.listdir(os.path.join(ws.home, "runs/1/pictures"))[0])
        check(status == 200, f"a real picture answered {status}")
    print(f"browser-test: screenshots in {shots}", flush=True)
    if failures:
        print(f"browser-test: FAILED ({len(failures)} problems, {time.time() - started:.0f}s)", file=sys.stderr)
        sys.exit(1)
    print(f"browser-test: passed ({time.time() - started:.0f}s)")


def sweep_checks(ws, browser, base, shots):
    """A tiny real sweep (the finetune over seeds 0 and 1: runs 3 and 4) seen live on the sweeps
    list and the sweep page, then its points, mean ± sd, a member run and the compare link."""
    from selenium.webdriver.common.by import By
    driver, wait, css = browser.driver, browser.wait, browser.css
    started = time.time()
    sweep = ws.start(*ui.SWEEP)
    deadline = time.time() + 120
    while time.time() < deadline and sweep.poll() is None and '"sweep" : 1' not in \
            ws.run("runs", "compare", "--sweep", "1", "--format", "json").stdout:
        time.sleep(0.3)
    browser.open(base + "sweeps", "#sweeps tr[data-sweep='1']")
    live_on_list = css("#sweeps tr[data-sweep='1']")[0].get_attribute("data-live") == "1"
    css("a.sweep-link[href='/sweep/1']")[0].click()
    wait(lambda d: css("#points"))
    live = css("#progress")[0].get_attribute("data-live") == "1"
    if live:
        check(css("#live") and "live" in css("#live")[0].text, "sweep page: no live marker while the sweep runs")
        driver.save_screenshot(os.path.join(shots, "sweep-live.png"))
    # No reload from here on: the table can only change through the page's own refresh.
    wait(lambda d: css("#progress")[0].get_attribute("data-live") == "0"
         and len(css("#points td[data-status='FINISHED']")) == 2, 300)
    check(sweep.wait(timeout=300) == 0, "the sweep failed: " + ui.log_tail(sweep))
    refreshed = driver.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed")
    print(f"browser-test: sweep 1 ran in {time.time() - started:.0f}s; the sweeps list showed it "
          f"{'live' if live_on_list else 'done'}, the sweep page {'followed it live' if live else 'saw it done'}"
          + (" (refreshed without a reload)" if refreshed else ""), flush=True)
    if live:
        check(bool(refreshed), "sweep page: the live table was never refreshed")
    heading = driver.find_element(By.TAG_NAME, "h1").text
    check(heading.startswith("Sweep 1") and "2 points" in heading, f"sweep page heading: {heading}")
    check("seed=0,1" in driver.find_element(By.ID, "sweep-facts").text, "sweep page: the grid is not shown")
    points = [row.get_attribute("data-point") for row in css("#points tbody tr")]
    check(points == ["1", "2"], f"sweep page: points {points}")
    check([link.get_attribute("href").rsplit("/", 1)[-1] for link in css("#points a.run-link")] == ["3", "4"],
          "sweep page: the points' runs are not runs 3 and 4")
    top1 = css("#points th.num")
    check(any(th.text == "top1" for th in top1), "sweep page: no top1 column")
    groups = css("#groups tbody tr")
    check(len(groups) == 1 and "±" in groups[0].text, "sweep page: no mean ± sd over the two seeds")
    browser.screenshot(os.path.join(shots, "sweep.png"), full_page=True)

    # The sweeps list (now finished), then a member run and back.
    browser.open(base + "sweeps", "#sweeps tr[data-sweep='1']")
    row = css("#sweeps tr[data-sweep='1']")[0]
    check("2 FINISHED" in row.text and row.get_attribute("data-live") == "0", f"sweeps list: {row.text}")
    driver.save_screenshot(os.path.join(shots, "sweeps.png"))
    css("a.sweep-link[href='/sweep/1']")[0].click()
    wait(lambda d: css("#points a.run-link"))
    css("#points a.run-link[href='/run/4']")[0].click()
    wait(lambda d: d.find_elements(By.ID, "run"))
    heading = driver.find_element(By.TAG_NAME, "h1").text
    check(heading.startswith("run 4") and "classify" in heading, f"sweep member page heading: {heading}")
    line = css("p.sweep")
    check(line and line[0].text == "sweep: sweep 1, point 2 (seed=1), stage 1", f"run 4: sweep line {line and line[0].text}")
    css("a.sweep-link")[0].click()
    wait(lambda d: css("#points"))
    for box in css("input.pick"):
        box.click()
    driver.find_element(By.ID, "compare").click()
    wait(lambda d: d.find_elements(By.ID, "facts"))
    check("runs=3,4" in driver.current_url, f"sweep compare address: {driver.current_url}")


if __name__ == "__main__":
    main()
