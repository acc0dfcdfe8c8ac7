"""Conversation history in SQLite (headless: never imports Textual)."""
