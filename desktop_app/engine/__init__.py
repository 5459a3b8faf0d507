"""The engine: llama.cpp in a child process, and everything it needs that is not Qt.

Only ``backend`` (loaded inside the child) imports llama_cpp.
"""
