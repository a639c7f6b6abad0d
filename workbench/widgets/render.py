"""What the chat widget, the session browser and ``%%chat`` show: safe HTML from Markdown, turn info lines.

Model text is untrusted: :func:`markdown_to_html` escapes raw HTML before rendering and drops
``javascript:``-style links, so an ipywidgets ``HTML`` value built from it cannot run script.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import mistune

from workbench.settings import Settings

__all__ = ["CSS", "Markdown", "endpoint_hint", "escape", "markdown_to_html", "turn_info"]

CSS = """<style>
.wb-turn { padding: 4px 10px; margin: 3px 0; border-radius: 6px; line-height: 1.45; overflow-wrap: anywhere; }
.wb-turn p { margin: 4px 0; }
.wb-turn pre { background: var(--jp-layout-color2, #f3f3f3); padding: 6px 8px; border-radius: 4px;
  overflow-x: auto; white-space: pre; }
.wb-turn code { font-family: var(--jp-code-font-family, monospace); font-size: 0.92em; }
.wb-turn table { border-collapse: collapse; } .wb-turn th, .wb-turn td { border: 1px solid #ccc; padding: 2px 6px; }
.wb-user { background: var(--jp-brand-color4, #e3f2fd); }
.wb-assistant { background: var(--jp-layout-color1, #fff); border: 1px solid var(--jp-border-color2, #e0e0e0); }
.wb-system, .wb-tool { background: var(--jp-layout-color3, #eee); font-size: 0.9em; }
.wb-role { font-weight: 600; font-size: 0.8em; text-transform: uppercase; opacity: 0.65; }
.wb-info { font-size: 0.8em; opacity: 0.7; margin-top: 2px; }
.wb-interrupted { color: var(--jp-warn-color0, #b26a00); font-weight: 600; }
.wb-status-error { color: var(--jp-error-color1, #c62828); }
.wb-status-busy { color: var(--jp-brand-color1, #1565c0); }
.wb-table table { border-collapse: collapse; font-size: 0.85em; }
.wb-table th, .wb-table td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; }
</style>"""


class Markdown:
    """Markdown for the front end (which renders and sanitises it), the same text as its plain-text form.

    Unlike ``IPython.display.Markdown`` its ``text/plain`` is the text itself, so nbval compares it.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


@lru_cache(maxsize=1)
def _renderer() -> mistune.Markdown:
    return mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])


def markdown_to_html(text: str) -> str:
    """``text`` (Markdown) as HTML, raw HTML escaped first: code blocks, tables, CJK text kept as written."""
    return str(_renderer()(text))


def _ms(value: Any) -> str:
    return f"{value:,} ms" if isinstance(value, int | float) else "? ms"


def turn_info(metadata: Mapping[str, Any]) -> str:
    """One line about a stored reply: model, tokens (prompt → completion), time to first token, latency."""
    if "model" not in metadata:
        return ""
    prompt, completion = metadata.get("prompt_tokens"), metadata.get("completion_tokens")
    tokens = "tokens not reported" if prompt is None and completion is None else f"{prompt} → {completion} tokens"
    parts = [str(metadata["model"]), tokens, f"first token {_ms(metadata.get('ttft_ms'))}"]
    parts.append(f"total {_ms(metadata.get('latency_ms'))}")
    if metadata.get("interrupted"):
        parts.append("interrupted")
    return " · ".join(parts)


def endpoint_hint(settings: Settings) -> str | None:
    """How to configure a model endpoint, when neither a URL nor a key is set (else ``None``)."""
    if settings.openai_base_url or settings.openai_api_key:
        return None
    return (
        "No model endpoint is configured. Set OPENAI_BASE_URL (any OpenAI-compatible server, e.g. "
        "http://localhost:11434/v1 for Ollama), OPENAI_API_KEY if it needs one, and WORKBENCH_MODEL, "
        "in the environment or in .env, then restart the kernel (docs/llm.md)."
    )


def escape(text: str) -> str:
    """``text`` safe inside HTML."""
    return html.escape(text, quote=True)
