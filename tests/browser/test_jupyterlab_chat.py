"""The chat widget in a real browser: JupyterLab started here, Debian's Chromium driven by Playwright.

JupyterLab serves a temporary copy of ``notebooks/01_chat.ipynb`` on the embedded profile (a fresh
data dir) with the fake OpenAI server as the model endpoint. The test runs every cell, types a
question into the widget and sends it, watches the reply stream in, checks that the kernel answers
while a slow reply streams, and stops that reply. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOW = "slow-stream:delay=0.1,tokens=400"
QUESTION = "What does **数据分析** involve? A `pandas` example:\n\n```python\ndf.groupby('city').sum()\n```"


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server on loopback, its root a temporary folder; ``url(path)`` carries the token."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = (ARTIFACTS / "jupyterlab.log").open("w")  # the server's and the kernel's output
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
            "--allow-root",  # CI containers often run as root
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer in {timeout} s; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


@pytest.fixture
def lab(tmp_path: Path, _openai_server_process: FakeOpenAIServer) -> Iterator[Lab]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: apt-get install chromium (make browser-deps)")
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "01_chat.ipynb", root)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "OPENAI_", "JUPYTER", "PYTEST_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # the kernelspec runs `python`
        PYTHONPATH=str(ROOT),
        WORKBENCH_PROFILE="embedded",
        WORKBENCH_DATA_DIR=str(tmp_path / "store"),
        OPENAI_BASE_URL=_openai_server_process.base_url,
        WORKBENCH_MODEL="echo",
        WORKBENCH_LLM_MAX_RETRIES="0",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get notified about Jupyter news?" toast over the screenshots
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp_path / "lab-settings")
    server = Lab(root, env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


async def shot(page: object, name: str, element: object | None = None) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await (element or page).screenshot(path=str(path))  # type: ignore[attr-defined]
    return path


async def test_chat_widget_in_jupyterlab(lab: Lab, page) -> None:  # type: ignore[no-untyped-def]
    await page.goto(lab.url("lab/tree/01_chat.ipynb"))
    await page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=90_000)
    await page.wait_for_function(
        "window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status === 'idle'", timeout=90_000
    )

    # run every cell, and wait until each has run
    await page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    await page.wait_for_function(
        """() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                   return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)); }""",
        timeout=180_000,
    )
    # an error (or anything on stderr) is rendered with the stderr mime type
    assert await page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    chat = page.locator(".wb-chat").first
    await chat.scroll_into_view_if_needed()
    await shot(page, "01_chat_notebook_ran")
    transcript = chat.locator(".wb-transcript")
    await transcript.get_by_text("echo: Show me a").wait_for(timeout=30_000)  # the notebook's own question

    # type a question, press Send, see the streamed reply rendered as Markdown
    box = chat.locator(".wb-input textarea")
    await box.fill(QUESTION)
    await chat.locator(".wb-send").click()
    reply = transcript.locator(".wb-assistant").filter(has_text="echo: What does")
    await reply.wait_for(timeout=30_000)
    await reply.locator("pre code").wait_for(timeout=30_000)  # the code block, rendered
    assert await reply.locator("strong", has_text="数据分析").count() == 1
    await reply.locator(".wb-info", has_text="echo · ").wait_for(timeout=30_000)  # stored: model, tokens, times
    assert await box.input_value() == ""
    await shot(page, "02_chat_reply", chat)

    # Enter at the end of the text sends too
    await box.press_sequentially("Enter sends this one")
    await box.press("Enter")
    await transcript.get_by_text("echo: Enter sends this one").wait_for(timeout=30_000)

    # a slow model: the reply streams in token by token; the kernel answers meanwhile; Stop ends it
    model = chat.locator(".wb-model input")
    await model.fill(SLOW)
    await box.fill("Please write a very long answer about data pipelines.")
    await chat.locator(".wb-send").click()
    streaming = transcript.locator(".wb-assistant").first  # the newest: the DOM holds the turns newest first
    await streaming.get_by_text("t3", exact=False).wait_for(timeout=30_000)
    first = await streaming.inner_text()
    await asyncio.sleep(0.5)
    assert len(await streaming.inner_text()) > len(first)  # still growing: streamed, not all at once
    took = await page.evaluate(
        """async () => { const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                         const start = Date.now(); await kernel.requestExecute({code: '40 + 2'}).done;
                         return Date.now() - start; }"""
    )
    assert took < 3000, f"the kernel took {took} ms to run a cell while a reply streamed"
    assert await chat.locator(".wb-stop").is_enabled()
    await shot(page, "03_chat_streaming", chat)
    await chat.locator(".wb-stop").click()
    await streaming.locator(".wb-interrupted").wait_for(timeout=30_000)
    await chat.locator(".wb-status", has_text="interrupted").wait_for(timeout=10_000)
    stopped = await streaming.inner_text()
    assert "t3" in stopped and "t399" not in stopped
    await shot(page, "04_chat_stopped", chat)

    # another session of the user: its stored history, Markdown rendered (Chinese text, code blocks)
    picker = chat.locator(".wb-sessions select")
    options = await picker.locator("option").all_text_contents()
    labels = [label for label in options if label.replace("\xa0", " ").startswith("异常值检测 · 12")]  # nbsp
    assert labels, f"the sample session 异常值检测 is not in the session list: {options}"
    await picker.select_option(label=labels[0])
    await transcript.locator(".wb-turn pre code").first.wait_for(timeout=30_000)
    await chat.locator(".wb-status", has_text="异常值检测: 12 messages").wait_for(timeout=10_000)
    assert await transcript.locator(".wb-turn").count() == 12
    await shot(page, "05_chat_history", chat)
