"""The desktop window (PySide6 widgets): conversations, chat, composer, settings and model loading.

Nothing here touches llama.cpp or SQLite directly: the engine is reached through
:class:`~desktop_app.ui.engine_bridge.EngineBridge` and conversations through the store's API.
The UI thread only paints; pipes, image decoding and GGUF reading run on other threads.
"""
