"""The direction fields of SoundEvent and SpeakerId (msg/): a direction found by the node's
microphone array (parameters `array` / `mic_positions`), NaN where there is none (mono input,
no array, nothing to trust)."""
from __future__ import annotations

import math

from geometry_msgs.msg import Point, PointStamped
from std_msgs.msg import Header

from degram_core.runtime.direction import Direction


def no_direction(header: Header) -> dict:
    """Keyword arguments of a message without a direction: NaN, not the messages' default 0,
    which would read as straight ahead."""
    nan = math.nan
    return {"azimuth": nan, "elevation": nan, "direction_confidence": nan,
            "direction": PointStamped(header=header, point=Point(x=nan, y=nan, z=nan))}


def direction_fields(direction: Direction | None, header: Header) -> dict:
    """Keyword arguments of a message with `direction` (radians, REP-103, in the header's
    frame): the angles, the confidence and the unit vector towards the source (rviz shows
    a PointStamped); no_direction's NaN when it is None."""
    if direction is None:
        return no_direction(header)
    x, y, z = (float(v) for v in direction.unit_vector())
    return {"azimuth": float(direction.azimuth), "elevation": float(direction.elevation),
            "direction_confidence": float(direction.confidence),
            "direction": PointStamped(header=header, point=Point(x=x, y=y, z=z))}
