"""The category classifier: which first-level category (城乡建设, 环境保护 ...) a citizen's message belongs to.

A linear SVM (class-balanced) over TF-IDF character 1- and 2-grams of the title and the text, chosen by
stratified 5-fold cross-validation on the shipped corpus (benchmarks/README.md has the figures). Characters
rather than jieba words in the model: jieba segments about 1,000 messages/s on one core, which alone misses
the 3,000 messages/s batch goal, and adding its words scored no better in cross-validation (most Chinese
words are one or two characters). jieba only turns the decisive n-grams back into whole words for the
explanation of a single suggestion.

The n-grams are counted with numpy over the whole batch at once (`CharNgrams`), not with scikit-learn's
per-document Python analyzer: the same features (checked equal to TfidfVectorizer's), several times faster.

Confidence is a softmax of the SVM's decision scores with a temperature fitted on held-out scores, so
that "0.8" means right about 80 % of the time; the dispatcher sends anything under its threshold to people.

Models live in <var_dir>/models/ as classifier-<UTC timestamp>.joblib; `current.json` names the one in
use with its metadata. Nothing is ever downloaded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from jiesu.config import Settings
from jiesu.data import open_text, read_csv, resolve
from jiesu.errors import DataSourceError, DomainError
from jiesu.routing.text import normalize, segment

CATEGORIES = ("城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生")
LABEL_COLUMNS = ("一级标签", "一级分类")  # the full set, the official sample
TITLE_COLUMN, TEXT_COLUMN = "留言主题", "留言详情"
CORPUS = "teddy2020/messages_labelled.csv"
UNLABELLED = ("teddy2020/messages_hot.csv", "teddy2020/messages_replied.csv")
FORMAT = 1  # bumped when the saved object's shape changes


class ModelNotTrained(DomainError):
    """No usable model on disk: none trained yet, or saved by another scikit-learn/format."""

    code = "model_not_trained"
    status = 503


# --- features ---------------------------------------------------------------------------------------------

_BITS = 15  # per character id: 4-grams fit in 60 bits of an int64, exactly (no hashing, no collisions)
_SEP, _UNK = 0, 1


class CharNgrams:
    """TF-IDF (sublinear tf, smoothed idf, l2) over character n-grams, counted for a whole batch with numpy.

    Characters get dense ids (0 separates documents, 1 is a character never seen in fitting); an n-gram's
    key is its ids packed 15 bits apiece, so 1- to 4-grams never collide and keys decode back to text.
    Keys are looked up in an open-addressing hash table (one or two gathers per n-gram instead of a binary
    search's twenty); the table is rebuilt on load rather than pickled.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), min_df: int = 2, max_df: float = 0.9) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_char_table", "_slots")}

    @staticmethod
    def _codepoints(docs: Sequence[str]) -> np.ndarray:
        return np.frombuffer("\x00".join(docs).encode("utf-32-le"), dtype=np.uint32)

    def _ids(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The batch's character ids (documents separated by 0) and each position's document index."""
        if getattr(self, "_char_table", None) is None:
            table = np.full(0x110000, _UNK, dtype=np.int64)
            table[self.chars_] = np.arange(2, len(self.chars_) + 2)
            table[0] = _SEP
            self._char_table = table
        ids = self._char_table[self._codepoints(docs)]
        lengths = np.fromiter((len(d) + 1 for d in docs), dtype=np.int64, count=len(docs))
        doc = np.repeat(np.arange(len(docs)), lengths)[: len(ids)]
        return ids, doc

    def _keys(self, ids: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys, owners = [], []
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            if len(ids) < n:
                break
            m = len(ids) - n + 1
            key = np.zeros(m, dtype=np.int64)
            ok = np.ones(m, dtype=bool)
            for k in range(n):
                part = ids[k: k + m]
                key = (key << _BITS) | part
                ok &= part > _UNK  # no n-gram across documents, none with an unseen character
            keys.append(key[ok])
            owners.append(doc[:m][ok])
        if not keys:  # a batch shorter than the smallest n-gram (an empty text)
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(keys), np.concatenate(owners)

    # the hash table: slot -> feature index (-1 empty), linear probing, load factor under 0.5
    @staticmethod
    def _hash(keys: np.ndarray, size: int) -> np.ndarray:
        bits = int(size).bit_length() - 1
        mixed = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing; wraps mod 2**64
        return (mixed >> np.uint64(64 - bits)).astype(np.int64)

    def _build_table(self) -> None:
        # filled in a local and published whole: a web thread must never probe a half-built table
        size = 1 << max(4, int(len(self.vocab_) * 2 - 1).bit_length())
        table = np.full(size, -1, dtype=np.int64)
        h = self._hash(self.vocab_, size)
        pending = np.arange(len(self.vocab_))
        while pending.size:
            hp = h[pending]
            free = table[hp] == -1
            slots, first = np.unique(hp[free], return_index=True)  # one winner per free slot
            table[slots] = pending[free][first]
            placed = np.zeros(pending.size, dtype=bool)
            placed[np.flatnonzero(free)[first]] = True
            pending = pending[~placed]
            h[pending] = (h[pending] + 1) & (size - 1)
        self._slots = table

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        """The feature index of each key, -1 for keys not in the vocabulary."""
        if getattr(self, "_slots", None) is None:
            self._build_table()
        slots = self._slots
        mask = slots.size - 1
        out = np.full(keys.size, -1, dtype=np.int64)
        todo = np.arange(keys.size)
        h = self._hash(keys, slots.size)
        while todo.size:
            found = slots[h]
            empty = found == -1
            match = ~empty & (self.vocab_[np.where(empty, 0, found)] == keys[todo])
            out[todo[match]] = found[match]
            again = ~empty & ~match
            todo, h = todo[again], (h[again] + 1) & mask
        return out

    def fit(self, docs: Sequence[str]) -> CharNgrams:
        cps = self._codepoints(docs)
        counts = np.bincount(cps, minlength=1)
        counts[0] = 0
        chars = np.flatnonzero(counts)
        if len(chars) > 2**_BITS - 2:  # keep the commonest; the rest become "unseen"
            chars = np.sort(chars[np.argsort(-counts[chars], kind="stable")[: 2**_BITS - 2]])
        self.chars_ = chars
        self._char_table = self._slots = None
        keys, owners = self._keys(*self._ids(docs))
        vocab, inverse = np.unique(keys, return_inverse=True)
        pairs = np.sort(owners * len(vocab) + inverse)  # sort, not np.unique: its hash path is 10x slower here
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # (document, n-gram) once each
        df = np.bincount(pairs % len(vocab), minlength=len(vocab))
        n_docs = len(docs)
        keep = (df >= self.min_df) & (df <= self.max_df * n_docs)
        self.vocab_ = vocab[keep]
        self.idf_ = (np.log((1 + n_docs) / (1 + df[keep])) + 1).astype(np.float64)
        return self

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        n_docs, width = len(docs), len(self.vocab_)
        if n_docs == 0:
            return sp.csr_matrix((0, width))
        keys, owners = self._keys(*self._ids(docs))
        col = self._lookup(keys)
        hit = col >= 0
        x = sp.csr_matrix((np.ones(int(hit.sum())), (owners[hit], col[hit])), shape=(n_docs, width))
        x.sum_duplicates()
        x.data = (1 + np.log(x.data)) * self.idf_[x.indices]
        rows = np.repeat(np.arange(n_docs), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(rows, weights=x.data**2, minlength=n_docs))
        norms[norms == 0] = 1  # an empty text (or one of unseen characters only) stays all zeros
        x.data /= norms[rows]
        return x

    def gram(self, j: int) -> str:
        """The text of feature j."""
        key, out = int(self.vocab_[j]), []
        while key:
            out.append(chr(int(self.chars_[(key & (2**_BITS - 1)) - 2])))
            key >>= _BITS
        return "".join(reversed(out))


def document(title: str, text: str) -> str:
    """What the model reads: the title (when there is one) and the text, normalised."""
    title, text = normalize(title), normalize(text)
    return f"{title} {text}" if title else text


# --- the model ------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    category: str
    confidence: float  # calibrated probability of `category`
    alternatives: list[tuple[str, float]]  # the other categories, most likely first
    reasons: list[str]  # words of the text that pushed most towards `category`


@dataclass
class Model:
    features: CharNgrams
    clf: object  # a fitted LinearSVC (coef_, intercept_, classes_)
    temperature: float  # softmax(scores * temperature) is the confidence
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.meta.get("version", "unsaved")

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.clf.classes_]

    def scores(self, docs: Sequence[str]) -> np.ndarray:
        return self._decide(self.features.transform(docs))

    def _decide(self, x: sp.csr_matrix) -> np.ndarray:
        s = self.clf.decision_function(x)
        return np.column_stack([-s, s]) if s.ndim == 1 else s  # two classes: one score, for the second

    def probabilities(self, docs: Sequence[str]) -> np.ndarray:
        return softmax(self.scores(docs) * self.temperature)

    def predict_many(self, titles: Sequence[str], texts: Sequence[str]) -> list[tuple[str, float]]:
        """(category, confidence) for each message; titles may be empty strings."""
        if len(titles) != len(texts):
            raise ValueError("titles and texts differ in length")
        if not texts:
            return []
        p = self.probabilities([document(t, x) for t, x in zip(titles, texts, strict=True)])
        best = p.argmax(axis=1)
        classes = self.classes
        return [(classes[i], float(p[r, i])) for r, i in enumerate(best)]

    def predict_one(self, text: str, title: str = "", n_reasons: int = 5,
                    words: list[str] | None = None) -> Prediction:
        """`words`: the text's jieba words when the caller has them already (text.segment of title and text)."""
        doc = document(title, text)
        x = self.features.transform([doc])
        p = softmax(self._decide(x) * self.temperature)[0]
        order = np.argsort(-p)
        classes = self.classes
        best = int(order[0])
        return Prediction(category=classes[best], confidence=float(p[best]),
                          alternatives=[(classes[i], float(p[i])) for i in order[1:]],
                          reasons=self.reasons(doc, x, best, n_reasons, words))

    def reasons(self, doc: str, x: sp.csr_matrix, cls: int, n: int = 5, words: list[str] | None = None) -> list[str]:
        """The words of the text whose n-grams added most to class `cls`'s score, each at most once.

        A feature's share is its tf-idf times its weight for the class; jieba's words of the text collect the
        shares of the n-grams (two characters or more) inside them, so the reasons read as words, not as
        fragments like "圾清".
        """
        coef = self.clf.coef_[cls] if len(self.clf.coef_) > 1 else self.clf.coef_[0] * (1 if cls else -1)
        share = {self.features.gram(j): v * coef[j] for j, v in zip(x.indices, x.data, strict=True)}
        scored: dict[str, float] = {}
        for word in words if words is not None else segment(doc):
            if len(word) < 2 or word in scored or not any(c.isalpha() for c in word):
                continue
            grams = {word[i: i + k] for k in range(2, len(word) + 1) for i in range(len(word) - k + 1)}
            scored[word] = sum(share.get(g, 0.0) for g in grams)
        top = sorted((s, w) for w, s in scored.items() if s > 0)[::-1]
        return [w for _, w in top[:n]]


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.atleast_2d(z)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature that minimises the log-loss of softmax(scores * t) on out-of-fold scores."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = softmax(scores * math.exp(log_t))
        return float(-np.log(p[np.arange(len(y_index)), y_index] + 1e-12).mean())

    return float(math.exp(minimize_scalar(nll, bounds=(-3, 4), method="bounded").x))


# --- training -------------------------------------------------------------------------------------------

# Chosen by 5-fold CV on the shipped corpus (benchmarks/README.md, "routing.py").
NGRAMS = (1, 2)  # 1-3 and 2-4 scored no better and cost more features
SVM_C = 5.0


def _new_svm(c: float = SVM_C):
    from sklearn.svm import LinearSVC

    # balanced: the small classes (交通运输 432 rows) otherwise lose recall to 城乡建设, and macro-F1 counts them
    return LinearSVC(C=c, class_weight="balanced")


def unlabelled_texts() -> list[str]:
    """The shipped messages without labels (附件3, 附件4): they only widen the vocabulary and its idf."""
    out = []
    for name in UNLABELLED:
        out += [document(r.get(TITLE_COLUMN, ""), r.get(TEXT_COLUMN, "")) for r in read_csv(name)]
    return out


def fit(titles: Sequence[str], texts: Sequence[str], labels: Sequence[str], *, unlabelled: Sequence[str] = (),
        calibrate_folds: int = 0, seed: int = 0) -> Model:
    """Fit the features (on the labelled and unlabelled texts), the SVM, and the confidence temperature.

    The temperature comes from `calibrate_folds`-fold out-of-fold scores on the labelled rows (0: none, 1.0).
    """
    from sklearn.model_selection import StratifiedKFold

    docs = [document(t, x) for t, x in zip(titles, texts, strict=True)]
    y = np.asarray(labels)
    features = CharNgrams(NGRAMS).fit(list(docs) + list(unlabelled))
    X = features.transform(docs)
    clf = _new_svm().fit(X, y)
    temperature = 1.0
    _, counts = np.unique(y, return_counts=True)
    if calibrate_folds >= 2 and counts.min() >= calibrate_folds:
        classes = list(clf.classes_)
        oof = np.zeros((len(y), len(classes)))
        for tr, te in StratifiedKFold(calibrate_folds, shuffle=True, random_state=seed).split(X, y):
            fold = _new_svm().fit(X[tr], y[tr])
            cols = [classes.index(c) for c in fold.classes_]
            oof[np.ix_(te, cols)] = Model(features, fold, 1.0)._decide(X[te])
        temperature = fit_temperature(oof, np.searchsorted(np.asarray(classes), y))
    return Model(features=features, clf=clf, temperature=temperature)


@dataclass
class LabelledRows:
    titles: list[str]
    texts: list[str]
    labels: list[str]
    source: str
    sha256: str


def read_labelled(path: str | Path | None = None) -> LabelledRows:
    """A labelled CSV (default: the shipped corpus): 留言详情, 留言主题 (may be empty or absent), 一级标签 or
    一级分类. Rows without text or label are skipped."""
    name = str(path) if path is not None else CORPUS
    try:
        with open_text(name) as fh:
            header = next(csv.reader(fh), [])
    except (FileNotFoundError, UnicodeDecodeError):
        header = []  # read_csv below says what is wrong with the file
        read_csv(name, field="input")
    label_col = next((c for c in LABEL_COLUMNS if c in header), None)
    if label_col is None:
        raise DataSourceError(f"{Path(name).name}: missing column 一级标签 (or 一级分类)", field="input")
    rows = read_csv(name, required=(TEXT_COLUMN, label_col), field="input")
    rows = [r for r in rows if (r.get(TEXT_COLUMN) or "").strip() and (r.get(label_col) or "").strip()]
    digest = hashlib.sha256(resolve(name).read_bytes()).hexdigest()
    return LabelledRows(titles=[r.get(TITLE_COLUMN) or "" for r in rows], texts=[r[TEXT_COLUMN] for r in rows],
                        labels=[r[label_col].strip() for r in rows], source=name, sha256=digest)


@dataclass
class Report:
    labels: list[str]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    macro_f1: float
    accuracy: float
    confusion: list[list[int]]  # rows: true label, columns: predicted, in `labels` order
    rows: int
    mean_confidence: float | None = None  # of the top class; near `accuracy` when the confidence is calibrated


def evaluate(model: Model, titles: Sequence[str], texts: Sequence[str], labels: Sequence[str]) -> Report:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    pairs = model.predict_many(list(titles), list(texts))
    predicted = [c for c, _ in pairs]
    names = sorted(set(labels) | set(predicted), key=lambda c: (CATEGORIES.index(c) if c in CATEGORIES else 99, c))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a label never predicted has precision 0, said in the table
        p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=names, zero_division=0)
    present = [i for i, c in enumerate(names) if s[i] > 0]  # macro over the file's own labels
    cm = confusion_matrix(labels, predicted, labels=names)
    return Report(labels=names, precision=p.tolist(), recall=r.tolist(), f1=f.tolist(), support=s.tolist(),
                  macro_f1=float(np.mean(f[present])) if present else 0.0,
                  accuracy=float(np.mean(np.asarray(labels) == np.asarray(predicted))), confusion=cm.tolist(),
                  rows=len(labels), mean_confidence=float(np.mean([p for _, p in pairs])) if pairs else None)


@dataclass
class TrainResult:
    model: Model
    report: Report  # of the model fitted on the training part, on the held-out part
    train_rows: int
    holdout_rows: int
    path: Path | None = None


def train(settings: Settings, *, input: str | Path | None = None, holdout: float = 0.2, seed: int = 0,
          extra: Sequence[tuple[str, str, str]] = (), use_unlabelled: bool = False, save: bool = True,
          progress: Callable[[str], None] | None = None) -> TrainResult:
    """Measure on a stratified held-out part, then refit on every row and save.

    `extra` are more labelled rows (title, text, category), e.g. dispatchers' corrections: they join the
    training part of the measurement and the final model. The report is of a model that never saw the held-out
    rows; the saved model has seen all of them (so it is at least as good as the report says).
    """
    from sklearn.model_selection import train_test_split

    say = progress or (lambda _msg: None)
    data = read_labelled(input)
    titles, texts, labels = list(data.titles), list(data.texts), list(data.labels)
    extra = [(t or "", x or "", (label or "").strip()) for t, x, label in extra]
    if any(not x.strip() or not label for _, x, label in extra):
        raise DataSourceError("every extra row needs a text and a category", field="extra")
    unlabelled = unlabelled_texts() if use_unlabelled else []
    if not 0 < holdout < 1:
        raise DataSourceError("holdout must be between 0 and 1 (e.g. 0.2)", field="holdout")
    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=holdout, random_state=seed, stratify=labels)
    extra_t, extra_x, extra_y = ([list(c) for c in zip(*extra, strict=True)] if extra else ([], [], []))
    say(f"fitting on {len(tr) + len(extra)} rows, holding out {len(te)}")
    measured = fit([titles[i] for i in tr] + extra_t, [texts[i] for i in tr] + extra_x,
                   [labels[i] for i in tr] + extra_y, unlabelled=unlabelled, seed=seed)
    held_titles, held_texts, held_labels = [titles[i] for i in te], [texts[i] for i in te], [labels[i] for i in te]
    report = evaluate(measured, held_titles, held_texts, held_labels)
    # The confidence temperature is fitted on the held-out scores of the model that never saw them, and applied
    # to the refit model (whose scores on new text are, if anything, a little surer: the temperature errs low).
    held_scores = measured.scores([document(t, x) for t, x in zip(held_titles, held_texts, strict=True)])
    classes = np.asarray(measured.classes)
    known = np.isin(held_labels, classes)
    temperature = fit_temperature(held_scores[known], np.searchsorted(classes, np.asarray(held_labels)[known]))
    report.mean_confidence = float(softmax(held_scores * temperature).max(axis=1).mean())
    say(f"refitting on all {len(labels) + len(extra)} rows")
    model = fit(titles + extra_t, texts + extra_x, labels + extra_y, unlabelled=unlabelled, seed=seed)
    model.temperature = temperature
    import sklearn

    now = datetime.now(UTC)
    model.meta = {
        "version": now.strftime("%Y%m%dT%H%M%S%fZ"), "format": FORMAT, "trained_at": now.isoformat(),
        "rows": len(labels), "extra_rows": len(extra), "unlabelled_rows": len(unlabelled),
        "split": {"holdout": holdout, "seed": seed, "stratified": True, "train_rows": len(tr), "holdout_rows": len(te),
                  "saved_model": "refit on all rows"},
        "holdout_macro_f1": round(report.macro_f1, 4), "holdout_accuracy": round(report.accuracy, 4),
        "holdout_mean_confidence": round(report.mean_confidence or 0.0, 4),
        "sklearn": sklearn.__version__, "corpus": data.source, "corpus_sha256": data.sha256,
        "model": f"LinearSVC(C={SVM_C}, balanced) on TF-IDF char {NGRAMS[0]}-{NGRAMS[1]}-grams of title + text",
        "temperature": model.temperature, "classes": model.classes,
    }
    path = save_model(settings, model) if save else None
    return TrainResult(model=model, report=report, train_rows=len(tr) + len(extra), holdout_rows=len(te), path=path)


# --- on disk --------------------------------------------------------------------------------------------

_cache: dict[Path, tuple[str, Model]] = {}
_cache_lock = threading.Lock()


def models_dir(settings: Settings) -> Path:
    return settings.var_dir / "models"


def save_model(settings: Settings, model: Model) -> Path:
    """Write classifier-<version>.joblib, then point current.json at it (written whole, then renamed)."""
    import joblib

    folder = models_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"classifier-{model.version}.joblib"
    joblib.dump({"format": FORMAT, "meta": model.meta, "features": model.features, "clf": model.clf,
                 "temperature": model.temperature}, path, compress=3)
    _point_at(folder, {**model.meta, "file": path.name}, model)
    return path


def _point_at(folder: Path, meta: dict, model: Model) -> None:
    """Make meta["file"] the current model of `folder`: current.json written whole, then renamed."""
    pointer = folder / "current.json"
    tmp = pointer.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2))
    tmp.replace(pointer)
    with _cache_lock:
        _cache[folder.resolve()] = (meta["file"], model)


def install(settings: Settings, source: str | Path) -> tuple[Path, bool]:
    """Use a model trained elsewhere instead of training one: copy the current model of `source` (a models
    folder holding current.json, or a var folder holding models/) into this var folder's models/ and make it
    the current one here. It is read first, so a model this scikit-learn cannot use is refused
    (ModelNotTrained), never copied. Returns the model's path here and whether anything was copied (False:
    it was the current model here already)."""
    import shutil

    folder = Path(source)
    if not (folder / "current.json").is_file() and (folder / "models" / "current.json").is_file():
        folder = folder / "models"
    pointer = folder / "current.json"
    if not pointer.is_file():
        raise ModelNotTrained(f"no trained model in {source} (it has no current.json, nor models/current.json)")
    try:
        meta = json.loads(pointer.read_text())
    except (OSError, ValueError) as exc:
        raise ModelNotTrained(f"{pointer} is unreadable ({exc})") from exc
    name = str(meta.get("file", ""))
    model = _read(folder / name, meta)
    here = models_dir(settings)
    target = here / name
    try:
        current = current_meta(settings)
    except ModelNotTrained:
        current = {}
    if current.get("file") == name and target.is_file():
        return target, False
    here.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(folder / name, tmp)
    tmp.replace(target)
    _point_at(here, meta, model)
    return target, True


def current_meta(settings: Settings) -> dict:
    pointer = models_dir(settings) / "current.json"
    if not pointer.exists():
        raise ModelNotTrained(f"no category model in {models_dir(settings)}: run `jiesu routing train`")
    try:
        return json.loads(pointer.read_text())
    except (OSError, ValueError) as exc:
        raise ModelNotTrained(f"{pointer} is unreadable ({exc}): run `jiesu routing train`") from exc


def load(settings: Settings) -> Model:
    """The current model, read once per process (again only when current.json names another file)."""
    meta = current_meta(settings)
    folder = models_dir(settings).resolve()
    name = meta.get("file", "")
    with _cache_lock:
        hit = _cache.get(folder)
        if hit and hit[0] == name:
            return hit[1]
        model = _read(folder / name, meta)
        _cache[folder] = (name, model)
        return model


def _read(path: Path, meta: dict) -> Model:
    import joblib
    import sklearn

    retrain = "run `jiesu routing train` to retrain"
    if not path.is_file():
        raise ModelNotTrained(f"the current model file {path} is missing: {retrain}")
    saved_with = meta.get("sklearn")
    if saved_with and saved_with != sklearn.__version__:
        # scikit-learn does not promise that a pickled model works in another version: never guess
        raise ModelNotTrained(f"the model {path.name} was saved with scikit-learn {saved_with}, this is "
                              f"{sklearn.__version__}: {retrain}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=UserWarning)  # sklearn's InconsistentVersionWarning
            obj = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing to the user
        raise ModelNotTrained(f"the model {path.name} cannot be read ({type(exc).__name__}: {exc}): "
                              f"{retrain}") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ModelNotTrained(f"the model {path.name} has another format: {retrain}")
    model = Model(features=obj["features"], clf=obj["clf"], temperature=obj["temperature"], meta=obj["meta"])
    model.features.transform([""])  # builds the lookup tables now, not in the first request
    return model


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
