"""shellper: natural language to shell commands, from a small local model.

Kept import-free on purpose: the shell widgets import this package on every
key press, so nothing heavy (openai, psutil, platformdirs) may load here.
"""

__version__ = "0.1.0"
