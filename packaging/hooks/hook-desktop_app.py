"""PyInstaller hook for the app's own package.

The CLI imports some command modules by name (``importlib.import_module``) and the engine
process is started by a pickled reference, so import analysis alone can miss modules: collect
every submodule (the C extension ``desktop_app.engine._candidates`` among them).  uvicorn loads
the protocol, loop and lifespan classes the API server picks (``desktop_app.server.runner``) by
name, so those three modules are named here.
The package's data: ``desktop_app/data`` (the Gemma 3 catalog) and the window's compiled
translations (``translations/*.qm``; their ``.ts`` sources are not shipped, nor is the
extension's C source).  Qt's own ``qtbase_*.qm`` come with PyInstaller's PySide6 hooks.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

hiddenimports = [
    *collect_submodules("desktop_app"),
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.loops.asyncio",
    "uvicorn.lifespan.off",
]
datas = collect_data_files("desktop_app", includes=["data/*.json", "translations/*.qm"])
