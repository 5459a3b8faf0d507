"""PyInstaller hook for the app's own package.

The CLI imports some command modules by name (``importlib.import_module``) and the engine
process is started by a pickled reference, so import analysis alone can miss modules: collect
every submodule (the C extension ``desktop_app.engine._candidates`` among them).
The package's data: ``desktop_app/data`` (the Gemma 3 catalog) and the window's compiled
translations (``translations/*.qm``; their ``.ts`` sources are not shipped, nor is the
extension's C source).  Qt's own ``qtbase_*.qm`` come with PyInstaller's PySide6 hooks.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

hiddenimports = collect_submodules("desktop_app")
datas = collect_data_files("desktop_app", includes=["data/*.json", "translations/*.qm"])
