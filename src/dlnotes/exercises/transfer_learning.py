"""Exercises for the chapter *Transfer learning*. Solutions come from :mod:`dlnotes.cnn` and the chapter's 2x2 table."""

from __future__ import annotations

import numpy as np

from ..cnn import CNN
from . import Variant, exercise

CHAPTER = "transfer-learning"


@exercise("transfer-learning.trainable-params", title="What a linear probe trains, and what fine-tuning trains",
          chapter=CHAPTER, topic="transfer learning", points=2, answer_type="numeric")
def _trainable(rng: np.random.Generator) -> Variant:
    c1, c2 = (int(v) for v in sorted(rng.choice([4, 8, 16, 32], size=2, replace=False)))
    C = int(rng.choice([2, 3, 5, 7, 10]))
    model = CNN(in_shape=(1, 8, 8), n_classes=C, channels=(c1, c2))
    total = model.n_params
    head = model.freeze_body().n_trainable
    prompt = (f"A CNN for 8 × 8 grey images has two blocks `Conv2d(3 × 3, padding 1) → ReLU → MaxPool2d(2)` "
              f"with {c1} and then {c2} output channels, a flatten, and a linear head to $C = {C}$ classes "
              "(every layer with biases). It is pre-trained on another task and transferred with a new head. "
              "How many parameters does a linear probe train, and how many does fine-tuning everything "
              "train? Give both numbers.")
    feats = c2 * 2 * 2
    explanation = (f"After two poolings the maps are 2 × 2, so the body outputs ${c2}\\cdot 2\\cdot 2 = {feats}$ "
                   f"features. The probe trains only the head: ${feats}\\cdot{C} + {C} = {head}$. Fine-tuning "
                   f"also trains the convolutions: $({c1}\\cdot 1\\cdot 9 + {c1}) + ({c2}\\cdot{c1}\\cdot 9 + {c2}) "
                   f"= {total - head}$ more, {total} in all. With few labelled images, the probe's "
                   f"{head} parameters are much easier to fit without overfitting.")
    return Variant(prompt, {"channels": [c1, c2], "C": C}, [float(head), float(total)], explanation,
                   rtol=1e-9, atol=0.5)


_CELLS = {
    ("little", "similar"): "a",
    ("little", "different"): "b",
    ("much", "similar"): "c",
    ("much", "different"): "d",
}
_STRATEGIES = {
    "a": "a linear probe on the top layer's features (frozen body)",
    "b": "linear probes on earlier layers' features, to find the stage that still transfers",
    "c": "fine-tune the last few layers (and the new head)",
    "d": "fine-tune most or all of the layers",
}
_SCENARIOS = {
    ("little", "similar"): "12 labelled photographs per class of five new breeds of dogs, for a network "
                           "pre-trained on ImageNet (which has many dog breeds)",
    ("little", "different"): "12 labelled images per class of five kinds of cell in microscope slides, for a "
                             "network pre-trained on ImageNet photographs",
    ("much", "similar"): "40 000 labelled photographs of twenty kinds of car, for a network pre-trained on "
                         "ImageNet photographs",
    ("much", "different"): "40 000 labelled spectrograms of ten kinds of bird song, for a network pre-trained "
                           "on ImageNet photographs",
}


@exercise("transfer-learning.which-cell", title="Which cell of the 2 × 2 table?", chapter=CHAPTER,
          topic="transfer learning", points=1, answer_type="choice")
def _which_cell(rng: np.random.Generator) -> Variant:
    keys = list(_SCENARIOS)
    cell = keys[int(rng.integers(0, len(keys)))]
    order = [list(_STRATEGIES)[i] for i in rng.permutation(4)]
    choices = {k: _STRATEGIES[o] for k, o in zip("abcd", order)}
    solution = "abcd"[order.index(_CELLS[cell])]
    amount, similarity = cell
    prompt = (f"You have {_SCENARIOS[cell]}. Following the 2 × 2 table (amount of labelled data × similarity "
              "to the pre-training data), which strategy should you try first?")
    explanation = (f"This is **{amount} data** and **{similarity} data**. "
                   + {"a": "The top layer's features already describe such images, and there are too few "
                           "labels to retrain many parameters: a linear probe.",
                      "b": "The top layer's features are specialised to the source images and transfer badly; "
                           "earlier layers are more generic, so probe them (the chapter's rotated digits: the "
                           "first block's features beat the top layer's by several points).",
                      "c": "The features are right, and there is enough data to adapt the top of the network "
                           "safely.",
                      "d": "The features need to change a lot, and there is enough data to retrain most of the "
                           "network (training from scratch becomes competitive too)."}[_CELLS[cell]])
    return Variant(prompt, {"cell": list(cell), "order": order}, solution, explanation, choices=choices)
