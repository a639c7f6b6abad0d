"""Clients written once: ``workbench/_async`` is the source, ``workbench/_sync`` is generated from it.

Regenerate with ``python scripts/generate_sync.py``; a unit test fails while they differ.
"""
