"""The example study files, shipped as package data (``*.toml``; no code).

``toolkit.tune.study_files`` finds them by name through :mod:`importlib.resources`, so
``tk tune compare COMPETITION`` and ``tk run`` work wherever the toolkit is installed;
``tk study new NAME --from compare`` copies one into ``studies/NAME.toml`` to edit.
"""
