"""The hardening probes, each as a test: no silent wrong answers, no lost checkpoints, errors that say where."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from corpus_factory import smoke_run_overrides, write_corpus
from mlflow.tracking import MlflowClient

from peacestance.config import CONFIG_DIR, compose
from peacestance.config_schema import MODEL_SCHEMAS, ConfigError, check_config
from peacestance.data.prepare import prepare
from peacestance.models.base import ModelFolderError
from peacestance.predict import Predictor
from peacestance.schema import target_phrase
from peacestance.train import train

CONFIGS = Path(CONFIG_DIR)
FAVOR = "Paris strongly supports security guarantees for Kyiv."


# ---------------------------------------------------------------- knobs checked before anything runs


@pytest.mark.parametrize("override,message", [
    ("train.lr=abc", "Value 'abc' of type 'str' could not be converted to Float"),
    ("train.epochs=1.5", "could not be converted to Integer"),
    ("data.full_matrix=maybe", "Value 'maybe' is not a valid bool"),
    ("tracking.log_model=yes_please", "Value 'yes_please' is not a valid bool"),
])
def test_a_mistyped_knob_fails_at_compose_time_naming_the_key(override, message):
    with pytest.raises(Exception, match=f"Error merging override {override}") as err:
        compose([override])
    cause = str(err.value.__cause__)
    assert message in cause and f"full_key: {override.split('=')[0]}" in cause


@pytest.mark.parametrize("override,message", [
    ("+train.lrr=1", r"unknown key train\.lrr; the train knobs are: batch_size"),
    ("train.batch_size=0", r"train\.batch_size=0 must be a positive integer"),
    ("train.promote=maybe", r"train\.promote='maybe' is not one of always, if_better, never"),
    ("data.on_bad_page=bogus", r"data\.on_bad_page='bogus' is not one of raise, skip"),
    ("train.warmup_ratio=2", r"train\.warmup_ratio=2.0 must be between 0 and 1"),
    ("+data.foo=1", r"unknown key data\.foo; the data knobs are: annotations"),
    ("+tracking.bar=1", r"unknown key tracking\.bar; the tracking knobs are: artifact_location"),
    ("train.objective=blind-test", r"train\.objective must be validation or a benchmark part other than blind-test"),
])
def test_a_bad_value_or_unknown_key_is_one_clear_error(override, message):
    with pytest.raises(ConfigError, match=message):
        check_config(compose([override]))


@pytest.mark.parametrize("overrides,message", [
    (["model.C=abc"], r"model\.C='abc': Value 'abc' of type 'str' could not be converted to Float"),
    (["model.pooling=max"], r"model\.pooling='max' is not one of mean, cls"),
    (["model.cells=all"], r"model\.cells='all' is not one of primary, matrix"),
    (["model=minilm", "+model.cells=matrix"], r"unknown key model\.cells; the knobs of model \(minilm\)"),
    (["+model.dropout=0.1"], r"unknown key model\.dropout; the knobs of model \(mpnet_head\) are: C, batch_size"),
    (["+model.lexical.foo=1"], r"unknown key model\.lexical\.foo; the knobs of model\.lexical are: C, class_weight"),
    (["model.lexical_weight=1.5"], r"model\.lexical_weight=1\.5 must be between 0 and 1"),
    (["model.lexical.ngram_range=[2,1]"], r"model\.lexical\.ngram_range=\[2, 1\] must be \[low, high\]"),
    (["experiment=mpnet_student", "model.student.epochs=x"], r"model\.student\.epochs='x' must be an integer"),
    (["experiment=mpnet_student", "+model.student.depth=2"], r"model\.student: unknown setting\(s\) \['depth'\]"),
    (["model=minilm", "model.max_length=0"], r"model\.max_length=0 must be a positive integer"),
    (["model.depth=0"], r"model\.depth=0 must be a positive integer"),
    (["model.pad_to_multiple_of=0"], r"model\.pad_to_multiple_of=0 must be a positive integer"),
    (["model.pad_to_multiple_of=24"], r"model\.pad_to_multiple_of=24 must divide model\.max_length \(128\)"),
    (["model.kernel=poly"], r"model\.kernel='poly' is not one of linear, rbf"),
    (["model.kernel_gamma=0"], r"model\.kernel_gamma=0\.0 must be a number > 0"),
    (["model.depth=eight"], r"model\.depth='eight': Value 'eight' of type 'str' could not be converted to Integer"),
    (["model=tfidf", "+model.pooling=mean"], r"unknown key model\.pooling; the knobs of model \(tfidf\)"),
])
def test_a_bad_model_knob_is_named_before_any_encoder_loads(overrides, message):
    """The model group's schema follows model._target_: each recipe refuses knobs it does not have."""
    with pytest.raises(ConfigError, match=message):
        check_config(compose(overrides))


@pytest.mark.parametrize("overrides", [[f"model={p.stem}"] for p in sorted((CONFIGS / "model").glob("*.yaml"))]
                         + [[f"experiment={p.stem}"] for p in sorted((CONFIGS / "experiment").glob("*.yaml"))])
def test_every_shipped_model_and_experiment_config_passes_its_schema(overrides):
    cfg = compose(overrides)
    check_config(cfg)
    assert cfg.model._target_ in MODEL_SCHEMAS


def test_the_cli_reports_a_bad_knob_in_one_line_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "peacestance.train", "train.batch_size=0",
                           f"tracking.uri=sqlite:///{tmp_path}/m.db"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == \
        "train failed: train.batch_size=0 must be a positive integer"
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.db").exists()  # no MLflow run was created


@pytest.mark.parametrize("batch_size", [-1, 0])
def test_predictor_refuses_a_batch_size_below_one(tiny_model_dir, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Predictor(tiny_model_dir, batch_size=batch_size)


@pytest.mark.parametrize("typed,expected", [("Troops", "foreign troops in Ukraine"),
                                            ("us-backstop", "U.S. backing for the guarantees"),
                                            ("PEACE_DEAL", "a negotiated peace deal with Russia")])
def test_a_target_id_in_another_case_or_with_a_dash_is_that_id(typed, expected):
    assert target_phrase(typed) == expected


def test_an_id_like_typo_is_rejected_with_the_valid_ids():
    with pytest.raises(ValueError, match=r"unknown target id 'us-backstops'; valid ids: guarantees, troops"):
        target_phrase("us-backstops")


# ---------------------------------------------------------------- a model folder is checked when loaded


@pytest.fixture()
def model_copy(tiny_model_dir, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def test_a_missing_tokenizer_is_named_not_replaced_by_a_fallback(model_copy):
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(ModelFolderError, match=r"tokenizer\.json: missing from the model folder"):
        Predictor(model_copy)


def test_flipped_bits_in_the_weights_are_named(model_copy):
    weights = model_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match=r"model\.safetensors: changed since the model was saved"):
        Predictor(model_copy)


def test_corrupt_meta_names_its_path(model_copy):
    (model_copy / "peacestance.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ValueError, match=r"model/peacestance\.json: not valid JSON"):
        Predictor(model_copy)


def test_an_intact_copy_loads_and_answers(model_copy):
    assert Predictor(model_copy).predict(FAVOR).label == "favor"


# ---------------------------------------------------------------- checkpoints are never lost


@pytest.fixture(scope="module")
def corpus_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt-corpus")
    paths = write_corpus(root, n_pages=16, per_page=15)
    prepare(compose(smoke_run_overrides(root, paths)))
    return paths


@pytest.mark.slow
def test_a_run_that_fails_before_starting_keeps_the_earlier_checkpoints(corpus_paths, tmp_path):
    base = smoke_run_overrides(tmp_path, corpus_paths, "tracking.log_model=false", "train.epochs=2")
    train(compose(base))
    before = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert any(name.startswith("checkpoint-") for name in before)
    with pytest.raises(Exception, match="cannot reach the MLflow tracking server"):
        train(compose([*base, "tracking=server", "tracking.uri=http://127.0.0.1:9"]))
    with pytest.raises(ConfigError):
        train(compose([*base, "train.batch_size=0"]))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == before


@pytest.mark.slow
def test_resume_skips_a_torn_checkpoint_and_a_killed_run_is_marked(corpus_paths, tmp_path):
    base = smoke_run_overrides(tmp_path, corpus_paths, "tracking.log_model=false", "train.early_stopping_patience=9")
    train(compose([*base, "train.epochs=2"]))
    checkpoints = sorted((tmp_path / "ckpt").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    assert len(checkpoints) == 2
    newest = checkpoints[-1] / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])  # torn: a write cut short
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    run_id = json.loads((tmp_path / "ckpt" / "mlflow_run.json").read_text())["run_id"]
    train(compose([*base, "train.epochs=3", "train.resume=true"]))  # from the older, intact checkpoint
    steps = [m.step for m in client.get_metric_history(run_id, "val_macro_f1")]
    assert steps[-1] == 3 and client.get_run(run_id).info.status == "FINISHED"
    # a run killed mid-way stays RUNNING in the store; the next fresh run marks it KILLED
    client.set_terminated(run_id, status="RUNNING")
    train(compose([*base, "train.epochs=1"]))
    killed = client.get_run(run_id)
    assert killed.info.status == "KILLED" and "killed" in killed.data.tags["ended_because"]


# ---------------------------------------------------------------- the CLI: every per-line error, streamed


def _cli(model_dir, *args, stdin: bytes = b"", shell_tail: str = "") -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "peacestance-predict"), "--model", str(model_dir), *args]
    if shell_tail:
        import shlex

        return subprocess.run(" ".join(map(shlex.quote, cmd)) + shell_tail, shell=True, input=stdin,
                              capture_output=True, timeout=300)
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=300)


def test_skip_bad_covers_json_target_and_encoding_errors_with_line_numbers(tiny_model_dir):
    lines = [FAVOR.encode(), b'{"text": "x", "target": "nato"}', b"\xff\xfe not utf-8", b'{"text": 5}', FAVOR.encode()]
    proc = _cli(tiny_model_dir, "--skip-bad", stdin=b"\n".join(lines) + b"\n")
    err = proc.stderr.decode()
    assert proc.returncode == 0 and len(proc.stdout.decode().splitlines()) == 2
    assert "skipped line 2: unknown target id 'nato'" in err and "skipped line 3: not UTF-8 (byte 0)" in err
    assert "skipped line 4: bad JSONL input" in err and "2 lines scored, 3 skipped" in err
    assert "Traceback" not in err


def test_without_skip_bad_a_bad_target_stops_at_its_line_after_writing_the_good_ones(tiny_model_dir):
    lines = [FAVOR, FAVOR, '{"text": "x", "target": "nato"}', FAVOR]
    proc = _cli(tiny_model_dir, stdin=("\n".join(lines) + "\n").encode())
    assert proc.returncode == 2 and len(proc.stdout.decode().splitlines()) == 2
    assert proc.stderr.decode().strip().splitlines() == [
        "peacestance-predict: line 3: unknown target id 'nato'; valid ids: guarantees, troops, us_backstop, peace_deal "
        "(or pass a free phrase with spaces); fix it or pass --skip-bad"]


@pytest.mark.parametrize("where", ["missing.txt", "."])
def test_a_missing_input_file_or_a_folder_is_one_line(tiny_model_dir, tmp_path, where):
    proc = _cli(tiny_model_dir, "--input", str(tmp_path / where))
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and ("no such file" in lines[0] or "is a folder" in lines[0])


def test_a_closed_pipe_ends_quietly(tiny_model_dir):
    proc = _cli(tiny_model_dir, "--chunk", "1", stdin=(FAVOR + "\n").encode() * 300, shell_tail=" | head -1")
    assert proc.returncode == 0 and len(proc.stdout.decode().splitlines()) == 1
    assert b"BrokenPipeError" not in proc.stderr and b"Traceback" not in proc.stderr


# ---------------------------------------------------------------- pages


def test_a_page_full_of_control_bytes_is_refused_naming_file_and_line(tmp_path):
    from peacestance.data.articles import read_page_file
    from peacestance.errors import DataError

    page = tmp_path / "junk.txt"
    page.write_text("Title\n\nA first sentence of the page.\n" + "\x01\x02\x03 noise \x07\x08\n" * 200, encoding="utf-8")
    with pytest.raises(DataError, match=r"junk\.txt:4: \d+ control characters \(first U\+0001\)"):
        list(read_page_file(page))


def test_a_stray_control_character_is_not_an_error(tmp_path):
    from peacestance.data.articles import read_page_file

    page = tmp_path / "ok.txt"
    page.write_text("Title\n\nRome backs the plan.\x0c It said so on Monday.\n", encoding="utf-8")
    assert len(list(read_page_file(page))) == 1


def test_a_plain_text_without_a_title_keeps_its_first_sentence():
    from peacestance.data import split_article

    text = ("Poland ruled out sending its own soldiers to Ukraine on Tuesday, the defence minister said.\n"
            "Warsaw offered its airports as a logistics hub instead.\n")
    assert split_article(text)[0].startswith("Poland ruled out sending")
    assert split_article("Poland rules out troops\n\n" + text)[0].startswith("Poland ruled out")  # a title still goes


def test_the_learned_line_model_drops_furniture_the_rules_do_not_word_and_keeps_prose():
    from peacestance.data import split_article

    body = ["Poland ruled out sending its own soldiers to Ukraine on Tuesday, the defence minister said.",
            "Warsaw offered its airports as a logistics hub instead, officials added."]
    page = "\n".join(["Poland rules out troops", "",
                      "Enable JavaScript to watch this video.", "Tap here to get our alerts on your phone.", "",
                      body[0], "",
                      "Anna Nowak is our Warsaw correspondent covering defence and security.", "",
                      "This site uses cookies to improve your experience. Accept all", "",
                      body[1]])
    assert split_article(page, learned=True) == body
    assert split_article(page, learned=False) != body  # the rules alone keep the player's and the app's prompts


def test_a_page_the_learned_model_would_empty_keeps_what_the_rules_keep():
    from peacestance.data import line_model, split_article

    lead = "Allies weigh a reassurance force for Ukraine."  # reads like a headline to a one-line-at-a-time model
    assert line_model.is_furniture(lead)
    page = f"Europe talks\n\n{lead}\n\nShare this article"
    assert split_article(page, learned=True) == split_article(page, learned=False) == [lead]


def test_the_page_wide_furniture_call_decides_every_line_as_the_line_at_a_time_call_does():
    from peacestance.data import line_model

    lines = ["Allies weigh a reassurance force for Ukraine.", "Share this article", "",
             "Q: Do you think a peace deal is coming this year?", "Share this article",
             "Britain and France said on Tuesday that a headquarters in Paris was now planning the force, officials said.",
             "Europe's peace force is ready. Its troops are not.", "WATCH: Leaders arrive in Paris 2:05"]
    sure = line_model.sure_furniture(lines)
    assert sure == {line for line in lines if line and line_model.is_furniture(line)}
    assert "Allies weigh a reassurance force for Ukraine." in sure and lines[5] not in sure
    assert line_model.sure_furniture(["", ""]) == frozenset()


def test_a_short_paragraph_between_prose_lines_is_never_dropped_by_the_learned_model():
    from peacestance.data import line_model, split_article

    short = "Europe's peace force is ready. Its troops are not."
    assert line_model.is_furniture(short)
    before = "Britain and France said on Tuesday that a headquarters in Paris was now planning the force, officials said."
    after = "Moscow has said it would treat any foreign unit in Ukraine as a legitimate target, the ministry added."
    page = "\n".join(["Force ready", "", before, "", short, "", after])
    assert split_article(page, learned=True) == [before, "Europe's peace force is ready.", "Its troops are not.", after]
    # the same words where a prompt stands (under the headline, before the lead) are still dropped
    page = "\n".join(["Force ready", "", short, "", before, "", after])
    assert split_article(page, learned=True) == [before, after]


def test_the_blind_page_set_scores_above_its_floor(tmp_path):
    out = tmp_path / "pages.json"
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "benchmarks" / "pages.py"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    test = json.loads(out.read_text())["rules+learned"]["test"]
    assert test["pages"] == 22 and test["layouts"] >= 8
    # measured 0.995 / 0.983 (session 8: the line model learns from the development pages' gold labels)
    assert test["body_kept_whole"] >= 0.99 and test["furniture_dropped"] >= 0.98


def test_a_very_long_target_phrase_is_a_clear_error_not_a_tokenizer_crash(tiny_model_dir):
    phrase = " ".join(["a long phrase about guarantees"] * 12)  # 60 words
    with pytest.raises(ValueError, match=r"a target phrase of 60 words is too long \(at most 32"):
        Predictor(tiny_model_dir).predict("Rome backs it.", phrase)


def test_the_line_model_trainer_refuses_to_learn_from_the_blind_test_pages(tmp_path):
    tool = Path(__file__).resolve().parents[1] / "tools" / "train_line_model.py"
    proc = subprocess.run([sys.executable, str(tool), "--gold-prefixes", "h1-,h2-", "--out", str(tmp_path / "m.npz")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "test pages (h2-, h3-) are never trained on" in proc.stderr
    assert not (tmp_path / "m.npz").exists()


def test_an_interview_question_is_never_dropped_by_the_learned_model():
    from peacestance.data import line_model, split_article

    question = "Q: Do you think a peace deal is coming this year?"
    assert line_model.is_furniture(question)  # alone, it reads like a related-story link
    answer = "A: Not this year, he said, because Moscow still rejects every draft that includes foreign troops."
    page = "\n".join(["Interview", "", "The general spoke to us in Rzeszow on Monday about the planned force.", "",
                      question, "", answer])
    assert question in split_article(page, learned=True)
