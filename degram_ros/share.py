"""Where the package's shipped files (models, the demo scene) are found."""
from __future__ import annotations

from pathlib import Path


def resolve_share_path(path: str) -> Path:
    """Absolute paths as given; relative ones inside share/degram_ros, where the models and
    the demo scene are installed (a plain checkout without ament: relative to the folder)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or not path:
        return candidate
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory("degram_ros")) / candidate
    except (ImportError, LookupError):
        return candidate
