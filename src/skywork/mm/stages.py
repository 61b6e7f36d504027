"""Recipe adapters of the multimodal stages (registered in ``skywork.recipe.kinds``)."""

from __future__ import annotations

from skywork.data.synth.images import ImageQAConfig, generate_images


def run_data_stage(config: ImageQAConfig, ctx) -> dict:
    """``mm_data``: the generated images (and sklearn digits) with manifest.json and summary.json."""
    from skywork.utils.progress import progress

    total = config.train_images + config.heldout_images
    with progress("generating images", total, console=ctx.console) as bar:
        manifest = generate_images(config, ctx.stage_dir, progress=lambda done, _: bar.update(completed=done))
    return {"images": manifest["images"]}
