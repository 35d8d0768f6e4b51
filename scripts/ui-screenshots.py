#!/usr/bin/python3
"""Full-page screenshots of the `mixmae ui` pages.

    /usr/bin/python3 scripts/ui-screenshots.py OUT_DIR [--mixmae PATH] [--home DIR]
        [--run ID] [--lineage REF] [--compare A,B] [--sweep ID]

With --home: the registry there (e.g. the quickstart's, quickstart/home), read-only. The pages
default to: the run = the first classification run finetuned from a pretraining run; lineage
from the first pretraining run; compare = the first two classification runs outside sweeps;
the newest sweep. Without --home: a registry made by a short real chain (scripts/uiharness.py):
run 1 pretrains a tiny Swin, runs 2 and 3 finetune classification from it at two learning
rates, run 4 detection (FPN + FCOS), run 5 segmentation (UperNet), then a 2-point sweep of the
finetune over seeds (runs 6 and 7).

Saves runs.png, run.png, lineage.png, compare.png, sweeps.png, sweep.png (and without --home
also run-pretrain.png, run-detect.png, run-segment.png) in OUT_DIR.
"""
import argparse
import json
import os
import re
import sys
import urllib.request

import uiharness as ui


def fetch(base, path):
    with urllib.request.urlopen(base + path) as response:
        return response.read().decode()


def default_pages(base):
    """The runs and sweep to show, chosen through the UI's own API as the module doc says."""
    runs = sorted(json.loads(fetch(base, "api/runs")), key=lambda run: run["id"])
    pretrain = next((run["id"] for run in runs if run["task"] == "pretrain"), None)
    classify = [json.loads(fetch(base, f"api/runs/{run['id']}")) for run in runs if run["task"] == "classify"]
    outside = [details for details in classify if "sweep" not in details.get("tags", {})]
    finetuned = next((details["run"]["id"] for details in outside
                      if any(parent["task"] == "pretrain" for parent in details.get("parents", []))), None)
    sweeps = re.findall(r'data-sweep="(\d+)"', fetch(base, "sweeps/table"))
    return {
        "run": finetuned or (runs[-1]["id"] if runs else None),
        "lineage": f"run:{pretrain}" if pretrain else None,
        "compare": ",".join(str(details["run"]["id"]) for details in outside[:2]) if len(outside) >= 2 else None,
        "sweep": sweeps[0] if sweeps else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--mixmae")
    parser.add_argument("--home", help="an existing MIXMAE_HOME (read-only); default: make a registry")
    parser.add_argument("--run", help="the run page to show")
    parser.add_argument("--lineage", help="the lineage page's reference (run:1)")
    parser.add_argument("--compare", help="the runs to compare (2,3)")
    parser.add_argument("--sweep", help="the sweep page to show")
    parser.add_argument("--metrics", default="loss,top1,AP,mIoU", help="the runs table's metric columns")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    ui.need_browser()
    ws = ui.Workspace(ui.mixmae_binary(args.mixmae), prefix="mixmae-ui-shots-", home=args.home)
    extra = []
    if args.home is None:
        ws.chain(pretrain_epochs=3, log_every=2, dense_sizes="64x48,48x64,56x64")
        ws.must("train", "classify.yaml")
        ws.must("train", "classify.yaml", "--set", "optim.base_lr=3e-3")
        ws.must("train", "detect.yaml")
        ws.must("train", "segment.yaml")
        ws.must(*ui.SWEEP)
        extra = [("run-pretrain.png", "run/1", "#recipe"), ("run-detect.png", "run/4", "#recipe"),
                 ("run-segment.png", "run/5", "#recipe")]
    with ui.Server(ws) as server, ui.Browser() as browser:
        chosen = default_pages(server.base)
        for key in chosen:
            if getattr(args, key):
                chosen[key] = getattr(args, key)
        print("pages: " + json.dumps(chosen), flush=True)
        shots = [("runs.png", f"runs?metrics={args.metrics}", "#rows tr"), ("sweeps.png", "sweeps", "h1")]
        if chosen["run"]:
            shots.append(("run.png", f"run/{chosen['run']}", "#recipe"))
        if chosen["lineage"]:
            shots.append(("lineage.png", f"lineage?ref={chosen['lineage']}", "#graph svg"))
        if chosen["compare"]:
            shots.append(("compare.png", f"compare?runs={chosen['compare']}", "#facts"))
        if chosen["sweep"]:
            shots.append(("sweep.png", f"sweep/{chosen['sweep']}", "#points"))
        for name, path, ready in shots + extra:
            browser.open(server.base + path, ready)
            browser.screenshot(os.path.join(out, name), full_page=True)
            print(f"{out}/{name} ({path})", flush=True)
    print(f"registry: {ws.home}")
    if not all(chosen.values()):
        missing = [key for key, value in chosen.items() if not value]
        print(f"not shown (nothing in the registry to show): {', '.join(missing)}", file=sys.stderr)


if __name__ == "__main__":
    main()
