#!/usr/bin/python3
"""How long each `mixmae ui` page takes with 1,000 runs in the registry.

    /usr/bin/python3 scripts/bench-ui.py [PATH/TO/mixmae] [--runs 1000] [--home DIR]

Makes the registry with `mixmae debug registry-load` (real rows through the registry's API:
runs, metrics, checkpoints, init.backbone links; 10 writer processes at once, so 10
lineage chains of runs/10 runs; each writer's runs are also the points of one sweep, so
10 sweeps of runs/10 points), starts `mixmae ui` on a free port, and times each page
--repeat times (default 5): the server's answer (HTTP GET, whole body) and, in headless
Chromium, the page until it is shown (the runs page: until its table is filled with its
first page from /api/runs). Prints the median of each. Server, driver and waits come from
scripts/uiharness.py.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import uiharness as ui


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mixmae", nargs="?")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--home")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ui.need_browser()
    home = args.home or os.path.join(tempfile.mkdtemp(prefix="mixmae-ui-bench-"), "home")
    ws = ui.Workspace(ui.mixmae_binary(args.mixmae), prefix="mixmae-ui-bench-", home=home)
    if not os.path.exists(os.path.join(home, "registry.sqlite")):
        started = time.time()
        workers = 10
        per = args.runs // workers
        procs = [subprocess.Popen([ws.binary, "debug", "registry-load", "--runs", str(per), "--metrics", "400",
                                   "--metric-batch", "100", "--artifacts", "2", "--artifact-bytes", "1024",
                                   "--sweep"], env=ws.env, stdout=subprocess.DEVNULL) for _ in range(workers)]
        for proc in procs:
            if proc.wait() != 0:
                sys.exit("registry-load failed")
        print(f"made {per * workers} runs in {home} in {time.time() - started:.1f}s", flush=True)
    with ui.Server(ws) as server, ui.Browser() as browser:
        base = server.base
        newest = int(re.search(r'"id" : (\d+)', urllib.request.urlopen(base + "api/runs").read().decode()).group(1))
        sweep = re.search(r'data-sweep="(\d+)"', urllib.request.urlopen(base + "sweeps/table").read().decode())
        sweep = int(sweep.group(1)) if sweep else None
        pages = [
            ("runs (page of 50)", "runs", "#rows tr"),
            ("runs (page of 50, metrics loss,lr)", "runs?metrics=loss,lr", "#rows tr"),
            ("run", f"run/{newest}", "#recipe"),
            ("lineage", f"lineage?ref=run:{newest}", "#graph svg"),
            ("compare (3 runs)", f"compare?runs={newest},{newest - 1},{newest - 2}", "#charts svg"),
            ("sweeps (list of 10)", "sweeps", "#sweeps"),
        ]
        api = [("api/runs", "api/runs"), ("api/runs?metrics=loss,lr", "api/runs?metrics=loss,lr"),
               ("api/runs page of 50 (the runs page)", "api/runs?page_size=50&page=1&sort=id&dir=desc"),
               ("  same, metrics=loss,lr", "api/runs?page_size=50&page=1&sort=id&dir=desc&metrics=loss,lr"),
               ("  same, page 20", "api/runs?page_size=50&page=20&sort=id&dir=desc&metrics=loss,lr"),
               ("  same, sorted by metric:loss", "api/runs?page_size=50&sort=metric:loss&dir=asc&metrics=loss,lr"),
               ("api/runs/ID", f"api/runs/{newest}"),
               ("api/lineage?direction=up", f"api/lineage?ref=run:{newest}&direction=up")]
        if sweep is not None:
            pages.append((f"sweep ({args.runs // 10} points)", f"sweep/{sweep}", "#points"))
            api.append(("api/sweeps/ID", f"api/sweeps/{sweep}"))

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
        for name, path, ready in pages:
            seconds, size = server_time(path)
            shown = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                browser.open(base + path, ready, timeout=120)
                shown.append(time.perf_counter() - start)
            print(f"{name:34} {seconds * 1000:21.0f} ms {size:10d} {statistics.median(shown) * 1000:19.0f} ms",
                  flush=True)
        for name, path in api:
            seconds, size = server_time(path)
            print(f"{name:34} {seconds * 1000:21.0f} ms {size:10d} {'-':>22}", flush=True)


if __name__ == "__main__":
    main()
