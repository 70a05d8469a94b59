"""The Python API: order, batching, probabilities, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from peacestance import Prediction, Predictor, load_predictor
from peacestance.predict import MAX_CHARS
from peacestance.runtime import has_native_bf16
from peacestance.schema import LABELS

FAVOR = "Paris strongly supports security guarantees for Kyiv."
AGAINST = "Rome firmly opposes a European troop deployment."
NEUTRAL = "The minister will discuss an American backstop."


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return Predictor(tiny_model_dir, batch_size=4)


def test_single_string_gives_one_prediction(predictor):
    pred = predictor.predict(FAVOR, target="guarantees")
    assert isinstance(pred, Prediction)
    assert pred.label == "favor"
    assert set(pred.scores) == set(LABELS)
    assert sum(pred.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_list_keeps_the_callers_order_under_length_sorting(predictor):
    texts = [AGAINST, "Ok.", FAVOR + " " + FAVOR, NEUTRAL, FAVOR] * 3
    targets = ["troops", "guarantees", "guarantees", "us_backstop", "guarantees"] * 3
    batched = predictor.predict(texts, targets)
    one_by_one = [predictor.predict(t, g) for t, g in zip(texts, targets)]
    assert [p.label for p in batched] == [p.label for p in one_by_one]
    for a, b in zip(batched, one_by_one):
        assert np.allclose([a.scores[k] for k in LABELS], [b.scores[k] for k in LABELS], atol=1e-4)
    assert [p.label for p in batched[:5]] == ["against", batched[1].label, "favor", "neutral", "favor"]


def test_streaming_in_chunks_matches_one_call(predictor):
    texts = [FAVOR, AGAINST, NEUTRAL] * 7
    streamed = list(predictor.iter_predict(texts, "troops", chunk=4))
    assert [p.label for p in streamed] == [p.label for p in predictor.predict(texts, "troops")]


def test_free_phrase_target_is_accepted(predictor):
    assert predictor.predict(AGAINST, target="a European troop deployment").label in LABELS


@pytest.mark.parametrize("bad", [None, 3, b"bytes", {"text": "x"}])
def test_non_string_names_its_index(predictor, bad):
    with pytest.raises(TypeError, match=r"input 1 is"):
        predictor.predict([FAVOR, bad])


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x02\x1b\x7f\u200b\ufeff"])
def test_empty_or_control_only_text_is_certain_neutral(predictor, text):
    assert predictor.predict(text) == predictor.empty_prediction
    assert predictor.empty_prediction.scores == {"favor": 0.0, "against": 0.0, "neutral": 1.0}


def test_very_long_text_is_cut_not_crashed(predictor):
    pred = predictor.predict("Paris supports guarantees. " * 4000)  # about 108,000 characters
    assert pred.label in LABELS and sum(pred.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert MAX_CHARS < 108_000


def test_mixed_scripts_and_emoji(predictor):
    preds = predictor.predict(["Київ 🇺🇦 wants guarantees 保证 ضمانات 🙏", "🙂🙂🙂"], target="guarantees")
    assert all(p.label in LABELS for p in preds)


def test_unknown_target_id_lists_valid_ids(predictor):
    with pytest.raises(ValueError, match=r"unknown target id 'troop'.*guarantees, troops, us_backstop, peace_deal"):
        predictor.predict(FAVOR, target="troop")


def test_target_list_must_match_texts(predictor):
    with pytest.raises(ValueError, match="got 1 targets for 2 texts"):
        predictor.predict([FAVOR, AGAINST], target=["troops"])


def test_unsupported_precision_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, int8, not 'fp8'"):
        Predictor(tiny_model_dir, precision="fp8")


def test_default_precision_is_bf16_only_where_the_hardware_has_it(tiny_model_dir):
    from peacestance.runtime import has_native_bf16

    auto = Predictor(tiny_model_dir, device="cpu")
    assert auto.precision == ("bf16" if has_native_bf16("cpu") else "fp32")
    assert auto._scorer.autocast is (auto.precision == "bf16")
    fp32 = Predictor(tiny_model_dir, device="cpu", precision="fp32")
    assert fp32.precision == "fp32" and fp32._scorer.autocast is False


def test_training_precision_auto_follows_the_same_hardware_rule_as_serving():
    from peacestance.runtime import has_native_bf16, pick_precision

    assert pick_precision("auto", "cpu") == {"bf16": has_native_bf16("cpu"), "fp16": False}
    assert pick_precision("off", "cpu") == {"bf16": False, "fp16": False}
    assert pick_precision("bf16", "cpu") == {"bf16": True, "fp16": False}  # asked for: allowed even where emulated
    with pytest.raises(ValueError, match="train.mixed_precision must be auto, bf16, fp16 or off, not 'fp8'"):
        pick_precision("fp8", "cpu")


def test_wrong_source_names_what_was_tried(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no peacestance model found; tried: .*nowhere"):
        load_predictor(tmp_path / "nowhere")


LEAD = "European leaders met in Paris on Tuesday to discuss what would follow a ceasefire, officials said."


def test_analyze_a_page_with_furniture(predictor):
    # The short stance sentences sit where a page puts them, after the lead: alone under the byline,
    # headline-like lines are what the learned line model takes for a standfirst or a promo.
    page = "\n".join([
        "Skip to content", "# Allies weigh guarantees", "By Test Reporter", "", LEAD, "",
        f"{FAVOR} {AGAINST}", "", NEUTRAL, "", "Leaders meet. (Reuters)", "#Ukraine", "Share this article",
    ])
    report = predictor.analyze(page, targets=["guarantees", "troops"])
    assert report["sentences"] == 4
    assert len(report["rows"]) == 8
    assert [r["sentence"] for r in report["rows"][::2]] == [LEAD, FAVOR, AGAINST, NEUTRAL]
    summary = report["summary"]["troops"]
    assert sum(summary["counts"].values()) == 4 and summary["shares"]["against"] == pytest.approx(summary["counts"]["against"] / 4)
    assert all(s["label"] != "neutral" for s in summary["most_confident"])


def test_analyze_an_empty_page(predictor):
    assert predictor.analyze("   ")["sentences"] == 0


PROBE = [FAVOR, AGAINST, NEUTRAL, "Moscow rules out an American backstop in update 9.", "Kyiv will discuss a negotiated settlement."]
PROBE_TARGETS = ["guarantees", "troops", "us_backstop", "us_backstop", "peace_deal"]


def test_onnx_fp32_gives_the_same_labels_as_torch(tiny_model_dir, tmp_path):
    import shutil

    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    torch_labels = [p.label for p in Predictor(model).predict(PROBE, PROBE_TARGETS)]
    onnx = Predictor(model, backend="onnx")
    assert [p.label for p in onnx.predict(PROBE, PROBE_TARGETS)] == torch_labels
    assert (model / "onnx" / "model.onnx").is_file()


def test_onnx_int8_agrees_with_fp32_on_the_probe(tiny_model_dir, tmp_path):
    import shutil

    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    fp32 = [p.label for p in Predictor(model).predict(PROBE * 4, PROBE_TARGETS * 4)]
    int8 = [p.label for p in Predictor(model, backend="onnx", precision="int8").predict(PROBE * 4, PROBE_TARGETS * 4)]
    assert fp32 == int8


def test_int8_on_the_torch_backend_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="precision=int8 needs backend=onnx"):
        Predictor(tiny_model_dir, precision="int8")


def test_bf16_follows_the_hardware(tiny_model_dir):
    from peacestance.runtime import cpu_has_bf16

    if cpu_has_bf16():
        fp32 = [p.label for p in Predictor(tiny_model_dir).predict(PROBE, PROBE_TARGETS)]
        assert [p.label for p in Predictor(tiny_model_dir, precision="bf16").predict(PROBE, PROBE_TARGETS)] == fp32
    else:
        with pytest.raises(ValueError, match="precision=bf16: this CPU .* has no bfloat16 instructions"):
            Predictor(tiny_model_dir, precision="bf16")


def test_unknown_backend_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ValueError, match="backend must be torch or onnx"):
        Predictor(tiny_model_dir, backend="tensorrt")


def test_bf16_serving_holds_linear_weights_in_bf16_and_scores_exactly_as_autocast_did(tiny_model_dir):
    """The bf16 path keeps one bf16 copy of the Linear weights instead of fp32 weights plus autocast's casts."""
    import torch

    from peacestance import models
    from peacestance.runtime import linear_weights_to_bf16

    model = models.load(tiny_model_dir).to("cpu")
    model.autocast = True
    phrases = [model.task.targets[t] for t in PROBE_TARGETS]
    before = model.scores(PROBE, phrases)
    cast = sum(linear_weights_to_bf16(network) for network in model.networks())
    after = model.scores(PROBE, phrases)
    assert cast >= 8 and np.array_equal(before, after)
    network = model.networks()[0]
    linears = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == cast and all(m.weight.dtype == torch.bfloat16 for m in linears)
    assert all(p.dtype == torch.float32 for m in network.modules() if isinstance(m, (torch.nn.Embedding, torch.nn.LayerNorm))
               for p in m.parameters())


def test_bf16_serving_holds_the_token_embedding_table_in_bf16_with_nearly_the_same_scores(tiny_model_dir):
    """The table is the largest fp32 tensor left after the Linear layers; rounding its rows moves scores little."""
    import torch

    from peacestance import models
    from peacestance.runtime import input_embeddings_to_bf16

    model = models.load(tiny_model_dir).to("cpu")
    model.autocast = True
    phrases = [model.task.targets[t] for t in PROBE_TARGETS]
    before = model.scores(PROBE, phrases)
    network = model.networks()[0]
    rows = network.get_input_embeddings().weight.shape[0]
    assert input_embeddings_to_bf16(network) is True
    assert network.get_input_embeddings().weight.dtype == torch.bfloat16
    assert input_embeddings_to_bf16(network) is False  # once
    after = model.scores(PROBE, phrases)
    assert np.abs(after - before).max() < 0.02 and (after.argmax(1) == before.argmax(1)).all()
    assert all(p.dtype == torch.float32 for name, p in network.named_parameters()
               if "position_embeddings" in name or "LayerNorm" in name)
    served = Predictor(tiny_model_dir, device="cpu", precision="bf16") if has_native_bf16("cpu") else None
    if served is not None:  # on a CPU with bf16 instructions the Predictor does it on load
        table = served._scorer.networks()[0].get_input_embeddings().weight
        assert table.dtype == torch.bfloat16 and table.shape[0] == rows
