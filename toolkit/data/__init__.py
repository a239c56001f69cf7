"""Competition data: detect a folder's layout, decode it to uint8 arrays, cache it.

Five layouts are read (see each reader module): ``kaggle-images`` (:mod:`._kaggle`),
``image-folder`` (:mod:`._folder`), ``cifar-python`` (:mod:`._cifar`), ``pixel-csv``
(:mod:`._pixel_csv`) and ``npz`` (:mod:`._npz`). :func:`load_competition` detects the layout
(:mod:`._detect`), reads it or takes it from the on-disk cache (:mod:`._cache`) and returns a
:class:`Competition` with images as (N, C, S, S) uint8 arrays; photos of any size, shape and
mode are brought to one square size by the image-size policy (:mod:`._resize`).
"""

from toolkit.data._cache import cache_root, release_pages
from toolkit.data._competition import FORMATS, Competition
from toolkit.data._example import EXAMPLES, make_example
from toolkit.data._load import detect_format, load_competition
from toolkit.data._resize import AUTO_SIZE_CAP, RESIZE_MODES
from toolkit.data._split import class_subset, select_classes, split_folds, split_validation
from toolkit.data._stats import channel_stats
from toolkit.data._submission import KINDS, SubmissionFormat, submission_format
from toolkit.data._summary import summary

__all__ = [
    "AUTO_SIZE_CAP",
    "EXAMPLES",
    "FORMATS",
    "KINDS",
    "RESIZE_MODES",
    "Competition",
    "SubmissionFormat",
    "cache_root",
    "channel_stats",
    "class_subset",
    "detect_format",
    "load_competition",
    "make_example",
    "release_pages",
    "select_classes",
    "split_folds",
    "split_validation",
    "submission_format",
    "summary",
]
