"""The OpenAI-compatible API server: other programs on this computer (editors, scripts, note apps)
use the model the app has loaded, through ``/v1/chat/completions``.

``config`` holds its settings and safety limits, ``requests`` validates what clients send,
``messages`` turns OpenAI messages into engine messages (images included, never from a file),
``conversations`` recognises a conversation a client continues, ``app`` is the ASGI application,
``runner`` binds the socket and runs it, ``keeping`` stores API conversations when asked to.
Started by ``python -m desktop_app serve`` and by the window's switch.
"""
