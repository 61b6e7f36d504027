"""Report parts of the capabilities, one module each (see :mod:`skywork.recipe.report_parts`).

A module here defines ``KINDS`` (the stage kinds it reports), ``ORDER`` (position; the built-in parts of
``recipe/report.py`` end at 50) and ``section(ctx, names, img_dir) -> Section | None`` (``names``: the completed
stages of those kinds, in recipe order). Return None when there is nothing to show.
"""
