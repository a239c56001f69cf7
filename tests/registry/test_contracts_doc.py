"""docs/PLUGINS.md's contract section is rendered from the Protocols and must match them."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import _contracts_doc
from toolkit.registry.contracts import EmbeddingLoss, Encoder, Head, LogitLoss, Loss, members

DOC = Path(__file__).resolve().parents[2] / "docs" / "PLUGINS.md"


def test_the_doc_shows_the_protocols_as_they_are() -> None:
    section = _contracts_doc.section_of(DOC.read_text())
    assert section is not None, f"{DOC} lost its contract markers"
    assert section == _contracts_doc.render(), (
        f"{DOC.name}'s contract section differs from toolkit/registry/contracts.py; "
        f"regenerate it with: {_contracts_doc.COMMAND}"
    )


def test_every_member_is_in_the_rendering_with_its_description() -> None:
    text = _contracts_doc.render()
    for contract in (Encoder, Loss, LogitLoss, EmbeddingLoss, Head):
        assert f"### {contract.__name__}\n" in text
        for member in members(contract):
            line = next(x for x in text.splitlines() if x.startswith(f"- `{member.signature}`"))
            assert len(line) > len(member.signature) + 8, f"{member.name} has no description"
    for accessor in ("data_config(encoder)", "preferred_image_size(factory)"):
        assert f"- `{accessor}`: " in text


def test_no_training_setting_is_documented_as_a_plugin_parameter() -> None:
    text = DOC.read_text()
    for stale in ("`l2` (0.0", "`encoder_lr_scale` (1.0)", '`init_from` ("")', "last_miner"):
        assert stale not in text
    for setting in ("--set l2=0.1", "--set encoder_lr_scale=0.1", "--set init_from=RUN"):
        assert setting in text


def test_update_rewrites_only_the_section(tmp_path: Path) -> None:
    doc = tmp_path / "PLUGINS.md"
    doc.write_text(f"# Title\n\n{_contracts_doc.BEGIN}\nold text\n{_contracts_doc.END}\n\nEnd.\n")
    assert _contracts_doc.update(doc) is True
    assert doc.read_text() == f"# Title\n\n{_contracts_doc.render()}\nEnd.\n"
    assert _contracts_doc.update(doc) is False  # already up to date


def test_update_needs_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "PLUGINS.md"
    doc.write_text("# No markers\n")
    with pytest.raises(ToolkitError, match="has no '<!-- contracts:begin -->'"):
        _contracts_doc.update(doc)
    assert doc.read_text() == "# No markers\n"
