"""Where the project finds things outside its package: the shared real-data folder."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path | None:
    """``../shared/data`` (or ``$SKYWORK_SHARED_DATA``) if present, else None.

    Searched above the installed package and above the working directory, so both an editable install and a run
    from a checkout find it; a folder counts only if it holds the README that describes the data.
    """
    env = os.environ.get("SKYWORK_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" for p in here.parents] + [Path.cwd().parent / "shared" / "data"]
    for cand in candidates:
        if cand.is_dir() and (cand / "README.md").exists():
            return cand
    return None
