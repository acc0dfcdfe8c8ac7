"""baichuan-chat: a terminal chat client for the Baichuan family of LLMs."""

__version__ = "0.1.0"
