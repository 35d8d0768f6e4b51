"""What the `mixmae ui` scripts share: the mixmae binary, a work folder with its own
registry, the short real training chain and sweep they run, the `mixmae ui` server, the
headless Chromium driver and its waits, full-page screenshots.

Used by scripts/browser-test.py, scripts/ui-screenshots.py and scripts/bench-ui.py:

    import uiharness as ui
    ws = ui.Workspace(ui.mixmae_binary(path))
    ws.chain()                                  # data synth, recipes, run 1 (pretrain)
    with ui.Server(ws) as server, ui.Browser() as browser:
        browser.driver.get(server.base + "runs")
        browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#rows tr"))

Needs Debian's chromium, chromium-driver and python3-selenium (scripts/install-deps),
run with /usr/bin/python3; `need_browser()` exits 1 saying what is missing.
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

# A tiny Swin (16 wide) that trains in seconds on 64x64 images; all four maps for dense heads.
BACKBONE = ("{name: swin, img_size: 64, embed_dim: 16, depths: [1, 1, 2, 1], num_heads: [1, 2, 2, 4], "
            "window_size: [4, 4, 4, 2], out_indices: [0, 1, 2, 3]}")


def recipes(pretrain_epochs=2, log_every=1):
    """The chain's recipes by file name: pretrain (run 1), then classify, detect and segment from run:1."""
    return {
        "pretrain.yaml": f"""base: {ROOT}/recipes/base/pretrain.yaml
data: {{root: data/classification/train, img_size: 64, batch_size: 16, num_workers: 2}}
optim: {{base_lr: 1.5e-3}}
schedule: {{epochs: {pretrain_epochs}, warmup_epochs: 1}}
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
log: {{every: {log_every}}}
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


# The tiny sweep of the chain: the classification finetune from run 1 over two seeds, one
# epoch each (2 points: the smallest sweep with a mean ± sd over seeds).
SWEEP = ["sweep", "classify.yaml", "--set", "schedule.epochs=1", "--grid", "seed=0,1"]


def need_browser():
    """Exits 1 with what to install when Chromium, its driver or Selenium is missing."""
    missing = [tool for tool in ("chromium", "chromedriver") if shutil.which(tool) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium (for " + sys.executable + ")")
    if missing:
        print("FAILED: cannot drive a browser: missing " + ", ".join(missing)
              + "; run scripts/install-deps (Debian packages chromium, chromium-driver, python3-selenium)",
              file=sys.stderr)
        sys.exit(1)


def mixmae_binary(path=None):
    """`path`, or the release build's mixmae; exits 1 when it is not there."""
    if path is None:
        out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
        path = os.path.join(out, "mixmae")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        print(f"FAILED: no mixmae at {path}; build with `swift build -c release`", file=sys.stderr)
        sys.exit(1)
    return path


class Workspace:
    """A work folder with its own MIXMAE_HOME (or a given one), where mixmae commands run."""

    def __init__(self, binary, prefix="mixmae-ui-", home=None):
        self.binary = binary
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.home = os.path.abspath(home) if home else os.path.join(self.work, "home")
        self.env = dict(os.environ, MIXMAE_HOME=self.home, MIXMAE_REGISTRY=os.path.join(ROOT, "registry.yaml"))

    def run(self, *args, **kwargs):
        """Runs `mixmae ARGS` in the work folder; returns the CompletedProcess."""
        return subprocess.run([self.binary, *args], cwd=self.work, env=self.env, capture_output=True, text=True,
                              **kwargs)

    def must(self, *args):
        """Runs `mixmae ARGS`, prints how long it took; exits 1 with its stderr when it fails."""
        started = time.time()
        result = self.run(*args)
        if result.returncode != 0:
            print(f"FAILED: mixmae {' '.join(args)}:\n{result.stderr[-3000:]}", file=sys.stderr)
            sys.exit(1)
        print(f"mixmae {' '.join(args)}: {time.time() - started:.0f}s", flush=True)
        return result

    def start(self, *args):
        """Starts `mixmae ARGS` in the background; its stderr goes to a log file (`log_tail(process)`)."""
        log = os.path.join(self.work, f"{args[0]}-{time.time():.3f}.log")
        with open(log, "w") as stderr:
            process = subprocess.Popen([self.binary, *args], cwd=self.work, env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        process.log_path = log
        return process

    def chain(self, pretrain_epochs=2, log_every=1, dense_sizes=None):
        """Synthesises 160 images per split, writes the recipes, pretrains run 1."""
        synth = ["data", "synth", "--out", "data", "--images", "160", "--size", "64"]
        self.must(*(synth + (["--dense-sizes", dense_sizes] if dense_sizes else [])))
        for name, text in recipes(pretrain_epochs, log_every).items():
            with open(os.path.join(self.work, name), "w") as f:
                f.write(text)
        self.must("train", "pretrain.yaml")


def log_tail(process, characters=2000):
    """The end of what a `Workspace.start` process wrote on stderr."""
    with open(process.log_path) as f:
        return f.read()[-characters:]


class Server:
    """`mixmae ui --home HOME --port 0` for the `with` block: `base` (http://127.0.0.1:PORT/), `port`."""

    def __init__(self, workspace):
        self.workspace = workspace
        self.process = None

    def __enter__(self):
        ws = self.workspace
        self.process = subprocess.Popen([ws.binary, "ui", "--home", ws.home, "--port", "0"], cwd=ws.work,
                                        env=ws.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.line = self.process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", self.line)
        if not match:
            self.stop()
            print("FAILED: mixmae ui printed no loopback address: " + self.line, file=sys.stderr)
            sys.exit(1)
        self.base, self.port = match.group(1), int(match.group(2))
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __exit__(self, *exc):
        self.stop()
        return False


class Browser:
    """Headless Chromium driven by Selenium for the `with` block (`driver`), with waits
    that retry while a page re-renders (live pages replace elements under the driver)."""

    def __init__(self, width=1400, height=1000, console_log=False):
        need_browser()
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as ChromeService
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         f"--window-size={width},{height}", "--hide-scrollbars"):
            options.add_argument(argument)
        if console_log:
            options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.size = (width, height)
        self.driver = webdriver.Chrome(options=options,
                                       service=ChromeService(executable_path=shutil.which("chromedriver")))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.driver.quit()
        return False

    def wait(self, condition, timeout=60):
        """Waits until `condition(driver)` is truthy and returns it; raises TimeoutException after `timeout` s.
        Checks every 50 ms (Selenium's default is 500 ms, which would round page timings up to it)."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(WebDriverException,)).until(condition)

    def settle(self, condition, timeout=20):
        """Like `wait` but returns False instead of raising: the caller checks what it then sees."""
        from selenium.common.exceptions import TimeoutException
        try:
            return self.wait(condition, timeout)
        except TimeoutException:
            return False

    def css(self, selector):
        """The elements matching a CSS selector (a list, empty when none)."""
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def open(self, url, ready, timeout=60):
        """Loads `url` and waits until the CSS selector `ready` matches."""
        self.driver.get(url)
        self.wait(lambda d: self.css(ready), timeout)

    def screenshot(self, path, full_page=False):
        """Saves a PNG of the window, or of the whole page height (up to 8,000 px) with `full_page`."""
        if full_page:
            time.sleep(0.5)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(self.size[0], min(max(height, 600), 8000))
            time.sleep(0.3)
        self.driver.save_screenshot(path)
        if full_page:
            self.driver.set_window_size(*self.size)
