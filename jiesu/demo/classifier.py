"""The demo's category classifier: smart dispatch needs one, and training it is the slow part of a seed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jiesu.config import Settings
from jiesu.routing import classifier


def ensure_classifier(settings: Settings, source: str | Path | None = None,
                      say: Callable[[str], None] = lambda _msg: None) -> str:
    """A usable model in <var_dir>/models/, trained at most once: copied from `source` when given (a models
    folder, or a var folder, that another seed or `jiesu routing train` filled; ModelNotTrained when it holds
    nothing this scikit-learn can use), else the one already there, else trained here from the shipped corpus.
    Returns what was done: "copied", "kept" or "trained"."""
    if source is not None:
        path, copied = classifier.install(settings, source)
        say(f"classifier: {path.name} {'copied from' if copied else 'already here, the same as in'} {source} "
            "(not trained again)")
        return "copied" if copied else "kept"
    try:
        model = classifier.load(settings)
    except classifier.ModelNotTrained:
        pass
    else:
        say(f"classifier: model {model.version} already in {classifier.models_dir(settings)} "
            "(`jiesu routing train` retrains it)")
        return "kept"
    say("training the category classifier (once; `jiesu routing train` retrains it) ...")
    result = classifier.train(settings)
    say(f"classifier: macro-F1 {result.report.macro_f1:.4f} on {result.holdout_rows} held-out messages, "
        f"saved to {result.path}")
    return "trained"
