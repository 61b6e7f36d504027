"""The stage kinds a recipe can use: name -> how to build its config and which adapter runs it.

This registry stands above the adapters (``recipe/stages.py``) and the report (``recipe/report.py``): it imports
both, neither imports it, so the recipe package has no import circle. A new capability registers one entry here.
"""

from __future__ import annotations

from skywork.data.synth.demo_corpus import DemoCorpusConfig
from skywork.recipe import report, stages
from skywork.recipe.loading import StageKind

KINDS: dict[str, StageKind] = {
    "demo_corpus": StageKind(
        "demo_corpus",
        lambda: DemoCorpusConfig,
        stages._run_corpus,
        input_fields=("stdlib_dir",),
        help="Generate the embedded bilingual demo corpus with planted defects (no downloads).",
    ),
    "collect": StageKind(
        "collect",
        stages._collect_config,
        stages._run_collect,
        input_fields=("sources.files",),
        help="Plain-text / JSONL files of any layout -> JSONL documents {id, text, source, lang} for the data stage.",
    ),
    "data": StageKind(
        "data",
        stages._data_config,
        stages._run_data,
        output_field="output_dir",
        input_fields=("inputs",),
        help="SkyPile-style cleaning: skywork.data.pipeline.run_pipeline.",
    ),
    "tokenizer": StageKind(
        "tokenizer",
        stages._tokenizer_config,
        stages._run_tokenizer,
        input_fields=("inputs",),
        help="Train the bilingual SentencePiece BPE: skywork.tokenizer.train.train_tokenizer.",
    ),
    "tokenize": StageKind(
        "tokenize",
        stages._tokenize_config,
        stages._run_tokenize,
        input_fields=("tokenizer", "sources"),
        help="Packed token streams per source for pretraining: skywork.train.shards.tokenize_to_shards.",
    ),
    "pretrain": StageKind(
        "pretrain",
        stages._pretrain_config,
        stages._run_pretrain,
        output_field="output_dir",
        input_fields=("tokenizer", "model.init_from", "data.sources", "data.validation"),
        help="Pretraining (stage 1, or stage 2 with init_from and a STEM ramp): skywork.train.pretrain.",
    ),
    "sft": StageKind(
        "sft",
        lambda: stages.capability("skywork.train.finetune_config", "SFTConfig"),
        lambda config, ctx: stages.capability("skywork.train.sft", "run_sft_stage")(config, ctx),
        output_field="output_dir",
        input_fields=("tokenizer", "model.init_from", "data.files", "data.validation_files"),
        help="Supervised fine-tuning (full or LoRA), packed without cross-contamination: skywork.train.sft.",
    ),
    "cpt": StageKind(
        "cpt",
        lambda: stages.capability("skywork.train.finetune_config", "CPTConfig"),
        lambda config, ctx: stages.capability("skywork.train.cpt", "run_cpt_stage")(config, ctx),
        output_field="output_dir",
        input_fields=("tokenizer", "model.init_from", "data.files"),
        help="Continued pretraining on raw JSONL/text in fixed blocks (full or LoRA): skywork.train.cpt.",
    ),
    "evaluate": StageKind(
        "evaluate",
        stages._evaluate_config,
        stages._run_evaluate,
        input_fields=(
            "models",
            "domains",
            "leakage.train",
            "leakage.test",
            "leakage.ref",
            "leakage.paired",
            "tokenizer_dir",
            "mcq.data_dir",
            "gsm8k.data",
            "gsm8k.prompt_file",
        ),
        help="Domain loss / perplexity, the leakage test, C-Eval / CMMLU / MMLU and GSM8K: skywork.eval.",
    ),
    "trajectory": StageKind(
        "trajectory",
        lambda: stages.capability("skywork.eval.trajectory", "TrajectoryConfig"),
        lambda config, ctx: stages.capability("skywork.eval.trajectory", "run_trajectory")(
            config, ctx.stage_dir, console=ctx.console
        ),
        input_fields=("run", "domains", "tokenizer_dir", "mcq.data_dir", "gsm8k.data", "gsm8k.prompt_file"),
        help="Every milestone checkpoint of a pretraining run through the eval suite, metrics against tokens: "
        "skywork.eval.trajectory.",
    ),
    "self_compare": StageKind(
        "self_compare",
        lambda: stages.capability("skywork.math.config", "SelfCompareConfig"),
        lambda config, ctx: stages.capability("skywork.math.self_compare", "run_self_compare_stage")(
            config, ctx
        ),
        output_field="output_dir",
        input_fields=("model", "tokenizer", "problems", "eval.files", "fewshot_file"),
        help="SkyMath self-compare fine-tuning: sample k, grade steps, build comparison data, SFT: skywork.math.",
    ),
    # --- Skywork-MM (issue 17): images -> encoder -> alignment -> instruction tuning -> evaluation
    "mm_data": StageKind(
        "mm_data",
        lambda: stages.capability("skywork.data.synth.images", "ImageQAConfig"),
        lambda config, ctx: stages.capability("skywork.mm.stages", "run_data_stage")(config, ctx),
        help="Generated bilingual image QA (shapes, text, charts) + sklearn digits: skywork.data.synth.images.",
    ),
    **{
        kind: StageKind(
            kind,
            lambda kind=kind: stages.capability("skywork.mm.train", "config_for")(kind),
            lambda config, ctx: stages.capability("skywork.mm.train", "run_mm_stage")(config, ctx),
            output_field="output_dir",
            input_fields=("tokenizer", "model.init_from", "mm.init_from", "data.files"),
            help=text,
        )
        for kind, text in (
            (
                "mm_encoder",
                "Multimodal stage 1: ViT + projector + LLM end to end on captions: skywork.mm.train.",
            ),
            (
                "mm_align",
                "Multimodal stage 2: the projector alone on captions (LLM, ViT frozen): skywork.mm.train.",
            ),
            (
                "mm_instruct",
                "Multimodal stage 3: LLM + projector on the dialogues, answers only: skywork.mm.train.",
            ),
        )
    },
    "mm_eval": StageKind(
        "mm_eval",
        lambda: stages.capability("skywork.eval.mm", "MMEvalConfig"),
        lambda config, ctx: stages.capability("skywork.eval.mm", "run_mm_eval_stage")(config, ctx),
        output_field="output_dir",
        input_fields=("model", "data_dir"),
        help="Held-out image QA per kind and language, digits, MME-style pairs, text-only baseline: skywork.eval.mm.",
    ),
    "quantize": StageKind(
        "quantize",
        lambda: stages.capability("skywork.serve.stages", "QuantizeStageConfig"),
        lambda config, ctx: stages.capability("skywork.serve.stages", "run_quantize_stage")(config, ctx),
        input_fields=("model", "validation", "mcq.data_dir"),
        help="int8 checkpoint of a model and its table: weights, measured peak memory, domain loss bf16 vs int8.",
    ),
    "serve_check": StageKind(
        "serve_check",
        lambda: stages.capability("skywork.serve.stages", "ServeCheckConfig"),
        lambda config, ctx: stages.capability("skywork.serve.stages", "run_serve_check")(config, ctx),
        input_fields=("model",),
        help="Serving smoke check: start the OpenAI-compatible server, one chat request (openai client), stop.",
    ),
    "instructions": StageKind(
        "instructions",
        lambda: stages.capability("skywork.data.synth.instructions", "InstructionConfig"),
        lambda config, ctx: stages.capability("skywork.data.synth.instructions", "run_instructions_stage")(
            config, ctx
        ),
        help="Generate a bilingual instruction set with computed answers (SFT data, no downloads).",
    ),
    "chat_eval": StageKind(
        "chat_eval",
        lambda: stages.capability("skywork.finetune.chat_eval", "ChatEvalStageConfig"),
        lambda config, ctx: stages.capability("skywork.finetune.chat_eval", "run_chat_eval_stage")(
            config, ctx
        ),
        input_fields=("models",),
        help="Chat evaluation of several models on the same prompts (before / after SFT): skywork.finetune.chat_eval.",
    ),
    "longctx_extend": StageKind(
        "longctx_extend",
        lambda: stages.capability("skywork.longctx.stages", "ExtendStageConfig"),
        lambda config, ctx: stages.capability("skywork.longctx.stages", "run_extend_stage")(config, ctx),
        input_fields=("model",),
        help="RoPE scaling of a model directory into STAGE/model (LongSkywork stage 2): skywork.longctx.rope.",
    ),
    "cip": StageKind(
        "cip",
        lambda: stages.capability("skywork.longctx.stages", "CIPStageConfig"),
        lambda config, ctx: stages.capability("skywork.longctx.stages", "run_cip_stage")(config, ctx),
        input_fields=("stream", "tokenizer"),
        help="Chunk-interleaved pretraining samples of a token stream, as the stream STAGE/cip: skywork.longctx.cip.",
    ),
    "long_cpt": StageKind(
        "long_cpt",
        lambda: stages.capability("skywork.longctx.long_cpt", "LongCPTConfig"),
        lambda config, ctx: stages.capability("skywork.longctx.long_cpt", "run_long_cpt_stage")(config, ctx),
        output_field="output_dir",
        input_fields=("tokenizer", "model.init_from", "data.sources", "data.validation"),
        help="Long-context continued pretraining (CIP + long documents, checkpointing, context parallel): "
        "skywork.longctx.long_cpt.",
    ),
    "synl": StageKind(
        "synl",
        lambda: stages.capability("skywork.longctx.stages", "SynLStageConfig"),
        lambda config, ctx: stages.capability("skywork.longctx.stages", "run_synl_stage")(config, ctx),
        input_fields=("tokenizer",),
        help="Synthetic lengthy tables (SynL): long-SFT train.jsonl and heldout.jsonl: skywork.data.synth.",
    ),
    "longctx_eval": StageKind(
        "longctx_eval",
        lambda: stages.capability("skywork.longctx.stages", "LongEvalConfig"),
        lambda config, ctx: stages.capability("skywork.longctx.stages", "run_long_eval_stage")(config, ctx),
        input_fields=("models", "longtable.data", "position_loss.files", "tokenizer"),
        help="Needle grid, SynL held-out accuracy and loss by position per model: skywork.longctx.stages.",
    ),
    "report": StageKind(
        "report",
        lambda: report.ReportConfig,
        report.build_report,
        input_fields=("defect_labels",),
        help="Write RUN_DIR/report.html and report.md from the summaries the stages wrote.",
        reads_all=True,
    ),
}
