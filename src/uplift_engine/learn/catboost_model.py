"""CatBoost models inside a scoring graph: how they are carried, fed and evaluated.

Invariant: in :attr:`~uplift_engine.learn.graph.ScoringGraph.models` a CatBoost model is text
that starts with :data:`CATBOOST_HEADER` followed by its ``.cbm`` bytes in base64 (LightGBM
models are LightGBM's own text); a bundle stores the bytes as ``models/<name>.cbm``. CatBoost
itself is imported only when such a model is fitted or evaluated, so the LightGBM scoring path
never loads it.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

CATBOOST_HEADER = "catboost-cbm-base64\n"
"""How a CatBoost model starts in :attr:`ScoringGraph.models`: the header, then the ``.cbm``
bytes in base64. A bundle stores the bytes as ``models/<name>.cbm``."""


def model_library(text: str) -> str:
    """The library of a model in :attr:`ScoringGraph.models`: ``catboost`` or ``lightgbm``."""
    return "catboost" if text.startswith(CATBOOST_HEADER) else "lightgbm"


def catboost_text(cbm: bytes) -> str:
    """A CatBoost ``.cbm`` model as it is carried in :attr:`ScoringGraph.models`."""
    return CATBOOST_HEADER + base64.b64encode(cbm).decode("ascii")


def catboost_bytes(text: str) -> bytes:
    """The ``.cbm`` bytes of a model made by :func:`catboost_text`."""
    if not text.startswith(CATBOOST_HEADER):
        raise ValueError("not a CatBoost model")
    return base64.b64decode(text[len(CATBOOST_HEADER) :], validate=True)


def catboost_features(X: np.ndarray, numeric: list[int], categorical: list[int]) -> Any:
    """CatBoost's input for our float matrix: numeric columns, then categorical ones.

    The ``numeric`` columns go as float32 (NaN = missing), the ``categorical`` ones as integer
    level codes in text, ``-1`` for missing. Each CatBoost feature is named by its column index
    in ``X``, so a fitted model knows which column of ``X`` each of its features reads.
    """
    import catboost

    codes = X[:, categorical]
    codes = np.where(np.isnan(codes), -1.0, codes).astype(np.int64)
    return catboost.FeaturesData(
        num_feature_data=np.ascontiguousarray(X[:, numeric], dtype=np.float32) if numeric else None,
        cat_feature_data=codes.astype(str).astype(object) if categorical else None,
        num_feature_names=[str(j) for j in numeric] if numeric else None,
        cat_feature_names=[str(j) for j in categorical] if categorical else None,
    )


class CatBoostBooster:
    """A CatBoost model behind LightGBM's ``predict(X, num_threads=...)``.

    It predicts probabilities for a ``Logloss`` model and raw values (RMSE) otherwise, reading
    the columns of ``X`` its features were fitted on (see :func:`catboost_features`).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        columns = [int(name) for name in model.feature_names_]
        cats = set(model.get_cat_feature_indices())
        self.numeric = [c for i, c in enumerate(columns) if i not in cats]
        self.categorical = [c for i, c in enumerate(columns) if i in cats]
        self.binary = model.get_all_params().get("loss_function") == "Logloss"

    @classmethod
    def from_cbm(cls, cbm: bytes) -> CatBoostBooster:
        """Load a ``.cbm`` model (imports CatBoost)."""
        import catboost

        model = catboost.CatBoost()
        model.load_model(blob=cbm)
        return cls(model)

    def predict(self, X: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """Probabilities (binary) or values (regression), shape (n_rows,)."""
        data = catboost_features(X, self.numeric, self.categorical)
        kind = "Probability" if self.binary else "RawFormulaVal"
        out = np.asarray(
            self.model.predict(data, prediction_type=kind, thread_count=num_threads),
            dtype=np.float64,
        )
        return out[:, 1] if self.binary else out
