"""PyInstaller hook for the app's own package.

The CLI imports some command modules by name (``importlib.import_module``) and the engine
process is started by a pickled reference, so import analysis alone can miss modules: collect
every submodule. ``desktop_app/data`` (the Gemma 3 catalog) is package data.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

hiddenimports = collect_submodules("desktop_app")
datas = collect_data_files("desktop_app")
