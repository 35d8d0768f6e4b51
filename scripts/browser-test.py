#!/usr/bin/python3
"""The `mixmae ui` test in a real browser (headless Chromium driven by Selenium).

Builds a registry with a real short training chain (a tiny MixMAE pretraining, then a
classification finetune from it), starts `mixmae ui` on a free port, and while the finetune
trains polls the API and pages (the registry is being written: no answer may fail, none may
say "locked"), loads each page, clicks from the runs table to a run, to its lineage, to the
finetune, checks what is shown, tries path traversal over raw HTTP, and saves screenshots.

    /usr/bin/python3 scripts/browser-test.py [PATH/TO/mixmae]

Run by scripts/test after `swift test`. Needs Debian's chromium, chromium-driver and
python3-selenium (scripts/install-deps installs them); without them it FAILS and says so.
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def check(condition, message):
    if not condition:
        fail(message)
    return condition


def need_browser():
    missing = [tool for tool in ("chromium", "chromedriver") if shutil.which(tool) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium (for " + sys.executable + ")")
    if missing:
        print("browser-test: FAILED: cannot test the UI in a browser: missing " + ", ".join(missing)
              + "; run scripts/install-deps (Debian packages chromium, chromium-driver, python3-selenium)",
              file=sys.stderr)
        sys.exit(1)


def mixmae_binary():
    if len(sys.argv) > 1:
        return os.path.abspath(sys.argv[1])
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(out, "mixmae")


BACKBONE = ("{name: swin, img_size: 64, embed_dim: 16, depths: [1, 1, 2, 1], num_heads: [1, 2, 2, 4], "
            "window_size: [4, 4, 4, 2]}")


def write_recipes(work):
    with open(os.path.join(work, "pretrain.yaml"), "w") as f:
        f.write(f"""base: {ROOT}/recipes/base/pretrain.yaml
data: {{root: data/classification/train, img_size: 64, batch_size: 16, num_workers: 2}}
optim: {{base_lr: 1.5e-3}}
schedule: {{epochs: 2, warmup_epochs: 1}}
log: {{every: 2, pictures: 4}}
model:
  backbone: {BACKBONE}
  decoder: {{name: vit-decoder, decoder_dim: 32, decoder_depth: 1, decoder_num_heads: 2}}
""")
    with open(os.path.join(work, "classify.yaml"), "w") as f:
        f.write(f"""task: classify
data: {{root: data/classification/train, val_root: data/classification/val, img_size: 64, batch_size: 16, eval_crop: 1.0}}
optim: {{base_lr: 1e-3, betas: [0.9, 0.999], layer_decay: 0.7}}
schedule: {{epochs: 3, warmup_epochs: 0.5}}
init: {{weights: "run:1"}}
log: {{every: 1}}
model:
  backbone: {BACKBONE}
  head: {{name: linear-cls}}
""")


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
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait, Select
    from selenium.common.exceptions import WebDriverException

    binary = mixmae_binary()
    if not os.access(binary, os.X_OK):
        print(f"browser-test: FAILED: no mixmae at {binary}; build with `swift build -c release`", file=sys.stderr)
        sys.exit(1)
    work = tempfile.mkdtemp(prefix="mixmae-ui-browser-")
    shots = os.path.join(work, "screenshots")
    os.makedirs(shots)
    home = os.path.join(work, "home")
    env = dict(os.environ, MIXMAE_HOME=home, MIXMAE_REGISTRY=os.path.join(ROOT, "registry.yaml"))

    def mixmae(*args, **kwargs):
        return subprocess.run([binary, *args], cwd=work, env=env, capture_output=True, text=True, **kwargs)

    started = time.time()
    synth = mixmae("data", "synth", "--out", "data", "--images", "160", "--size", "64")
    if synth.returncode != 0:
        print(synth.stderr, file=sys.stderr)
        sys.exit(1)
    write_recipes(work)
    pretrain = mixmae("train", "pretrain.yaml")
    if pretrain.returncode != 0:
        print(pretrain.stderr, file=sys.stderr)
        sys.exit(1)
    print(f"browser-test: pretrained run 1 ({time.time() - started:.0f}s)", flush=True)

    server = subprocess.Popen([binary, "ui", "--home", home, "--port", "0"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    driver = None
    try:
        line = server.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", line)
        if not match:
            print("browser-test: FAILED: mixmae ui printed no loopback address: " + line + server.stderr.read(),
                  file=sys.stderr)
            sys.exit(1)
        base, port = match.group(1), int(match.group(2))
        print("browser-test: " + line.strip(), flush=True)

        # A finetune writes the registry while the UI serves it.
        finetune = subprocess.Popen([binary, "train", "classify.yaml"], cwd=work, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        poller = Poller(base, ["api/runs?metrics=loss,top1", "api/runs/1", "runs", "run/1", "api/runs/2",
                               "run/2", "run/2/charts", "lineage?ref=run:1", "api/lineage?ref=run:1&direction=down"])
        poller.start()

        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = ChromeService(executable_path=shutil.which("chromedriver"))
        driver = webdriver.Chrome(options=options, service=service)
        # The pages re-render while runs train: an element found a moment ago can be gone
        # ("Node with given id does not belong to the document"); waits retry instead of failing.
        transient = (WebDriverException,)
        wait = WebDriverWait(driver, 60, ignored_exceptions=transient)

        # Live status: the runs table shows the finetune RUNNING, then FINISHED without a reload.
        wait_for = time.time() + 300
        while time.time() < wait_for and finetune.poll() is None and \
                not any(run["id"] == 2 for run in json.loads(mixmae("runs", "list", "--format", "json").stdout)):
            time.sleep(0.5)
        driver.get(base + "runs")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rows tr[data-run='2']"))
        first_status = driver.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2']").get_attribute("data-status")
        if first_status == "RUNNING":
            check("live" in driver.find_element(By.ID, "live").text, "runs page: no live marker while run 2 RUNNING")
            driver.save_screenshot(os.path.join(shots, "runs-live.png"))
            driver.get(base + "run/2")
            wait.until(lambda d: d.find_elements(By.ID, "live"))
            driver.save_screenshot(os.path.join(shots, "run-live.png"))
            refreshed = WebDriverWait(driver, 120, ignored_exceptions=transient).until(
                lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed")
                or "FINISHED" in d.find_element(By.TAG_NAME, "h1").text)
            check(bool(refreshed), "run page: curves were never refreshed while run 2 trained")
            driver.get(base + "runs")
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rows tr[data-run='2']"))
            still = driver.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2']").get_attribute("data-status")
            # No reload from here on: a change can only come from the page polling /api/runs.
            WebDriverWait(driver, 300, ignored_exceptions=transient).until(
                lambda d: d.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2']").get_attribute("data-status")
                != "RUNNING")
            print(f"browser-test: saw run 2 RUNNING on the runs and run pages; at the second visit it was {still}, "
                  "then FINISHED" + (" without a reload (polling)" if still == "RUNNING" else ""), flush=True)
        else:
            print(f"browser-test: note: run 2 was already {first_status} when the page loaded; live update not seen",
                  flush=True)
        result = finetune.wait(timeout=900)
        check(result == 0, "finetune failed: " + finetune.stderr.read()[-2000:])
        time.sleep(1)
        poller.stop.set()
        poller.join(timeout=60)
        check(not poller.errors, "answers failed while a training wrote the registry: " + "; ".join(poller.errors[:5]))
        print(f"browser-test: {poller.requests} requests during the finetune, {len(poller.errors)} failed",
              flush=True)

        # The runs table: both runs, filter by task, sort, a metric column.
        driver.get(base + "runs")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rows tr")) == 2)
        check(driver.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2']").get_attribute("data-status") == "FINISHED",
              "runs page: run 2 is not FINISHED")
        Select(driver.find_element(By.ID, "task")).select_by_value("classify")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rows tr")) == 1)
        check("task=classify" in driver.current_url, "runs page: the filter is not in the address")
        Select(driver.find_element(By.ID, "task")).select_by_value("")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rows tr")) == 2)
        metrics = driver.find_element(By.ID, "metrics")
        metrics.clear()
        metrics.send_keys("top1,loss")
        driver.find_element(By.ID, "apply").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "th[data-key='metric:top1']"))
        top1 = driver.find_element(By.CSS_SELECTOR, "#rows tr[data-run='2'] td:nth-child(11)").text
        check(re.match(r"^[0-9.e-]+$", top1) is not None, f"runs page: top1 of run 2 shows '{top1}'")
        driver.find_element(By.CSS_SELECTOR, "th[data-key='id']").click()  # id ascending, sorted by the server

        def row_ids(d):
            return [row.get_attribute("data-run") for row in d.find_elements(By.CSS_SELECTOR, "#rows tr")]
        try:
            WebDriverWait(driver, 20, ignored_exceptions=transient).until(lambda d: row_ids(d) == ["1", "2"])
        except Exception:
            pass
        ids = row_ids(driver)
        check(ids == ["1", "2"], f"runs page: sorting by id ascending gave {ids}")
        check("dir=asc" in driver.current_url, f"runs page: the sort is not in the address: {driver.current_url}")
        driver.save_screenshot(os.path.join(shots, "runs.png"))

        # Pages of one run: the server cuts them, with the sort and the filters.
        driver.get(base + "runs?page_size=1")
        try:
            WebDriverWait(driver, 20, ignored_exceptions=transient).until(lambda d: row_ids(d) == ["2"])
        except Exception:
            pass
        check(row_ids(driver) == ["2"], f"runs page 1 of size 1: rows {row_ids(driver)}")
        check("page 1 of 2" in driver.find_element(By.ID, "position").text,
              f"runs pager: {driver.find_element(By.ID, 'position').text}")
        check(driver.find_element(By.ID, "previous").get_attribute("disabled") is not None,
              "runs pager: previous is enabled on page 1")
        driver.find_element(By.ID, "next").click()
        try:
            WebDriverWait(driver, 20, ignored_exceptions=transient).until(lambda d: row_ids(d) == ["1"])
        except Exception:
            pass
        check(row_ids(driver) == ["1"], f"runs page 2 of size 1: rows {row_ids(driver)}")
        check("page=2" in driver.current_url, f"runs pager: the page is not in the address: {driver.current_url}")
        check(driver.find_element(By.ID, "next").get_attribute("disabled") is not None,
              "runs pager: next is enabled on the last page")
        driver.find_element(By.CSS_SELECTOR, "th[data-key='id']").click()  # id ascending: back to page 1
        try:
            WebDriverWait(driver, 20, ignored_exceptions=transient).until(
                lambda d: row_ids(d) == ["1"] and "page 1 of 2" in d.find_element(By.ID, "position").text)
        except Exception:
            pass
        check(row_ids(driver) == ["1"] and "page 1 of 2" in driver.find_element(By.ID, "position").text,
              f"runs pager: sorting did not return to page 1 sorted ascending: {row_ids(driver)}")
        Select(driver.find_element(By.ID, "task")).select_by_value("classify")
        try:
            WebDriverWait(driver, 20, ignored_exceptions=transient).until(
                lambda d: row_ids(d) == ["2"] and "page 1 of 1" in d.find_element(By.ID, "position").text)
        except Exception:
            pass
        check(row_ids(driver) == ["2"] and "page 1 of 1" in driver.find_element(By.ID, "position").text,
              f"runs pager with a filter: {row_ids(driver)}, {driver.find_element(By.ID, 'position').text}")
        driver.get(base + "runs?sort=id&dir=asc")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rows tr")) == 2)

        # Runs table -> run 1 -> its lineage -> the finetune (run 2).
        driver.find_element(By.CSS_SELECTOR, "#rows tr[data-run='1'] a.run-link").click()
        wait.until(lambda d: d.find_elements(By.ID, "run"))
        check(driver.find_element(By.TAG_NAME, "h1").text.startswith("run 1"), "run page: wrong heading")
        for section in ("summary", "metrics", "curves", "pictures", "lineage", "artifacts", "recipe"):
            check(driver.find_elements(By.ID, section), f"run page: no {section} section")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#charts svg")) >= 2, "run page: fewer than 2 charts")
        images = driver.find_elements(By.CSS_SELECTOR, "img.picture")
        check(images and all(driver.execute_script("return arguments[0].naturalWidth", i) > 0 for i in images),
              "run page: pictures missing or not loaded")
        check("present" in driver.find_element(By.TAG_NAME, "body").text, "run page: no artifact file state")
        provenance = driver.find_elements(By.ID, "recipe-provenance")
        check(provenance and "pretrain.yaml:" in provenance[0].text, "run page: no recipe provenance")
        driver.save_screenshot(os.path.join(shots, "run.png"))
        driver.find_element(By.ID, "lineage-link").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#graph svg"))
        nodes = {n.get_attribute("data-node") for n in driver.find_elements(By.CSS_SELECTOR, "#graph g.node")}
        check({"run:1", "run:2"} <= nodes, f"lineage page: nodes {sorted(nodes)}")
        driver.save_screenshot(os.path.join(shots, "lineage.png"))
        driver.find_element(By.CSS_SELECTOR, "#graph a[href='/run/2']").click()
        wait.until(lambda d: d.find_elements(By.ID, "run"))
        heading = driver.find_element(By.TAG_NAME, "h1").text
        check(heading.startswith("run 2") and "classify" in heading, f"finetune page heading: {heading}")
        check(driver.find_elements(By.CSS_SELECTOR, "a.parents-link[href='/run/1']"), "run 2: no link to its parent")
        parents = driver.find_element(By.CSS_SELECTOR, "p.parents").text
        check(parents.startswith("parents: finetuned from run 1 pretrain") and "(init.backbone, sha256:" in parents,
              f"run 2: its parent reads '{parents}'")

        # Compare: tick both runs in the table.
        driver.get(base + "runs")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rows tr")) == 2)
        for box in driver.find_elements(By.CSS_SELECTOR, "input.pick"):
            box.click()
        driver.find_element(By.ID, "compare").click()
        wait.until(lambda d: d.find_elements(By.ID, "facts"))
        check("runs=1,2" in driver.current_url, f"compare address: {driver.current_url}")
        check(driver.find_elements(By.CSS_SELECTOR, "pre.diff .add"), "compare page: no recipe diff")
        check(driver.find_elements(By.CSS_SELECTOR, "#charts svg"), "compare page: no overlaid curves")
        driver.save_screenshot(os.path.join(shots, "compare.png"))

        severe = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        check(not severe, "browser console errors: " + json.dumps(severe[:3]))

        # The API equals the command line; raw paths that try to leave the run outputs are refused.
        for path, args in [("api/runs?metrics=loss", ["runs", "list", "--metrics", "loss", "--format", "json"]),
                           ("api/runs/2", ["runs", "show", "2", "--format", "json"]),
                           ("api/lineage?ref=run:1&direction=down", ["lineage", "run:1", "--down", "--format", "json"])]:
            with urllib.request.urlopen(base + path) as response:
                check(response.read().decode() == mixmae(*args).stdout, f"/{path} differs from mixmae {' '.join(args)}")
        for path in ["/files/run/1/pictures/..%2F..%2F..%2Fregistry.sqlite", "/files/run/1/%2e%2e/%2e%2e/registry.sqlite",
                     "/files/run/1/pictures/../../../registry.sqlite", "/files//etc/passwd",
                     "/files/run/1/pictures/%2Fetc%2Fpasswd", "/files/artifact/..%2F..%2Fregistry.sqlite"]:
            status, body = raw_get(port, path)
            check(status in (400, 404) and b"SQLite format" not in body and b"root:" not in body,
                  f"raw GET {path}: {status}")
        status, _ = raw_get(port, "/files/run/1/pictures/" + os.listdir(os.path.join(home, "runs/1/pictures"))[0])
        check(status == 200, f"a real picture answered {status}")
    finally:
        if driver is not None:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"browser-test: screenshots in {shots}", flush=True)
    if failures:
        print(f"browser-test: FAILED ({len(failures)} problems, {time.time() - started:.0f}s)", file=sys.stderr)
        sys.exit(1)
    print(f"browser-test: passed ({time.time() - started:.0f}s)")


if __name__ == "__main__":
    main()
