"""Discovery: entry points (listed lazily, imported on first use) and --plugins paths."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import (
    Float,
    Int,
    _discovery,
    add_plugin_paths,
    all_infos,
    broken_files,
    encoders,
    heads,
    losses,
)

MakeDist = Callable[..., Path]  # the fake_dist fixture (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("without_contracts")  # fakes return their arguments

LAZY_CLASS = '''
from toolkit.registry import Float, Int


class Lazy:
    """A lazily imported encoder.

    More text that is not the summary.
    """

    search_space = {"width": Int(2, 8), "dropout": Float(0.0, 0.5)}

    def __init__(self, in_channels: int, image_size: int, width: int = 4, dropout: float = 0.0):
        self.args = (in_channels, image_size, width, dropout)
'''

DECORATED = '''
from toolkit.registry import Float, losses


@losses.register("tst-deco", space={"margin": Float(0.1, 0.9)})
def make(num_classes: int, margin: float = 0.5):
    """A loss that registers itself with the decorator."""
    return ("deco", num_classes, margin)


@losses.register("tst-deco-extra")
def make_extra(num_classes: int):
    """Registered by the same module, without an entry point of its own."""
    return ("extra", num_classes)
'''

GOOD_HEAD = '''
def make(in_features: int, num_classes: int, dropout: float = 0.1):
    """A healthy head."""
    return ("head", in_features, num_classes, dropout)
'''


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


# -- entry points ----------------------------------------------------------------------------


def test_entry_point_is_listed_without_import_and_imported_on_first_use(
    fake_dist: MakeDist,
) -> None:
    fake_dist(
        "tst-lazy-dist",
        {"toolkit.encoders": {"tst-lazy": "tst_lazy_mod:Lazy"}},
        {"tst_lazy_mod": LAZY_CLASS},
    )
    assert "tst-lazy" in encoders.names("tst-*")
    assert "tst-lazy" in encoders
    assert "tst_lazy_mod" not in sys.modules  # listing and `in` import nothing

    built = encoders.create("tst-lazy", in_channels=3, image_size=16, width=6)
    assert "tst_lazy_mod" in sys.modules
    assert built.args == (3, 16, 6, 0.0)

    info = encoders.info("tst-lazy")
    assert info.source == "tst-lazy-dist"  # the distribution, not a file
    assert info.target == "tst_lazy_mod:Lazy"
    assert info.summary == "A lazily imported encoder."
    assert info.status == "ok"
    assert info.space == {"width": Int(2, 8), "dropout": Float(0.0, 0.5)}
    assert [p.name for p in info.params] == ["width", "dropout"]


def test_entry_point_unknown_parameter_is_still_checked(fake_dist: MakeDist) -> None:
    fake_dist(
        "tst-lazy-dist",
        {"toolkit.encoders": {"tst-lazy": "tst_lazy_mod:Lazy"}},
        {"tst_lazy_mod": LAZY_CLASS},
    )
    with pytest.raises(ToolkitError, match=r"no parameter 'dropuot'.*accepts: dropout, width"):
        encoders.create("tst-lazy", in_channels=3, image_size=8, dropuot=0.1)


def test_entry_point_module_may_register_itself_with_the_decorator(
    fake_dist: MakeDist,
) -> None:
    fake_dist(
        "tst-deco-dist",
        {"toolkit.losses": {"tst-deco": "tst_deco_mod:make"}},
        {"tst_deco_mod": DECORATED},
    )
    assert losses.create("tst-deco", num_classes=4) == ("deco", 4, 0.5)
    info = losses.info("tst-deco")
    assert info.source == "tst-deco-dist"
    assert info.space == {"margin": Float(0.1, 0.9)}  # the decorator's space
    # A second registration made while the distribution's module loads is attributed to it.
    assert losses.info("tst-deco-extra").source == "tst-deco-dist"


def test_importing_an_entry_point_module_directly_after_discovery(fake_dist: MakeDist) -> None:
    # Regression: user code (or a plugin's own test) importing the module after the registry
    # discovered its entry point raised "duplicate loss name 'tst-deco'" at import.
    fake_dist(
        "tst-deco-dist",
        {"toolkit.losses": {"tst-deco": "tst_deco_mod:make"}},
        {"tst_deco_mod": DECORATED},
    )
    assert "tst-deco" in losses.names()
    import tst_deco_mod  # type: ignore[import-not-found]

    info = losses.info("tst-deco")
    assert info.status == "ok" and info.source == "tst-deco-dist"
    assert losses.get("tst-deco") is tst_deco_mod.make


def test_importing_an_entry_point_module_directly_before_discovery(fake_dist: MakeDist) -> None:
    # Regression: the import registered the plugin under its file path, then discovery marked
    # the same plugin "duplicate ... registered by <file> and by <distribution>".
    fake_dist(
        "tst-deco-dist",
        {"toolkit.losses": {"tst-deco": "tst_deco_mod:make"}},
        {"tst_deco_mod": DECORATED},
    )
    import tst_deco_mod  # type: ignore[import-not-found]

    info = losses.info("tst-deco")
    assert info.status == "ok", info.error
    assert info.source == "tst-deco-dist"
    assert losses.create("tst-deco", num_classes=2, margin=0.2) == ("deco", 2, 0.2)
    assert losses.get("tst-deco") is tst_deco_mod.make


def test_reset_rediscovers_and_keeps_the_decorators_space(fake_dist: MakeDist) -> None:
    fake_dist(
        "tst-deco-dist",
        {"toolkit.losses": {"tst-deco": "tst_deco_mod:make"}},
        {"tst_deco_mod": DECORATED},
    )
    assert losses.info("tst-deco").space == {"margin": Float(0.1, 0.9)}
    _discovery.reset()
    assert losses._entries == {}  # reset forgets entry points too...
    assert "tst-deco" in losses.names()  # ...and the next lookup rediscovers them
    # Regression: the module is cached in sys.modules, its decorator does not run again, and
    # the search space given to register() was lost.
    info = losses.info("tst-deco")
    assert info.status == "ok"
    assert info.space == {"margin": Float(0.1, 0.9)}


BROKEN_MODULES = {
    "import-error": (
        "tst_bad_import:make",
        {"tst_bad_import": "raise ImportError('no gpu lib')"},
        r"failed to import \(tst_bad_import:make\): ImportError: no gpu lib",
    ),
    "missing-module": (
        "tst_not_installed:make",
        {},
        "ModuleNotFoundError: No module named 'tst_not_installed'",
    ),
    "missing-attribute": ("tst_no_attr:nope", {"tst_no_attr": "x = 1\n"}, "AttributeError"),
    "syntax-error": ("tst_syntax:make", {"tst_syntax": "def make(:\n"}, "SyntaxError"),
    "kwargs": (
        "tst_kwargs:make",
        {"tst_kwargs": "def make(in_features, **kw):\n    pass\n"},
        "takes \\*args/\\*\\*kwargs",
    ),
    "bad-space-attr": (
        "tst_bad_space:Make",
        {
            "tst_bad_space": "class Make:\n    search_space = [('dropout', 0.1)]\n"
            "    def __init__(self, in_features, num_classes, dropout=0.1): pass\n"
        },
        "search_space that is not a dict",
    ),
    "bad-dimension": (
        "tst_bad_dim:Make",
        {
            "tst_bad_dim": "class Make:\n    search_space = {'dropout': (0.0, 0.5)}\n"
            "    def __init__(self, in_features, num_classes, dropout=0.1): pass\n"
        },
        "declares \\(0.0, 0.5\\) as the search space of 'dropout'",
    ),
    "inverted-space": (
        "tst_inverted:Make",
        {
            "tst_inverted": "from toolkit.registry import Float\n"
            "class Make:\n    search_space = {'dropout': Float(0.5, 0.1)}\n"
            "    def __init__(self, in_features, num_classes, dropout=0.1): pass\n"
        },
        "empty or inverted",
    ),
    "unknown-space-key": (
        "tst_space_key:Make",
        {
            "tst_space_key": "from toolkit.registry import Float\n"
            "class Make:\n    search_space = {'drop': Float(0.0, 0.5)}\n"
            "    def __init__(self, in_features, num_classes, dropout=0.1): pass\n"
        },
        "unknown parameter 'drop'",
    ),
    "not-callable": ("tst_module_only", {"tst_module_only": "x = 1\n"}, "no readable signature"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MODULES))
def test_broken_entry_point_is_reported_and_does_not_break_others(
    fake_dist: MakeDist, case: str
) -> None:
    target, modules, error = BROKEN_MODULES[case]
    fake_dist(
        "tst-mixed-dist",
        {"toolkit.heads": {"tst-broken": target, "tst-good": "tst_good_head:make"}},
        {**modules, "tst_good_head": GOOD_HEAD},
    )
    assert heads.names("tst-*") == ["tst-broken", "tst-good"]  # both listed, nothing imported

    infos = {i.name: i for i in all_infos("head", "tst-*")}  # never raises
    assert infos["tst-good"].status == "ok"
    assert infos["tst-good"].source == "tst-mixed-dist"
    broken = infos["tst-broken"]
    assert broken.status == "broken"
    assert broken.source == "tst-mixed-dist" and broken.target == target
    assert broken.error is not None
    assert re.search(error, broken.error), broken.error
    assert broken.to_dict()["status"] == "broken"

    with pytest.raises(ToolkitError, match=error):
        heads.create("tst-broken", in_features=2, num_classes=2)
    with pytest.raises(ToolkitError, match=error):  # the same error the second time
        heads.get("tst-broken")
    assert heads.create("tst-good", in_features=2, num_classes=3) == ("head", 2, 3, 0.1)


def test_duplicate_entry_points_name_both_distributions(fake_dist: MakeDist) -> None:
    fake_dist(
        "tst-dist-one",
        {"toolkit.heads": {"tst-twin": "tst_twin_one:make"}},
        {"tst_twin_one": GOOD_HEAD},
    )
    fake_dist(
        "tst-dist-two",
        {"toolkit.heads": {"tst-twin": "tst_twin_two:make"}},
        {"tst_twin_two": GOOD_HEAD},
    )
    info = heads.info("tst-twin")
    assert info.status == "broken"
    assert "duplicate head name 'tst-twin'" in (info.error or "")
    assert "tst-dist-one" in info.error and "tst-dist-two" in info.error
    assert "tst_twin_one:make" in info.error and "tst_twin_two:make" in info.error
    with pytest.raises(ToolkitError, match="duplicate head name"):
        heads.create("tst-twin", in_features=2, num_classes=2)


def test_local_file_clashing_with_an_entry_point_names_both_sources(
    fake_dist: MakeDist, tmp_path: Path
) -> None:
    fake_dist(
        "tst-ep-dist",
        {"toolkit.heads": {"tst-clash": "tst_clash_ep:make"}},
        {"tst_clash_ep": GOOD_HEAD},
    )
    local = write(
        tmp_path / "plugins" / "clash.py",
        """
        from toolkit.registry import heads

        @heads.register("tst-clash")
        def make(in_features: int, num_classes: int):
            return None
    """,
    )
    add_plugin_paths([str(local)])
    assert heads.info("tst-clash").source == "tst-ep-dist"  # the installed one stays
    error = broken_files[str(local)]
    assert "duplicate head name 'tst-clash'" in error
    assert "tst-ep-dist" in error and str(local) in error


def test_entry_point_groups_are_kept_apart(fake_dist: MakeDist) -> None:
    fake_dist(
        "tst-groups-dist",
        {
            "toolkit.encoders": {"tst-e": "tst_g:enc"},
            "toolkit.losses": {"tst-l": "tst_g:loss"},
            "toolkit.heads": {"tst-h": "tst_g:head"},
            "toolkit.optimizers": {"tst-o": "tst_g:enc"},  # not ours: ignored
        },
        {
            "tst_g": """
            def enc(in_channels, image_size): return "e"
            def loss(num_classes): return "l"
            def head(in_features, num_classes): return "h"
        """
        },
    )
    assert encoders.names("tst-*") == ["tst-e"]
    assert losses.names("tst-*") == ["tst-l"]
    assert heads.names("tst-*") == ["tst-h"]
    assert losses.create("tst-l", num_classes=2) == "l"


# -- plugin paths ----------------------------------------------------------------------------

LOCAL_ENCODER = '''
from __future__ import annotations

from dataclasses import dataclass

from toolkit.registry import Int, encoders


@dataclass(frozen=True)
class Config:  # a dataclass needs its module in sys.modules: plugin files get one
    width: int = 4


@encoders.register("{name}", space={{"width": Int(2, 16)}})
def make(in_channels: int, image_size: int, width: int = 4):
    """Local encoder {name}."""
    return Config(width)
'''


def local_plugin(path: Path, name: str) -> Path:
    return write(path, LOCAL_ENCODER.format(name=name))


def test_plugin_file(tmp_path: Path) -> None:
    file = local_plugin(tmp_path / "mine.py", "tst-local")
    add_plugin_paths([str(file)])
    assert encoders.create("tst-local", in_channels=1, image_size=4, width=8).width == 8
    info = encoders.info("tst-local")
    assert info.source == str(file)
    assert info.summary == "Local encoder tst-local."
    assert info.space == {"width": Int(2, 16)}


def test_plugin_folder_loads_its_modules_but_not_private_or_test_files(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    local_plugin(folder / "a.py", "tst-a")
    local_plugin(folder / "b.py", "tst-b")
    local_plugin(folder / "_helper.py", "tst-private")
    local_plugin(folder / "test_a.py", "tst-test")
    local_plugin(folder / "conftest.py", "tst-conftest")
    local_plugin(folder / "sub" / "c.py", "tst-nested")  # folders are not searched recursively
    write(folder / "notes.txt", "not python")
    add_plugin_paths([str(folder)])
    assert encoders.names("tst-*") == ["tst-a", "tst-b"]
    assert encoders.info("tst-b").source == str((folder / "b.py").resolve())


def test_broken_plugin_file_is_reported_and_does_not_break_others(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    local_plugin(folder / "a_good.py", "tst-good")
    write(folder / "b_broken.py", "import tst_no_such_module_anywhere\n")
    write(
        folder / "c_bad_space.py",
        """
        from toolkit.registry import Float, losses

        @losses.register("tst-bad", space={"margin": Float(1.0, 0.0)})
        def make(num_classes: int, margin: float = 0.5):
            return None
    """,
    )
    local_plugin(folder / "d_good.py", "tst-good-too")
    add_plugin_paths([str(folder)])
    assert encoders.names("tst-*") == ["tst-good", "tst-good-too"]
    assert "tst-bad" not in losses.names()
    broken = {Path(f).name: e for f, e in broken_files.items()}
    assert broken == {
        "b_broken.py": "ModuleNotFoundError: No module named 'tst_no_such_module_anywhere'",
        "c_bad_space.py": broken["c_bad_space.py"],
    }
    assert "empty or inverted" in broken["c_bad_space.py"]


def test_plugin_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="plugin path '/no/such/path' does not exist"):
        add_plugin_paths(["/no/such/path"])
    text = write(tmp_path / "plugin.txt", "x")
    with pytest.raises(ToolkitError, match=r"is not a \.py file"):
        add_plugin_paths([str(text)])
    add_plugin_paths(["", ""])  # empty entries are ignored


def test_path_added_after_discovery_loads_at_once(tmp_path: Path) -> None:
    encoders.names()  # discovery has happened
    add_plugin_paths([str(local_plugin(tmp_path / "late.py", "tst-late"))])
    assert "tst-late" in encoders._entries  # no further lookup needed


def test_a_file_named_twice_loads_once(tmp_path: Path) -> None:
    file = local_plugin(tmp_path / "plugins" / "once.py", "tst-once")
    add_plugin_paths([str(file), str(tmp_path / "plugins"), str(file)])
    add_plugin_paths([str(file)])
    assert encoders.names("tst-*") == ["tst-once"]
    assert broken_files == {}  # a second import would have been a duplicate registration


def test_environment_variable_with_several_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = local_plugin(tmp_path / "one" / "p.py", "tst-env-one")
    two = tmp_path / "two"
    local_plugin(two / "q.py", "tst-env-two")
    monkeypatch.setenv("TOOLKIT_PLUGINS", os.pathsep.join([str(one), "", str(two)]))
    assert encoders.names("tst-env-*") == ["tst-env-one", "tst-env-two"]


def test_environment_variable_with_a_missing_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_PLUGINS", "/no/such/plugins")
    with pytest.raises(ToolkitError, match="TOOLKIT_PLUGINS"):
        encoders.names()


def test_nothing_is_loaded_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_plugin(tmp_path / "sneaky.py", "tst-sneaky")
    monkeypatch.chdir(tmp_path)
    assert "tst-sneaky" not in encoders.names()


def test_reset_forgets_paths_and_broken_files(tmp_path: Path) -> None:
    write(tmp_path / "bad.py", "raise RuntimeError('x')\n")
    add_plugin_paths([str(tmp_path / "bad.py")])
    encoders.names()
    assert broken_files
    _discovery.reset()
    assert broken_files == {}
    assert encoders.names("tst-*") == []
    assert broken_files == {}  # the path was forgotten too
