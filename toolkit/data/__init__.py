"""Competition data: detect a folder's layout, decode it to uint8 arrays, cache it.

Five layouts are read (see each reader module): ``kaggle-images`` (:mod:`._kaggle`),
``image-folder`` (:mod:`._folder`), ``cifar-python`` (:mod:`._cifar`), ``pixel-csv``
(:mod:`._pixel_csv`) and ``npz`` (:mod:`._npz`). :func:`load_competition` detects the layout
(:mod:`._detect`), reads it or takes it from the on-disk cache (:mod:`._cache`) and returns a
:class:`Competition` with images as (N, C, H, W) uint8 arrays.
"""

from toolkit.data._cache import cache_root, release_pages
from toolkit.data._competition import FORMATS, Competition
from toolkit.data._example import EXAMPLES, make_example
from toolkit.data._load import detect_format, load_competition
from toolkit.data._split import select_classes, split_validation
from toolkit.data._stats import channel_stats
from toolkit.data._summary import summary

__all__ = [
    "EXAMPLES",
    "FORMATS",
    "Competition",
    "cache_root",
    "channel_stats",
    "detect_format",
    "load_competition",
    "make_example",
    "release_pages",
    "select_classes",
    "split_validation",
    "summary",
]
