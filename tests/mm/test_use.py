"""Using a multimodal model: `skywork generate --image`, `skywork chat --image` and `/image`, and the builtin
server's chat endpoint with OpenAI `image_url` parts, through the official openai client on a real server."""

from __future__ import annotations

import base64
import json

import pytest
from typer.testing import CliRunner

from skywork.cli import app


@pytest.fixture(scope="module")
def image_file(mm_data, tmp_path_factory):
    from skywork.data.synth.images import decode_png

    row = json.loads((mm_data / "heldout" / "images.jsonl").read_text().splitlines()[0])
    path = tmp_path_factory.mktemp("img") / "image.png"
    decode_png(row["image"]).save(path)
    return path


def test_generate_with_an_image(mm_model_dir, image_file):
    result = CliRunner().invoke(
        app,
        [
            "generate",
            str(mm_model_dir),
            "-p",
            "What colour?",
            "--image",
            str(image_file),
            "--max-new-tokens",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output


def test_generate_with_an_image_on_a_text_model_is_refused(image_file, mm_tokenizer_dir, tmp_path):
    from skywork.testing import build_tiny_model, write_tiny_model_dir
    from skywork.tokenizer import load

    model = build_tiny_model(vocab_size=len(load(mm_tokenizer_dir)))
    model_dir = write_tiny_model_dir(tmp_path / "m", model, mm_tokenizer_dir)
    result = CliRunner().invoke(app, ["generate", str(model_dir), "-p", "x", "--image", str(image_file)])
    assert result.exit_code != 0 and "multimodal" in " ".join(result.output.split())


def test_chat_attaches_images_with_the_flag_and_the_command(mm_model_dir, image_file):
    from skywork.inference import SamplingParams
    from skywork.mm.chat import MMChatSession, load_for_chat

    model, tokenizer, settings = load_for_chat(mm_model_dir)
    session = MMChatSession(model, tokenizer, SamplingParams(max_new_tokens=3), settings)
    session.attach(image_file)
    "".join(session.send("What colour?"))
    "".join(session.send("And how many?"))
    session.attach(image_file)
    "".join(session.send("This one?"))
    assert len(session.images) == 2 and session.pending is None
    assert [m["content"].startswith("<image>") for m in session.messages if m["role"] == "user"] == [
        True,
        False,
        True,
    ]
    result = CliRunner().invoke(
        app,
        ["chat", str(mm_model_dir), "--image", str(image_file), "--max-new-tokens", "3"],
        input=f"What colour?\n/image {image_file}\nAnd this?\n/exit\n",
    )
    assert result.exit_code == 0, result.output
    assert "image attached" in result.output and result.output.count("bot>") == 2


def test_builtin_server_answers_openai_image_url_parts(mm_model_dir, image_file):
    openai = pytest.importorskip("openai")
    pytest.importorskip(
        "fastapi", reason="the builtin server is the serve extra: pip install 'skywork[serve]'"
    )
    from skywork.serve.builtin import BuiltinServer

    url = "data:image/png;base64," + base64.b64encode(image_file.read_bytes()).decode()
    with BuiltinServer(mm_model_dir, served_model_name="mm", port=0) as server:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="none", max_retries=0, timeout=120)
        content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "What colour?"}]
        reply = client.chat.completions.create(
            model="mm", messages=[{"role": "user", "content": content}], max_tokens=3, temperature=0
        )
        assert reply.choices[0].finish_reason in ("stop", "length")
        assert reply.usage.prompt_tokens > 16  # the 16 image tokens are in the prompt
        text_only = client.chat.completions.create(
            model="mm", messages=[{"role": "user", "content": "What colour?"}], max_tokens=3, temperature=0
        )
        assert text_only.usage.prompt_tokens == reply.usage.prompt_tokens - 16
        bad = [{"type": "image_url", "image_url": {"url": "http://example.com/x.png"}}]
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(
                model="mm", messages=[{"role": "user", "content": bad}], max_tokens=2
            )


def test_engine_samples_n_per_image_prompt(mm_model_dir, image_file):
    """n > 1 repeats each prompt's rows: its image must be fed once per sample (greedy samples all equal n=1)."""
    from skywork.inference.engine import GenerationEngine
    from skywork.inference.sampling import SamplingParams
    from skywork.mm.chat import IMAGE_PLACEHOLDER, load_for_chat
    from skywork.mm.processor import load_image

    model, tokenizer, settings = load_for_chat(mm_model_dir)
    messages = [{"role": "user", "content": IMAGE_PLACEHOLDER + "What colour?"}]
    ids, pixels = settings.encode(tokenizer, messages, [load_image(image_file)])
    engine = GenerationEngine(model, tokenizer)
    one = engine.generate([ids], SamplingParams(max_new_tokens=4, temperature=0.0), images=[pixels])[0]
    three = engine.generate([ids], SamplingParams(max_new_tokens=4, temperature=0.0, n=3), images=[pixels])[0]
    assert len(three) == 3 and all(c.token_ids == one[0].token_ids for c in three)
