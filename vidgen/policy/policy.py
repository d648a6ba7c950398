"""The content policy: refuse prompts in a forbidden category, offline, before any work is done.

`check(prompt)` applies policy.yaml's categories in two steps: keyword rules (regular
expressions, and a list of real people's names), then a linear classifier over MiniLM sentence
embeddings, fitted when the policy loads on the YAML's examples and benign look-alikes plus the
dev split of the labelled prompt set (prompts_v1.jsonl); a prompt is refused when the benign
class gets less than `benign_below` probability. Embeddings come from embed.py, a NumPy
forward pass of MiniLM, so the API server can check prompts without importing torch. Every
decision is logged on the "vidgen.policy" logger. The first call loads MiniLM (under a second)
and the fitted classifier, fitting it the first time (a few seconds); later calls take a few
milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from vidgen.config import home

POLICY_FILE = Path(__file__).with_name("policy.yaml")
PROMPTS_FILE = Path(__file__).with_name("prompts_v1.jsonl")
log = logging.getLogger("vidgen.policy")
FIT_VERSION = 1  # bump when the fit itself changes (solver, features)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    category: str | None  # the refused category, None when allowed
    reason: str  # "keyword", "name", "classifier" or "ok"
    score: float = 0.0  # 1 - P(benign) from the classifier (1 for a keyword rule)

    def to_dict(self) -> dict:
        return {"allowed": self.allowed, "category": self.category}

    @property
    def message(self) -> str:
        if self.allowed:
            return "allowed"
        return f"prompt refused by the content policy: {self.category.replace('_', ' ')}"


@dataclass
class Policy:
    strength: float  # the classifier's inverse regularisation C
    benign_below: float  # refuse when P(benign) is below this
    consented: set[str]
    rules: dict[str, list[re.Pattern]]  # category -> keyword patterns
    names: dict[str, re.Pattern]  # category -> one pattern of every listed name
    examples: dict[str, list[str]]  # category -> example prompts
    descriptions: dict[str, str]
    benign: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path = POLICY_FILE) -> Policy:
        """Read a policy YAML file, refusing malformed fields by name."""
        data = yaml.safe_load(Path(path).read_text())
        cats = data.get("categories")
        if not isinstance(cats, dict) or not cats:
            raise ValueError(f"{path}: 'categories' must be a non-empty mapping")
        if not 0 < float(data.get("benign_below", -1)) < 1:
            raise ValueError(f"{path}: 'benign_below' must be a number in (0, 1)")
        if not float(data.get("strength", -1)) > 0:
            raise ValueError(f"{path}: 'strength' must be a positive number")
        rules, names, examples, descriptions = {}, {}, {}, {}
        for name, c in cats.items():
            rules[name] = [re.compile(k, re.IGNORECASE) for k in c.get("keywords", [])]
            if c.get("names"):
                alts = "|".join(re.escape(n.lower()) for n in c["names"])
                names[name] = re.compile(rf"\b({alts})\b")
            examples[name] = list(c.get("examples", []))
            descriptions[name] = str(c.get("description", name))
        return cls(
            float(data["strength"]),
            float(data["benign_below"]),
            {n.lower() for n in data.get("consented") or []},
            rules,
            names,
            examples,
            descriptions,
            list(data.get("benign", [])),
        )

    # --- the two steps ------------------------------------------------------------------------

    def keyword(self, prompt: str) -> tuple[str, str] | None:
        """(category, "keyword" or "name") for the first rule that matches, else None."""
        low = " ".join(prompt.lower().split())
        for cat, pats in self.rules.items():
            if any(p.search(low) for p in pats):
                return cat, "keyword"
        for cat, pat in self.names.items():
            if any(m.group(1) not in self.consented for m in pat.finditer(low)):
                return cat, "name"
        return None

    def classify(self, prompt: str) -> tuple[str | None, float]:
        """(category or None, 1 - P(benign)) from the MiniLM classifier."""
        return self.classify_many([prompt])[0]

    def classify_many(self, prompts: list[str]) -> list[tuple[str | None, float]]:
        """`classify` for many prompts in one batched MiniLM pass."""
        clf = _classifier(self)
        classes = list(clf.classes)
        out = []
        for p in clf.predict_proba(_embed(prompts)):
            benign = float(p[classes.index("benign")])
            if benign >= self.benign_below:
                out.append((None, 1 - benign))
            else:
                order = [c for c in classes if c != "benign"]
                out.append((max(order, key=lambda c: p[classes.index(c)]), 1 - benign))
        return out

    def check(self, prompt: str) -> Decision:
        """Allow or refuse one prompt, naming the category; logged."""
        return self.check_many([prompt])[0]

    def check_many(self, prompts: list[str]) -> list[Decision]:
        """`check` for many prompts: the keyword step per prompt, the classifier batched."""
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise ValueError(f"prompt must be a string, got {type(prompt).__name__}")
        decisions: list[Decision | None] = []
        for prompt in prompts:
            hit = self.keyword(prompt)
            decisions.append(Decision(False, hit[0], hit[1], 1.0) if hit else None)
        rest = [i for i, d in enumerate(decisions) if d is None]
        if rest:
            for i, (cat, score) in zip(
                rest, self.classify_many([prompts[i] for i in rest]), strict=True
            ):
                decisions[i] = Decision(cat is None, cat, "classifier" if cat else "ok", score)
        for prompt, d in zip(prompts, decisions, strict=True):
            log.info(
                "policy %s category=%s reason=%s score=%.3f prompt=%r",
                "allowed" if d.allowed else "refused",
                d.category,
                d.reason,
                d.score,
                prompt[:120],
            )
        return decisions


_VECTORS: OrderedDict[str, np.ndarray] = OrderedDict()  # recent prompts' vectors, newest last
_VECTORS_LOCK = threading.Lock()
CACHED = 4096  # prompts whose vectors are kept (a remix or a re-run with a new seed is free)


def _embed(texts: list[str]) -> np.ndarray:
    """Unit-length MiniLM sentence vectors (N, 384), from the NumPy forward pass (no torch)."""
    from vidgen.policy.embed import embed

    with _VECTORS_LOCK:
        known = {t: _VECTORS[t] for t in texts if t in _VECTORS}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, embed(missing), strict=True))
    with _VECTORS_LOCK:
        for t in texts:
            _VECTORS[t] = known[t]
            _VECTORS.move_to_end(t)
        while len(_VECTORS) > CACHED:
            _VECTORS.popitem(last=False)
    return np.stack([known[t] for t in texts])


def training_rows(path: Path = PROMPTS_FILE, split: str = "dev") -> list[dict]:
    """The labelled prompts of one split: {"prompt", "label", "category", "split"} each."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["split"] == split]


_CLASSIFIERS: dict[int, LinearClassifier] = {}


@dataclass(frozen=True)
class LinearClassifier:
    """A fitted multinomial logistic regression: P(class | x) = softmax(x W^T + b)."""

    coef: np.ndarray  # (K, 384)
    intercept: np.ndarray  # (K,)
    classes: tuple[str, ...]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.coef.T + self.intercept  # (N, K)
        z = np.exp(z - z.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)


def _classifier(policy: Policy) -> LinearClassifier:
    """Logistic regression over MiniLM vectors: the categories and "benign".

    Fitting embeds a few hundred examples and imports scikit-learn, about 5 s of a cold
    `vidgen generate` on a slow CPU, so the fitted weights are kept in $VIDGEN_HOME/cache under
    a hash of everything the fit reads; a changed policy or prompt set fits anew.
    """
    key = id(policy)
    if key in _CLASSIFIERS:
        return _CLASSIFIERS[key]
    rows = training_rows()
    texts = [r["prompt"] for r in rows] + [e for ex in policy.examples.values() for e in ex]
    labels = [r["category"] or "benign" for r in rows]
    labels += [c for c, ex in policy.examples.items() for _ in ex]
    texts, labels = texts + policy.benign, labels + ["benign"] * len(policy.benign)
    digest = hashlib.sha256(json.dumps([texts, labels, policy.strength, FIT_VERSION]).encode())
    path = home() / "cache" / f"policy-{digest.hexdigest()[:16]}.npz"
    try:
        with np.load(path) as f:
            clf = LinearClassifier(f["coef"], f["intercept"], tuple(f["classes"].tolist()))
    except (OSError, KeyError, ValueError):  # not fitted yet, or a torn or foreign file
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=policy.strength, max_iter=2000, class_weight="balanced")
        lr.fit(_embed(texts), labels)
        coef, intercept = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # sigmoid(x w + b) is the softmax of rows (0, w), (0, b)
            coef, intercept = np.vstack([0 * coef, coef]), np.concatenate([[0.0], intercept])
        clf = LinearClassifier(coef, intercept, tuple(lr.classes_.tolist()))
        _save(path, clf)
    _CLASSIFIERS[key] = clf
    return clf


def _save(path: Path, clf: LinearClassifier) -> None:
    """Write the fitted weights atomically; a read-only home only costs the next run a fit."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, coef=clf.coef, intercept=clf.intercept, classes=np.array(clf.classes))
        tmp.replace(path)
    except OSError as e:
        log.warning("policy classifier not cached at %s: %s", path, e)


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    return Policy.load()


def check(prompt: str) -> Decision:
    """Check a prompt against the shipped policy (vidgen/policy/policy.yaml)."""
    return default_policy().check(prompt)


def check_many(prompts: list[str]) -> list[Decision]:
    """`check` for many prompts at once (one batched MiniLM pass: about 2x cheaper each)."""
    return default_policy().check_many(prompts)
