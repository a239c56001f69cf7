"""Real photos: every format and mode decodes, one size policy per load, resize geometry,
automatic sizes, the cache keyed by the policy, bad files (decoding into the cache file:
test_decode_memory.py)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from toolkit.data import AUTO_SIZE_CAP, RESIZE_MODES, _images, load_competition, summary
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from conftest import Build


def _gradient(width: int = 32, height: int = 32) -> np.ndarray:
    """Smooth RGB (h, w, 3): red grows left to right, green top to bottom (JPEG-friendly)."""
    xs = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    ys = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.dstack([xs, ys, np.full_like(xs, 128)]).round().astype(np.uint8)


def _competition(
    tmp: Path, special: dict[str, Callable[[Path], str]], *, side: int = 32, name: str = "c"
) -> Path:
    """A kaggle folder: ``special`` writers (stem -> file name written) in train/, plus three
    plain RGB PNGs of ``side`` in train/ and two in test/; labels alternate a/b."""
    root = tmp / name
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    rng = np.random.default_rng(0)
    ids = [*special, "p1", "p2", "p3"]
    for stem, write in special.items():
        write(root / "train" / stem)
    for stem in ("p1", "p2", "p3", "t1", "t2"):
        folder = root / ("test" if stem.startswith("t") else "train")
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{stem}.png")
    rows = "".join(f"{i},{'ab'[n % 2]}\n" for n, i in enumerate(ids))
    (root / "train.csv").write_text("id,label\n" + rows)
    (root / "sample_submission.csv").write_text("id,label\nt1,a\nt2,a\n")
    return root


def _pixels(comp_x: np.ndarray, index: int) -> np.ndarray:
    return np.moveaxis(np.asarray(comp_x[index]), 0, 2).astype(np.int64)  # (S, S, C)


BASE = _gradient()
HALF_CLEAR = np.where(np.arange(32)[None, :, None] < 16, 255, BASE)  # left half on white


def _save(make: Callable[[], Image.Image], ext: str, **options: object) -> Callable[[Path], str]:
    def write(stem: Path) -> str:
        make().save(stem.with_suffix(ext), **options)
        return stem.name + ext

    return write


def _rgba() -> Image.Image:
    alpha = np.where(np.arange(32)[None, :] < 16, 0, 255).repeat(32, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([BASE, alpha]))


def _palette_transparent() -> Image.Image:
    im = Image.fromarray(BASE).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    im.putpalette([*(im.getpalette() or [])[: 255 * 3], 0, 255, 0])  # index 255: green...
    im.paste(255, (0, 0, 16, 32))
    im.info["transparency"] = 255  # ...and transparent
    return im


def _sixteen_bit() -> Image.Image:
    return Image.fromarray(BASE[..., 0].astype(np.uint16) * 257)  # mode I;16


def _animated_gif(stem: Path) -> str:
    first = Image.fromarray(BASE).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("RGB", (32, 32), (0, 0, 255)).convert("P")
    first.save(stem.with_suffix(".gif"), save_all=True, append_images=[second], duration=100)
    return stem.name + ".gif"


GRAY = np.repeat(np.asarray(Image.fromarray(BASE).convert("L"))[..., None], 3, axis=2)
GRAY_HALF_CLEAR = np.where(np.arange(32)[None, :, None] < 16, 255, GRAY)
# (case, writer, expected (32, 32, 3) pixels, mean absolute error allowed)
MODE_CASES: list[tuple[str, Callable[[Path], str], np.ndarray, float]] = [
    ("png-rgb", _save(lambda: Image.fromarray(BASE), ".png"), BASE, 0),
    ("jpeg-upper-ext", _save(lambda: Image.fromarray(BASE), ".JPG", quality=95), BASE, 3),
    ("gray-l", _save(lambda: Image.fromarray(BASE).convert("L"), ".png"), GRAY, 0),
    ("rgba-on-white", _save(_rgba, ".png"), HALF_CLEAR, 0),
    ("la-on-white", _save(lambda: _rgba().convert("LA"), ".png"), GRAY_HALF_CLEAR, 0),
    ("palette-transparent", _save(_palette_transparent, ".png"), HALF_CLEAR, 6),
    ("sixteen-bit", _save(_sixteen_bit, ".png"), np.repeat(BASE[..., :1], 3, axis=2), 0),
    (
        "cmyk-jpeg",
        _save(lambda: Image.fromarray(BASE).convert("CMYK"), ".jpg", quality=95),
        BASE,
        4,
    ),
    ("gif-first-frame", _animated_gif, BASE, 6),
    ("webp", _save(lambda: Image.fromarray(BASE), ".webp", lossless=True), BASE, 0),
    ("bmp", _save(lambda: Image.fromarray(BASE), ".bmp"), BASE, 0),
    ("tiff", _save(lambda: Image.fromarray(BASE), ".TIFF"), BASE, 0),
]


@pytest.mark.parametrize(
    ("writer", "expected", "tolerance"),
    [c[1:] for c in MODE_CASES],
    ids=[c[0] for c in MODE_CASES],
)
def test_every_format_and_mode_decodes(
    tmp_path: Path, writer: Callable[[Path], str], expected: np.ndarray, tolerance: float
) -> None:
    root = _competition(tmp_path, {"s": writer})
    comp = load_competition(root)
    assert comp.x_train.shape == (4, 3, 32, 32) and comp.x_test.shape == (2, 3, 32, 32)
    assert comp.image_policy["native"] and comp.image_policy["size"] == 32
    got = _pixels(comp.x_train, 0)  # gray images are replicated to RGB beside colour ones
    assert np.abs(got - expected).mean() <= tolerance


def test_all_gray_set_stays_one_channel(tmp_path: Path) -> None:
    gray = _save(lambda: Image.fromarray(BASE).convert("L"), ".jpg", quality=95)
    root = _competition(tmp_path, {"g": gray, "h": _save(_sixteen_bit, ".png")})
    for stem in ("p1", "p2", "p3", "t1", "t2"):
        folder = root / ("test" if stem.startswith("t") else "train")
        Image.open(folder / f"{stem}.png").convert("L").save(folder / f"{stem}.png")
    comp = load_competition(root, image_size=16)
    assert comp.x_train.shape == (5, 1, 16, 16) and comp.channels == 1


def test_exif_rotated_jpeg_decodes_upright(tmp_path: Path) -> None:
    upright = Image.fromarray(_gradient(48, 32))  # 48 wide, 32 high

    def rotated(stem: Path) -> str:
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
        stored = upright.transpose(Image.Transpose.ROTATE_90)  # 32 wide, 48 high
        stored.save(stem.with_suffix(".jpg"), quality=95, exif=exif.tobytes())
        return stem.name + ".jpg"

    plain = _save(lambda: upright, ".jpg", quality=95)
    root = _competition(tmp_path, {"r": rotated, "u": plain})
    comp = load_competition(root, image_size=24, resize="stretch")
    turned, straight = _pixels(comp.x_train, 0), _pixels(comp.x_train, 1)
    assert np.abs(turned - straight).mean() < 4  # same picture, within JPEG noise
    assert np.abs(turned - np.transpose(straight, (1, 0, 2))).mean() > 30  # control


STRIPES = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]  # A, B, C, D, 10 px each


def _striped(stem: Path) -> str:
    pixels = np.zeros((20, 40, 3), np.uint8)
    for i, colour in enumerate(STRIPES):
        pixels[:, 10 * i : 10 * i + 10] = colour
    Image.fromarray(pixels).save(stem.with_suffix(".png"))
    return stem.name + ".png"


def _colour_at(x: np.ndarray, row: int, col: int) -> tuple[int, ...]:
    """The stripe colour (or black) nearest to pixel (row, col)."""
    options = [*STRIPES, (0, 0, 0)]
    distances = [np.abs(x[row, col] - np.asarray(c)).sum() for c in options]
    assert min(distances) < 60, x[row, col]
    return options[int(np.argmin(distances))]


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_resize_geometry(tmp_path: Path, mode: str) -> None:
    """A 40x20 image with four 10 px stripes A B C D, made 40 x 40."""
    root = _competition(tmp_path, {"s": _striped}, side=40)
    comp = load_competition(root, image_size=40, resize=mode)
    assert comp.image_policy | {"source_sizes": None} == {
        "size": 40,
        "resize": mode,
        "native": False,
        "requested": 40,
        "source_sizes": None,
    }
    x = _pixels(comp.x_train, 0)
    a, b, c, d = STRIPES
    black = (0, 0, 0)
    middle = [_colour_at(x, 20, col) for col in (5, 15, 25, 35)]
    if mode == "crop":  # the centre square: B and C, each 20 px wide, full height
        assert [_colour_at(x, 20, col) for col in (2, 17, 22, 37)] == [b, b, c, c]
        assert _colour_at(x, 0, 5) == b and _colour_at(x, 39, 35) == c
    elif mode == "pad":  # the whole image, black bars above and below
        assert middle == [a, b, c, d]
        assert {_colour_at(x, r, col) for r in (0, 9, 30, 39) for col in (5, 35)} == {black}
    else:  # stretch: every stripe, full height
        assert middle == [a, b, c, d]
        assert [_colour_at(x, r, 5) for r in (0, 39)] == [a, a]
    untouched = np.moveaxis(np.asarray(Image.open(root / "train/p1.png")), 2, 0)
    assert np.array_equal(comp.x_train[1], untouched)  # already 40 x 40: not resampled


def test_automatic_size_is_the_median_shorter_side_capped(tmp_path: Path) -> None:
    def photo(width: int, height: int) -> Callable[[Path], str]:
        return _save(lambda: Image.fromarray(_gradient(width, height)), ".png")

    sides = {f"s{i}": photo(30 + 10 * i, 200) for i in range(6)}  # shorter sides 30..80
    small = load_competition(_competition(tmp_path, sides, side=40, name="small"))
    # shorter sides: 30, 40, 50, 60, 70, 80 and five 40 px squares: median 40
    assert small.image_size == 40 and small.x_train.shape[1:] == (3, 40, 40)
    assert small.image_policy["source_sizes"] == {
        "min_side": 30,
        "median_side": 40,
        "max_side": 200,
        "non_square": 6,
    }
    assert not small.image_policy["native"] and small.image_policy["requested"] == 0
    big = {f"b{i}": photo(300 + i, 400) for i in range(6)}
    large = load_competition(_competition(tmp_path, big, side=300, name="large"))
    assert large.image_size == AUTO_SIZE_CAP == 64
    assert summary(large)["image_size_text"] == (
        "64 x 64 (crop; images 300-400 px, median shorter side 300, 6 not square)"
    )


def test_tiny_images_are_enlarged_to_eight(tmp_path: Path) -> None:
    tiny = {f"t{i}": _save(lambda: Image.fromarray(_gradient(4, 6)), ".png") for i in range(3)}
    comp = load_competition(_competition(tmp_path, tiny, side=5))
    assert comp.image_size == 8 and comp.image_policy["source_sizes"]["median_side"] == 5


def test_one_square_size_is_native_even_when_asked_for(build: Build) -> None:
    root = build.kaggle(size=12)
    auto, same = load_competition(root), load_competition(root, image_size=12, resize="pad")
    assert auto.image_policy["native"] and same.image_policy["native"]
    assert np.array_equal(auto.x_train, same.x_train)
    assert summary(auto)["image_size_text"] == "12 x 12 (native: no resampling)"


@pytest.mark.parametrize(
    ("size", "resize", "pattern"),
    [
        (-1, "crop", r"data\.image_size must be 0 \(automatic\) or a side from 1 to 1024"),
        (1025, "crop", r"data\.image_size .* got 1025"),
        (32, "zoom", r"data\.resize must be one of crop, pad, stretch, got 'zoom'"),
    ],
)
def test_bad_settings(build: Build, size: int, resize: str, pattern: str) -> None:
    with pytest.raises(ToolkitError, match=pattern) as info:
        load_competition(build.kaggle(), image_size=size, resize=resize)
    assert "\n" not in str(info.value)


def test_array_formats_resize_only_when_asked(build: Build) -> None:
    root = build.npz(
        x_train=np.random.default_rng(0).integers(0, 256, (4, 8, 8), dtype=np.uint8),
        y_train=np.array([0, 1, 0, 1]),
        x_test=np.zeros((2, 8, 8), np.uint8),
    )
    native = load_competition(root)
    assert native.image_size == 8 and native.image_policy["native"]
    bigger = load_competition(root, image_size=16, resize="pad")
    assert bigger.x_train.shape == (4, 1, 16, 16) and bigger.x_test.shape == (2, 1, 16, 16)
    assert not bigger.image_policy["native"] and bigger.image_policy["requested"] == 16
    again = load_competition(root, image_size=16, resize="pad")
    assert isinstance(again.x_train, np.memmap) and np.array_equal(again.x_train, bigger.x_train)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _images.decode_images

    def counting(paths, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["request"].size)
        return real(paths, **kwargs)

    monkeypatch.setattr(_images, "decode_images", counting)
    return calls


def _entries(cache: Path) -> set[str]:
    return {p.name for p in (cache / "competitions").iterdir() if not p.name.startswith(".")}


def test_cache_is_keyed_by_the_policy(build: Build, cache_dir: Path, decodes: list[int]) -> None:
    root = build.kaggle(size=20)
    first = load_competition(root, image_size=16)
    other = load_competition(root, image_size=24)
    back = load_competition(root, image_size=16)
    assert decodes == [16, 24]  # the third load is a cache hit
    assert back.fingerprint == first.fingerprint != other.fingerprint
    assert _entries(cache_dir) == {first.fingerprint, other.fingerprint}
    assert back.image_policy == first.image_policy and back.image_size == 16
    assert np.array_equal(back.x_train, first.x_train)
    image = root / "train" / "1.png"  # a changed file rebuilds; only that policy's entry goes
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = load_competition(root, image_size=16)
    assert decodes == [16, 24, 16]
    assert _entries(cache_dir) == {changed.fingerprint, other.fingerprint}


def test_truncated_jpeg_is_one_line_naming_the_file(build: Build, cache_dir: Path) -> None:
    root = build.kaggle(ext="jpg", size=64)
    data = (root / "train" / "3.jpg").read_bytes()
    (root / "train" / "3.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ToolkitError) as info:
        load_competition(root, image_size=16)
    message = str(info.value)
    assert "\n" not in message and "cannot read image train/3.jpg" in message
    assert not any(p.is_file() for p in cache_dir.rglob("*"))  # nothing half-built is kept


def test_decompression_bomb_is_one_line_naming_the_file(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build.kaggle(size=8)
    build.write_image(root / "train" / "2.png", np.zeros((40, 40, 3), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 pixels: a warning only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_competition(root).image_size == 8  # mixed sizes: median 8
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # over twice the limit: refused
    with pytest.raises(ToolkitError) as info:
        load_competition(root, refresh=True)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot read image train/2.png: it has more pixels than")
    assert "MAX_IMAGE_PIXELS" in message
