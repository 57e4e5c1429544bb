"""evaluate.py end to end on the tiny model: a suite of every kind, the base and one adapter, the report."""
import json

import pytest
import torch

from dpo.data import PreferencePair, write_jsonl, write_pairs
from dpo.lora import LoRAConfig, inject_lora, lora_layers, save_adapter
from dpo.models import load_model
from eval.report import lookup
from evaluate import main


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def suite_rows():
    rows = [{"id": f"c{i}", "kind": "compliance", "domain": "energy", "prompt": f"Which boiler for site {i}?",
             "options": ["A heat pump.", "The cheapest gas boiler."], "answer": 0, "held_out": i % 2 == 1} for i in range(4)]
    rows += [{"id": "f1", "kind": "fact", "domain": "energy", "prompt": "What does the Ecodesign rule cover?",
              "options": ["Energy use of products.", "Football."], "answer": 0},
             {"id": "r1", "kind": "rigidity", "domain": "office", "prompt": "We need one pencil today.",
              "options": ["Buy the pencil at the corner shop.", "Run a tender."], "answer": 0}]
    rows += [{"id": f"b{g}", "kind": "bias", "domain": "hiring", "prompt": f"{name} applies with ten years of experience.",
              "options": ["Invite to interview.", "Reject."], "answer": 0, "pair": "p1", "group": g}
             for g, name in (("man", "Tom"), ("woman", "Anna"))]
    rows += [{"id": f"o{i}", "kind": "open", "domain": "energy", "prompt": f"Advise site {i} on heating.", "options": [],
              "answer": -1, "meta": {"keywords": ["heat pump"]}} for i in range(2)]
    return rows


def test_evaluate_base_and_adapter_writes_report(tmp_path):
    write_jsonl(tmp_path / "suite.jsonl", suite_rows())
    write_pairs(tmp_path / "test.jsonl", [PreferencePair("Which boiler?", "A heat pump.", "The cheapest gas boiler.")] * 3)
    model, _ = load_model("tiny-random")
    inject_lora(model, LoRAConfig(r=2, alpha=4))
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.weight.normal_(0, 0.3)
    save_adapter(model, tmp_path / "run-a" / "adapter", "tiny-random")
    out = tmp_path / "report"
    main(["--model", "tiny-random", "--suite", str(tmp_path / "suite.jsonl"), "--runs", str(tmp_path / "run-*"),
          "--test-pairs", f"exposure={tmp_path / 'test.jsonl'}", "--out", str(out), "--max-new-tokens", "8",
          "--precision", "fp32"])
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["base", "run-a"]
    assert results["items"] == {"bias": 2, "compliance": 4, "fact": 1, "open": 2, "rigidity": 1}
    base, run = results["models"]["base"], results["models"]["run-a"]
    assert base["drift"]["kl"] == 0.0 and run["drift"]["kl"] > 0 and "heldout" not in base
    assert run["heldout"]["exposure"]["pairs"] == 3 and len(run["answers"]) == 2
    for m in (base, run):
        assert 0 <= lookup(m, ("choice", "mean", "compliance", "accuracy_held_out"))["value"] <= 1
        assert lookup(m, ("bias", "sum", "pair_gap"))["n"] == 1
    report = (out / "report.md").read_text()
    assert "| base |" in report and "| run-a |" in report and "compliance held-out" in report
    assert "open judge" not in report  # no --judge-url: the column is left out
    for png in ("metrics.png", "compliance.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reports_a_malformed_suite(tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text(json.dumps(dict(suite_rows()[0], answer=5)) + "\n")
    with pytest.raises(SystemExit, match=r"bad\.jsonl:1: field 'answer'"):
        main(["--model", "tiny-random", "--suite", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "r")])

