"""llama.cpp's own server as a backend: building it, and an Engine that talks to it."""
