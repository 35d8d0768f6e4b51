#!/usr/bin/python3
"""Screenshots of the four `mixmae ui` pages on a registry made by a short real training chain.

    /usr/bin/python3 scripts/ui-screenshots.py OUT_DIR [PATH/TO/mixmae]

The chain, on `mixmae data synth` images (dense tasks on non-square 64x48, 48x64, 56x64 images):
run 1 pretrains a tiny Swin (MixMAE), runs 2 and 3 finetune classification from it at two
learning rates, run 4 detection (FPN + FCOS) and run 5 segmentation (UperNet) from it. Then
`mixmae ui` serves the registry and headless Chromium saves runs.png, run-detect.png,
run-segment.png, run-pretrain.png, lineage.png and compare.png (full page height) in OUT_DIR.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKBONE = ("{name: swin, img_size: 64, embed_dim: 16, depths: [1, 1, 2, 1], num_heads: [1, 2, 2, 4], "
            "window_size: [4, 4, 4, 2], out_indices: [0, 1, 2, 3]}")
RECIPES = {
    "pretrain.yaml": f"""base: {ROOT}/recipes/base/pretrain.yaml
data: {{root: data/classification/train, img_size: 64, batch_size: 16, num_workers: 2}}
optim: {{base_lr: 1.5e-3}}
schedule: {{epochs: 3, warmup_epochs: 1}}
log: {{every: 2, pictures: 4}}
model:
  backbone: {BACKBONE}
  decoder: {{name: vit-decoder, decoder_dim: 32, decoder_depth: 1, decoder_num_heads: 2}}
""",
    "classify.yaml": f"""task: classify
data: {{root: data/classification/train, val_root: data/classification/val, img_size: 64, batch_size: 16, eval_crop: 1.0}}
optim: {{base_lr: 1e-3, betas: [0.9, 0.999], layer_decay: 0.7}}
schedule: {{epochs: 3, warmup_epochs: 0.5}}
init: {{weights: "run:1"}}
log: {{every: 2}}
model:
  backbone: {BACKBONE}
  head: {{name: linear-cls}}
""",
    "detect.yaml": f"""base: {ROOT}/recipes/base/detect.yaml
data: {{root: data/detection, img_size: 64, batch_size: 8, num_workers: 2}}
detect: {{train_ann: train.json, train_img: train/images, val_ann: val.json, val_img: val/images,
         short_sides: [48, 64], max_size: 64, test_short_side: 56}}
optim: {{base_lr: 3.2e-2}}
schedule: {{epochs: 3, warmup_epochs: 0.3}}
init: {{weights: "run:1"}}
log: {{every: 2, pictures: 6}}
model:
  backbone: {BACKBONE}
  neck: {{name: fpn, out_channels: 32, start_level: 0}}
  head: {{name: fcos, feat_channels: 32, stacked_convs: 1, num_groups: 8, regress_ranges: [32, 64, 128, 256]}}
""",
    "segment.yaml": f"""base: {ROOT}/recipes/base/segment.yaml
data: {{root: data/segmentation, img_size: 48, batch_size: 8, num_workers: 2}}
segment: {{num_classes: 7, reduce_zero_label: false, scale: [64, 64], mode: whole}}
optim: {{base_lr: 3.2e-2, weight_decay: 0.05}}
schedule: {{epochs: 3, warmup_epochs: 0.3}}
init: {{weights: "run:1"}}
log: {{every: 2, pictures: 6}}
model:
  backbone: {BACKBONE}
  head: {{name: upernet, channels: 32, num_groups: 8, aux_channels: 16}}
""",
}


def main():
    out = os.path.abspath(sys.argv[1])
    binary = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(subprocess.run(
        ["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True,
        check=True).stdout.strip(), "mixmae")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mixmae-ui-shots-")
    home = os.path.join(work, "home")
    env = dict(os.environ, MIXMAE_HOME=home, MIXMAE_REGISTRY=os.path.join(ROOT, "registry.yaml"))

    def mixmae(*args):
        started = time.time()
        result = subprocess.run([binary, *args], cwd=work, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"mixmae {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        print(f"mixmae {' '.join(args)}: {time.time() - started:.0f}s", flush=True)

    for name, text in RECIPES.items():
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    mixmae("data", "synth", "--out", "data", "--images", "160", "--size", "64",
           "--dense-sizes", "64x48,48x64,56x64")
    mixmae("train", "pretrain.yaml")
    mixmae("train", "classify.yaml")
    mixmae("train", "classify.yaml", "--set", "optim.base_lr=3e-3")
    mixmae("train", "detect.yaml")
    mixmae("train", "segment.yaml")

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    server = subprocess.Popen([binary, "ui", "--home", home, "--port", "0"], env=env, stdout=subprocess.PIPE,
                              text=True)
    driver = None
    try:
        base = re.search(r"at (http://127\.0\.0\.1:\d+/)", server.stdout.readline()).group(1)
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--hide-scrollbars"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=ChromeService(executable_path=shutil.which("chromedriver")))
        shots = [
            ("runs.png", "runs?metrics=loss,top1,AP,mIoU", "#rows tr"),
            ("run-pretrain.png", "run/1", "#recipe"),
            ("run-detect.png", "run/4", "#recipe"),
            ("run-segment.png", "run/5", "#recipe"),
            ("lineage.png", "lineage?ref=run:1", "#graph svg"),
            ("compare.png", "compare?runs=2,3", "#charts svg"),
        ]
        for name, path, ready in shots:
            driver.set_window_size(1400, 1000)
            driver.get(base + path)
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready))
            time.sleep(0.5)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1400, min(max(height, 600), 8000))
            time.sleep(0.3)
            driver.save_screenshot(os.path.join(out, name))
            print(f"{out}/{name} ({path})", flush=True)
    finally:
        if driver is not None:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(f"registry: {home}")


if __name__ == "__main__":
    main()
