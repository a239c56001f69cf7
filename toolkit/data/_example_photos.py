"""The ``photos`` example: crops of scikit-learn's two bundled photos (china.jpg, flower.jpg,
427 x 640 each, no download) as a Kaggle-layout competition of real-photo quirks.

Four classes, one per half of each photo ("china_left", "china_right", "flower_left",
"flower_right"), so a small CNN can beat chance. Crops vary in size (shorter side 24 to 200 px)
and aspect ratio (1:2 to 2:1) and are saved in many formats and modes: mostly JPEG and PNG,
plus upper-case extensions, grayscale, RGBA, palette PNG and GIF, 16-bit PNG, WebP, BMP, TIFF,
CMYK JPEG and JPEGs stored rotated with an EXIF orientation tag that turns them upright.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.data._split import split_validation

PHOTO_CLASSES = ("china_left", "china_right", "flower_left", "flower_right")
# Shapes of sample_submission.csv: one label; P(flower) for the 2-class variant; one
# probability column per class; k space-separated labels.
SUBMISSION_KINDS = ("label", "probability", "class-probabilities", "top-k")
TOP_K = 3  # labels per row of a top-k submission (of 4 classes)
_SHORT_SIDE = (24, 200)  # crop's shorter side in pixels, drawn log-uniformly
_MAX_RATIO = 2.0  # longer side / shorter side, drawn uniformly from [1, this]
# How each crop is saved, cycled over the crops in a seeded order: plain JPEG/PNG most often.
_VARIANTS = (
    "jpeg", "png", "jpeg", "png", "jpeg", "png", "jpeg-upper", "gray-jpeg", "gray-png",
    "rgba-png", "palette-png", "gif", "png16", "webp", "bmp", "tiff", "cmyk-jpeg",
    "exif-jpeg", "exif-jpeg", "jpeg",
)  # fmt: skip
# EXIF orientation -> the transpose that stores an upright image so that exif_transpose
# (which applies the inverse) restores it.
_STORED = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def write_photos(
    folder: Path, *, seed: int, test_fraction: float, submission: str, n_images: int
) -> None:
    """Write the example into the empty ``folder`` (train/, test/, the three CSVs, README)."""
    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    pairs = zip(sample.filenames, sample.images, strict=True)
    photos = {Path(f).stem: np.asarray(img) for f, img in pairs}  # (427, 640, 3) each
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_images) % len(PHOTO_CLASSES))  # (N,) balanced
    variants = [_VARIANTS[i % len(_VARIANTS)] for i in rng.permutation(n_images)]
    ids = [f"img_{k:04d}" for k in rng.permutation(n_images) + 1]  # no class or split in ids
    two = submission == "probability"
    names = [PHOTO_CLASSES[y].split("_")[0] if two else PHOTO_CLASSES[y] for y in labels]
    train_idx, test_idx = split_validation(labels, test_fraction, seed)
    for split, idx in (("train", train_idx), ("test", test_idx)):
        (folder / split).mkdir()
        for i in idx.tolist():
            photo, half = PHOTO_CLASSES[labels[i]].split("_")
            crop = _crop(photos[photo], half, rng)
            _save(crop, folder / split / ids[i], variants[i], rng)
    train_rows = sorted((ids[i], names[i]) for i in train_idx)
    test_rows = sorted((ids[i], names[i]) for i in test_idx)
    _write_csv(folder / "train.csv", ["id", "label"], train_rows)
    header, value = _sample(submission)
    _write_csv(folder / "sample_submission.csv", header, [(i, *value) for i, _ in test_rows])
    _write_csv(folder / "test_labels.csv", ["id", "label"], test_rows)
    classes = sorted(set(names))
    (folder / "README.md").write_text(
        "# photos: crops of two real photos as a Kaggle-layout competition\n\n"
        f"- classes: {', '.join(classes)} (which photo{'' if two else ', which half'})\n"
        f"- train/<id>.<ext> ({len(train_rows)} images) with train.csv (id,label)\n"
        f"- test/<id>.<ext> ({len(test_rows)} images); sample_submission.csv "
        f"({','.join(header)}) shows the {submission} submission\n"
        "- test_labels.csv: the answer key, for local scoring only\n"
        "- crops of many sizes, aspect ratios, formats (JPEG, PNG, GIF, WebP, BMP, TIFF) and "
        "modes (RGB, gray, RGBA, palette, 16-bit, CMYK, EXIF-rotated)\n"
        f"- stratified split with seed {seed}, test fraction {test_fraction}; shuffled ids\n"
        "- source: scikit-learn's sample images china.jpg and flower.jpg\n",
        encoding="utf-8",
    )


def _sample(kind: str) -> tuple[list[str], list[object]]:
    """(header, placeholder values after the id) of sample_submission.csv."""
    if kind == "probability":
        return ["id", "is_flower"], [0.5]
    if kind == "class-probabilities":
        return ["id", *PHOTO_CLASSES], [1 / len(PHOTO_CLASSES)] * len(PHOTO_CLASSES)
    if kind == "top-k":
        return ["id", "labels"], [" ".join(PHOTO_CLASSES[:TOP_K])]
    return ["id", "label"], [PHOTO_CLASSES[0]]


def _crop(photo: np.ndarray, half: str, rng: np.random.Generator) -> np.ndarray:
    """A random crop (h, w, 3) from the ``half`` ("left" or "right") of ``photo``."""
    height, width = photo.shape[:2]
    half_width = width // 2
    low, high = _SHORT_SIDE
    short = round(math.exp(rng.uniform(math.log(low), math.log(high))))
    long = round(short * rng.uniform(1.0, _MAX_RATIO))
    w, h = (long, short) if rng.random() < 0.5 else (short, long)
    w, h = min(w, half_width), min(h, height)
    x0 = int(rng.integers(0, half_width - w + 1)) + (half_width if half == "right" else 0)
    y0 = int(rng.integers(0, height - h + 1))
    return photo[y0 : y0 + h, x0 : x0 + w]


def _save(pixels: np.ndarray, stem: Path, variant: str, rng: np.random.Generator) -> None:
    """Save RGB ``pixels`` (h, w, 3) as ``variant`` at ``stem`` + the variant's extension."""
    im = Image.fromarray(pixels)
    if variant in ("jpeg", "jpeg-upper"):
        im.save(stem.with_suffix(".JPG" if variant == "jpeg-upper" else ".jpg"), quality=90)
    elif variant == "png":
        im.save(stem.with_suffix(".png"))
    elif variant == "gray-jpeg":
        im.convert("L").save(stem.with_suffix(".jpeg"), quality=90)
    elif variant == "gray-png":
        im.convert("L").save(stem.with_suffix(".png"))
    elif variant == "rgba-png":  # opaque centre fading to half-transparent borders
        h, w = pixels.shape[:2]
        ys, xs = np.abs(np.linspace(-1, 1, h))[:, None], np.abs(np.linspace(-1, 1, w))[None]
        alpha = (255 - 127 * np.maximum(ys, xs) ** 4).astype(np.uint8)  # (h, w)
        Image.fromarray(np.dstack([pixels, alpha])).save(stem.with_suffix(".png"))
    elif variant in ("palette-png", "gif"):
        palette = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=128)
        palette.save(stem.with_suffix(".PNG" if variant == "palette-png" else ".gif"))
    elif variant == "png16":
        gray = np.asarray(im.convert("L"), dtype=np.uint16) * 257  # 0..255 -> 0..65535
        Image.fromarray(gray).save(stem.with_suffix(".png"))  # mode I;16
    elif variant == "webp":
        im.save(stem.with_suffix(".webp"), quality=90)
    elif variant == "bmp":
        im.save(stem.with_suffix(".bmp"))
    elif variant == "tiff":
        im.save(stem.with_suffix(".tif"))
    elif variant == "cmyk-jpeg":
        im.convert("CMYK").save(stem.with_suffix(".jpg"), quality=90)
    elif variant == "exif-jpeg":
        orientation = int(rng.choice(list(_STORED)))
        exif = Image.Exif()
        exif[0x0112] = orientation
        stored = im.transpose(_STORED[orientation])
        stored.save(stem.with_suffix(".jpg"), quality=90, exif=exif.tobytes())
    else:
        raise ValueError(f"unknown variant {variant}")


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
