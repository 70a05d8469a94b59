"""peacestance-predict end to end: files, stdin, formats, pages, bad lines."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from peacestance.predict import cli

FAVOR = "Paris strongly supports security guarantees for Kyiv."
AGAINST = "Rome firmly opposes a European troop deployment."


class _Stdin(io.StringIO):
    """Text stdin with the byte stream the CLI reads (sys.stdin.buffer)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.buffer = io.BytesIO(text.encode("utf-8"))


def run_cli(args, monkeypatch, capsys, stdin=""):
    monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    code = cli(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plain_and_jsonl_lines_from_a_file(tiny_model_dir, tmp_path, monkeypatch, capsys):
    path = tmp_path / "in.txt"
    path.write_text(f"{FAVOR}\n\n" + json.dumps({"text": AGAINST, "target": "troops"}) + "\n", encoding="utf-8")
    code, out, _ = run_cli(["--model", str(tiny_model_dir), "--input", str(path)], monkeypatch, capsys)
    rows = [json.loads(l) for l in out.splitlines()]
    assert code == 0
    assert [(r["text"], r["target"], r["label"]) for r in rows] == [(FAVOR, "guarantees", "favor"), (AGAINST, "troops", "against")]
    assert all(abs(sum(r["scores"].values()) - 1) < 1e-4 for r in rows)


def test_csv_and_table_formats(tiny_model_dir, monkeypatch, capsys):
    code, out, _ = run_cli(["--model", str(tiny_model_dir), "--format", "csv"], monkeypatch, capsys, stdin=FAVOR + "\n")
    assert code == 0 and out.splitlines()[0] == "text,target,label,favor,against,neutral"
    code, out, _ = run_cli(["--model", str(tiny_model_dir), "--format", "table", "--target", "troops"],
                           monkeypatch, capsys, stdin=AGAINST + "\n")
    assert code == 0 and out.startswith("against") and "troops" in out


def test_malformed_jsonl_line_stops_with_its_number(tiny_model_dir, monkeypatch, capsys):
    stdin = f"{FAVOR}\n" + '{"text": "broken"\n'
    code, out, err = run_cli(["--model", str(tiny_model_dir)], monkeypatch, capsys, stdin=stdin)
    assert code == 2 and err.strip().endswith("line 2: bad JSONL input (Expecting ',' delimiter); fix it or pass --skip-bad")
    assert len(out.splitlines()) == 1  # the line before the bad one was scored and written


def test_skip_bad_reports_and_goes_on(tiny_model_dir, monkeypatch, capsys):
    stdin = '{"text": 5}\n' + f"{FAVOR}\n"
    code, out, err = run_cli(["--model", str(tiny_model_dir), "--skip-bad"], monkeypatch, capsys, stdin=stdin)
    assert code == 0 and len(out.splitlines()) == 1
    assert "skipped line 1" in err


def test_unknown_target_exits_2_with_valid_ids(tiny_model_dir, monkeypatch, capsys):
    code, _, err = run_cli(["--model", str(tiny_model_dir), "--target", "nato"], monkeypatch, capsys, stdin=FAVOR)
    assert code == 2 and "valid ids: guarantees, troops, us_backstop, peace_deal" in err


def test_missing_model_exits_2(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(["--model", str(tmp_path / "none")], monkeypatch, capsys, stdin=FAVOR)
    assert code == 2 and "no peacestance model found" in err


def test_article_mode_on_a_page_with_furniture(tiny_model_dir, tmp_path, monkeypatch, capsys):
    page = tmp_path / "page.md"
    page.write_text(f"Skip to content\n# Title\nBy A Reporter\n\n{FAVOR} {AGAINST}\n\nPhoto: AFP\n#Ukraine\n", encoding="utf-8")
    code, out, _ = run_cli(["--model", str(tiny_model_dir), "--article", "--input", str(page)], monkeypatch, capsys)
    report = json.loads(out)
    assert code == 0 and report["sentences"] == 2 and set(report["summary"]) == {"guarantees", "troops", "us_backstop", "peace_deal"}


def test_console_script_reads_stdin(tiny_model_dir):
    proc = subprocess.run([sys.executable, "-m", "peacestance.predict", "--model", str(tiny_model_dir), "--target", "troops"],
                          input=AGAINST + "\n", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert json.loads(proc.stdout)["label"] == "against"
