"""The direction fields of SoundEvent and SpeakerId (msg/): NaN where the node has no
direction, which for now is always (the nodes hear a downmix; a mono stream never has one)."""
from __future__ import annotations

import math

from geometry_msgs.msg import Point, PointStamped
from std_msgs.msg import Header


def no_direction(header: Header) -> dict:
    """Keyword arguments of a message without a direction: NaN, not the messages' default 0,
    which would read as straight ahead."""
    nan = math.nan
    return {"azimuth": nan, "elevation": nan, "direction_confidence": nan,
            "direction": PointStamped(header=header, point=Point(x=nan, y=nan, z=nan))}
