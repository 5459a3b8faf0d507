"""Getting a model: the Gemma 3 catalog, Hugging Face downloads, the local registry and the fit check.

``catalog`` (what can be downloaded), ``download`` (fetching it through huggingface_hub),
``registry`` (what is on this machine, downloaded or imported in place), ``fit`` (will it run
here) and ``commands`` (``python -m desktop_app models ...``).  Nothing here imports Qt or
llama_cpp, so the window and the command line share all of it.
"""
