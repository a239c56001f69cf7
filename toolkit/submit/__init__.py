"""Submissions: best trial or run -> predictions -> validated CSV + provenance JSON -> leaderboard.

- :mod:`.validate`: the rules a submission CSV must follow (header, ids, labels, no empties)
- :mod:`.predict`: test probabilities of one run or the mean of several, with the runs' own TTA
- :mod:`.write`: the CSV text, validated, written atomically and never over an existing file
- :mod:`.provenance`: the JSON beside each CSV (runs, configs, hashes, git, versions, Kaggle)
- :mod:`.make`: :func:`make_submission`, the stage end to end
- :mod:`.score` and :mod:`.leaderboard`: local accuracy and the table of all submissions
- :mod:`.paths`: ``<root>/<competition>/<timestamp>-<name>.csv``, with safe names
"""

from toolkit.submit.leaderboard import list_submissions
from toolkit.submit.make import SubmissionResult, make_submission, study_runs
from toolkit.submit.paths import safe_name, submissions_root
from toolkit.submit.predict import TTA, TTARequest
from toolkit.submit.score import score_submission
from toolkit.submit.validate import Expected, expected_format, validate_submission

__all__ = [
    "TTA",
    "Expected",
    "SubmissionResult",
    "TTARequest",
    "expected_format",
    "list_submissions",
    "make_submission",
    "safe_name",
    "score_submission",
    "study_runs",
    "submissions_root",
    "validate_submission",
]
