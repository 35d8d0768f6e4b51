#!/usr/bin/python3
"""How long each `mixmae ui` page takes with 1,000 runs in the registry.

    /usr/bin/python3 scripts/bench-ui.py [PATH/TO/mixmae] [--runs 1000] [--home DIR]

Makes the registry with `mixmae debug registry-load` (real rows through the registry's API:
runs, metrics, checkpoints, init.backbone links; 10 writer processes at once, so 10
lineage chains of runs/10 runs), starts `mixmae ui` on a free port, and times each page
5 times: the server's answer (HTTP GET, whole body) and, in headless Chromium, the page
until it is shown (the runs page: until its table is filled with its first page from
/api/runs). Prints the median of each.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mixmae", nargs="?")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--home")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    binary = args.mixmae or os.path.join(subprocess.run(
        ["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True,
        check=True).stdout.strip(), "mixmae")
    home = args.home or os.path.join(tempfile.mkdtemp(prefix="mixmae-ui-bench-"), "home")
    env = dict(os.environ, MIXMAE_HOME=home)
    if not os.path.exists(os.path.join(home, "registry.sqlite")):
        started = time.time()
        workers = 10
        per = args.runs // workers
        procs = [subprocess.Popen([binary, "debug", "registry-load", "--runs", str(per), "--metrics", "400",
                                   "--metric-batch", "100", "--artifacts", "2", "--artifact-bytes", "1024"],
                                  env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
        for proc in procs:
            if proc.wait() != 0:
                sys.exit("registry-load failed")
        print(f"made {per * workers} runs in {home} in {time.time() - started:.1f}s", flush=True)
    server = subprocess.Popen([binary, "ui", "--home", home, "--port", "0"], env=env, stdout=subprocess.PIPE,
                              text=True)
    driver = None
    try:
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", server.stdout.readline())
        base = match.group(1)
        newest = int(re.search(r'"id" : (\d+)', urllib.request.urlopen(base + "api/runs").read().decode()).group(1))
        pages = [
            ("runs (page of 50)", "runs", "#rows tr"),
            ("runs (page of 50, metrics loss,lr)", "runs?metrics=loss,lr", "#rows tr"),
            ("run", f"run/{newest}", "#recipe"),
            ("lineage", f"lineage?ref=run:{newest}", "#graph svg"),
            ("compare (3 runs)", f"compare?runs={newest},{newest - 1},{newest - 2}", "#charts svg"),
        ]
        api = [("api/runs", "api/runs"), ("api/runs?metrics=loss,lr", "api/runs?metrics=loss,lr"),
               ("api/runs page of 50 (the runs page)", "api/runs?page_size=50&page=1&sort=id&dir=desc"),
               ("  same, metrics=loss,lr", "api/runs?page_size=50&page=1&sort=id&dir=desc&metrics=loss,lr"),
               ("  same, page 20", "api/runs?page_size=50&page=20&sort=id&dir=desc&metrics=loss,lr"),
               ("  same, sorted by metric:loss", "api/runs?page_size=50&sort=metric:loss&dir=asc&metrics=loss,lr"),
               ("api/runs/ID", f"api/runs/{newest}"),
               ("api/lineage?direction=up", f"api/lineage?ref=run:{newest}&direction=up")]

        def server_time(path):
            times = []
            size = 0
            for _ in range(args.repeat):
                start = time.perf_counter()
                size = len(urllib.request.urlopen(base + path).read())
                times.append(time.perf_counter() - start)
            return statistics.median(times), size

        print(f"\n{'page / answer':34} {'server (median of ' + str(args.repeat) + ')':>24} {'bytes':>10}"
              f" {'browser, until shown':>22}")
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as ChromeService
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options,
                                  service=ChromeService(executable_path=shutil.which("chromedriver")))
        for name, path, ready in pages:
            seconds, size = server_time(path)
            shown = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                driver.get(base + path)
                WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready))
                shown.append(time.perf_counter() - start)
            print(f"{name:34} {seconds * 1000:21.0f} ms {size:10d} {statistics.median(shown) * 1000:19.0f} ms",
                  flush=True)
        for name, path in api:
            seconds, size = server_time(path)
            print(f"{name:34} {seconds * 1000:21.0f} ms {size:10d} {'-':>22}", flush=True)
    finally:
        if driver is not None:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
