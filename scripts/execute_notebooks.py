"""Execute the notebooks in place, so their stored outputs are the ones nbval checks against.

Each notebook runs top to bottom in a fresh kernel on the embedded profile, in a fresh data dir
(so the sample data is loaded as on a new machine), with the tests' fake OpenAI server as the
model endpoint (model ``echo``), exactly as ``tests/notebooks`` runs them::

    .venv/bin/python scripts/execute_notebooks.py                 # every notebooks/0*.ipynb
    .venv/bin/python scripts/execute_notebooks.py notebooks/01_chat.ipynb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.openai_server import FakeOpenAIServer  # noqa: E402


def execute(notebook: Path, base_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="workbench-notebook-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "OPENAI_"))}
        env.update(
            WORKBENCH_PROFILE="embedded",
            WORKBENCH_DATA_DIR=str(Path(folder) / "store"),
            OPENAI_BASE_URL=base_url,
            WORKBENCH_MODEL="echo",
            WORKBENCH_LLM_MAX_RETRIES="0",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        command = [
            sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook", "--inplace",
            "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.record_timing=False",
            "--ExecutePreprocessor.store_widget_state=False", str(notebook),
        ]  # fmt: skip
        subprocess.run(command, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/0*.ipynb")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    with FakeOpenAIServer() as server:
        for notebook in notebooks:
            print(f"executing {notebook}", flush=True)
            execute(notebook, server.base_url)


if __name__ == "__main__":
    main()
