"""Benchmarks of the Conversation Workbench against the raw-client floor and the LangChain peers."""
