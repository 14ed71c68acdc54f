"""The rules of translation models at the edge, without TensorFlow: the directions a model may
translate, and the one-line messages for a direction it lacks and an image too small for its
networks (keras_gen/models/translation/common.py and `keras-gen translate` say the same)."""

from __future__ import annotations

DIRECTIONS = ("a_to_b", "b_to_a")


def too_small_message(model: str, min_side: int, multiple: int, height: int, width: int, what: str) -> str:
    return (f"{what} is {height}x{width} px, smaller than {model} takes: at least {min_side} px a side (its networks "
            f"halve the image down to a multiple of {multiple}; other sides are padded by reflection and cropped "
            "back). Pass a larger image.")


def direction_message(model: str, direction: str, directions) -> str:
    return (f"{model} has no direction {direction!r}: it translates {' and '.join(directions)}"
            + (" (a paired model learns A -> B only)" if tuple(directions) == ("a_to_b",) else "") + ".")
