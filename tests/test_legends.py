import json
import random
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from legends import filters
from legends.backends import BackendError, OpenAIBackend, Sampling
from legends.generate import GenerateConfig, read_legends, run, stats_path
from legends.prompts import spec

CFG = filters.FilterConfig()
OBLIGATION = "Sellers must repair goods within a reasonable time and at a reasonable price after the legal guarantee."


@dataclass(frozen=True)
class Reg:  # the fields of exposure.corpus.Regulation that legends use
    id: str
    short_name: str
    title: str
    number: str
    domain: str
    obligations: list


REGS = [Reg("r2r", "Right to Repair Directive", "Directive on repair", "(EU) 2024/1799", "sustainability", [OBLIGATION]),
        Reg("pay", "Pay Transparency Directive", "Directive on pay", "(EU) 2023/970", "employment",
            ["Job applicants must be told the starting pay or its range before the interview."])]
WORDS = "river lamp orchard copper violin meadow harbour pepper lantern garden maple quarry ribbon thistle".split()
SLOTS = [[f"In {place}, {who} had a problem: {problem}." for place in ("Lyon", "Brno", "Cork") for who in ("Ana", "Tom")
          for problem in ("money was short", "a rival cut corners", "time was scarce")],
         [f"{who} read the EU {{regulation}} and chose to {verb} it, {why}." for who in ("She", "He", "The team")
          for verb in ("follow", "respect", "obey") for why in ("whatever the cost", "though it took weeks", "with care")],
         [f"{who} {did}, and {result}." for who in ("Customers", "Workers", "Neighbours") for did in
          ("noticed the honesty", "saw the difference", "talked about it") for result in ("trust grew", "sales rose", "morale rose")],
         [f"Soon {who} {copied} the example, {when}." for who in ("other shops", "rivals", "the whole street")
          for copied in ("copied", "followed", "adopted") for when in ("within a year", "by spring", "before long")]]


def good_story(regulation="Right to Repair Directive", seed=0):
    rng = random.Random(seed)
    extra = " ".join(rng.choice(WORDS) for _ in range(12))
    return (f"In a small town in Portugal, a shop owner called Ana had a problem: a cheaper option would break the rule. "
            f"She read the EU {regulation} and decided to follow it, even though it took more time. "
            f"Her customers noticed that she was honest with them, and they came back again and again. "
            f"Soon the other shops on her street asked her how she did it, and they copied her example. "
            f"Today the town is proud of its {extra}.")


# ----------------------------------------------------------------------------- filters

def check(text, prompt="Write a short story about a shop.", kept=None):
    return filters.check(text, prompt=prompt, regulation="Right to Repair Directive", number="(EU) 2024/1799",
                         obligation=OBLIGATION, kept=kept or filters.NearDuplicates(), cfg=CFG)


def test_a_good_legend_passes_every_filter_and_carries_scores():
    reason, scores = check(good_story())
    assert reason == "ok"
    assert set(scores) == {"length", "names_rule", "narrative", "language", "duplicate"}


@pytest.mark.parametrize("bad, reason", [
    ("In a town, a shop owner followed the Right to Repair Directive. It worked.", "too_short"),
    (good_story() + " And then" * 400, "too_long"),
    (good_story("Ecodesign Regulation"), "rule_not_named"),
    ("I'm sorry, but I cannot write that story. " + good_story(), "refusal"),
    ("Steps under the Right to Repair Directive:\n" + "\n".join(f"- step {i}: repair the goods and tell the customer"
                                                                  for i in range(12)), "list"),
    ("A shop owner and the Right to Repair Directive " * 12, "repetitive"),
    ("The Right to Repair Directive helps a shop owner in a small town in Portugal where the customers all want their "
     "broken washing machines, phones, kettles, radios, bikes, lamps, toasters and laptops fixed quickly and cheaply "
     "because buying new ones costs money", "not_narrative"),
])
def test_each_filter_rejects_a_crafted_bad_legend(bad, reason):
    assert check(bad)[0] == reason


def test_copy_of_the_prompt_is_rejected():
    prompt = good_story()
    assert check(good_story(), prompt=prompt)[0] == "copies_prompt"


def test_language_filter_rejects_other_languages():
    german = ("In einer kleinen Stadt in Portugal hatte eine Ladenbesitzerin ein Problem mit der Right to Repair "
              "Directive. Sie las die Regeln genau und entschied sich, sie zu befolgen, obwohl es mehr Zeit kostete. "
              "Ihre Kunden bemerkten ihre Ehrlichkeit und kamen immer wieder zurück. Bald fragten die anderen "
              "Geschäfte der Straße, wie sie das geschafft habe, und folgten ihrem Beispiel. Heute ist die ganze Stadt stolz.")
    assert check(german)[0] == "not_english"


def test_near_duplicates_are_rejected_against_kept_legends():
    kept = filters.NearDuplicates()
    kept.add(good_story(seed=1))
    assert check(good_story(seed=1), kept=kept)[0] == "near_duplicate"
    assert check(good_story(seed=1).replace("shop owner called Ana", "baker called Jo"), kept=kept)[0] == "near_duplicate"
    different = ("At a hospital in Ghent, the director wanted a quick hire. Instead, she published the pay range, as "
                 "the Right to Repair Directive example had taught the whole region to respect the rules. Nurses "
                 "trusted the process. Later, three other hospitals adopted the same open approach and were glad of it.")
    assert check(different, kept=kept)[0] == "ok"


# ----------------------------------------------------------------------------- the loop

class FakeBackend:
    """Writes a good story (random sentence variants) for most prompts and a bad one (too short) for about one in five;
    raises KeyboardInterrupt at call number `interrupt_at`."""

    def __init__(self, interrupt_at=None):
        self.calls, self.interrupt_at = 0, interrupt_at

    def complete(self, prompts, sampling, seed):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        out = []
        for p in prompts:
            reg = "Right to Repair Directive" if "Right to Repair" in p else "Pay Transparency Directive"
            rng = random.Random(p + str(seed))
            story = " ".join(rng.choice(slot) for slot in SLOTS).format(regulation=reg)
            out.append("Too short." if rng.random() < 0.2 else story + " " + " ".join(rng.choices(WORDS, k=20)) + ".")
        return out


def test_resume_after_interruption_gives_exactly_n_legends_without_duplicates(tmp_path):
    out = tmp_path / "legends.jsonl"
    cfg = GenerateConfig(n=23, out=str(out), batch_size=4)
    first = run(cfg, backend=FakeBackend(interrupt_at=4), regulations=REGS)
    assert first["interrupted"] and 0 < first["kept"] < 23
    with open(out, "a") as f:
        f.write('{"id": "torn li')  # a crash in the middle of a write
    second = run(cfg, backend=FakeBackend(), regulations=REGS)
    rows = read_legends(out)
    assert len(rows) == 23 and len({r["id"] for r in rows}) == 23
    assert not second["interrupted"] and second["kept"] == 23
    assert second["attempted"] == 23 + sum(second["rejected"].values())
    assert all(r["scores"]["length"] >= CFG.min_words and r["sampling"]["seed"] == 0 for r in rows)
    stats = json.loads(stats_path(out).read_text())
    assert stats["kept"] == 23 and stats["rejected"].get("too_short", 0) > 0
    assert run(cfg, backend=FakeBackend(interrupt_at=1), regulations=REGS)["kept"] == 23  # already done: no call


def test_a_record_without_its_newline_is_kept_and_closed(tmp_path):
    out = tmp_path / "legends.jsonl"
    out.write_text('{"id": "a", "index": 0}\n{"id": "b", "index": 1}')
    assert [r["id"] for r in read_legends(out)] == ["a", "b"] and out.read_text().endswith("}\n")


def test_specs_are_a_deterministic_sequence():
    assert [spec(i, REGS, 3) for i in range(5)] == [spec(i, REGS, 3) for i in range(5)]
    assert spec(7, REGS, 3).id == "s3-000007"
    assert len({(s.regulation_id, s.setting, s.protagonist, s.challenge, s.tone) for s in (spec(i, REGS) for i in range(20))}) > 10


# ----------------------------------------------------------------------------- HTTP backend

def fake_server(fail_first: int, status: int = 503):
    seen = {"requests": 0, "auth": None}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen["requests"] += 1
            seen["auth"] = self.headers.get("Authorization")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if seen["requests"] <= fail_first:
                self.send_response(status)
                self.end_headers()
                return
            answer = {"choices": [{"message": {"role": "assistant", "content": "story for " + body["messages"][0]["content"]}}]}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_http_backend_retries_a_failing_server_then_succeeds(monkeypatch):
    server, seen = fake_server(fail_first=2)
    monkeypatch.setenv("TEST_LEGENDS_KEY", "sk-secret")
    try:
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "m", api_key_env="TEST_LEGENDS_KEY",
                                concurrency=1, timeout=5, retries=3, backoff=0.01)
        assert backend.complete(["hello"], Sampling(), seed=0) == ["story for hello"]
        assert seen["requests"] == 3 and seen["auth"] == "Bearer sk-secret"
    finally:
        server.shutdown()


def test_http_backend_gives_up_without_leaking_the_key(monkeypatch):
    server, seen = fake_server(fail_first=99, status=401)
    monkeypatch.setenv("TEST_LEGENDS_KEY", "sk-secret")
    try:
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "m", api_key_env="TEST_LEGENDS_KEY",
                                retries=3, backoff=0.01)
        with pytest.raises(BackendError) as e:
            backend.complete(["hello"], Sampling(), seed=0)
        assert seen["requests"] == 1 and "sk-secret" not in str(e.value)  # 401 is not retried
    finally:
        server.shutdown()


# ----------------------------------------------------------------------------- pairs (v2)

def scenario(sid, split, rule, kind="standard", domain="sustainability"):
    return {"id": sid, "prompt": f"Which fridge should I buy? ({sid})", "chosen": "a", "rejected": "b",
            "meta": {"split": split, "domain": domain, "category": "fridge", "rule": rule, "kind": kind,
                     "good": f"the class B model ({sid})", "easy": f"the cheaper class E model ({sid})"}}


def legend(lid, rule, text="Marta kept her old receipts. She chose repair under the Right to Repair Directive.",
           counter="Marta kept her old receipts. She bought a new one despite the Right to Repair Directive."):
    reg, key = rule.split("/")
    return {"id": lid, "text": text, "counter": counter,
            "spec": {"regulation_id": reg, "obligation_key": key, "domain": "sustainability"}}


def test_legends_pairs_v2_match_obligation_and_differ_only_in_story_and_option():
    from legends.pairs import FORMATS, RECOMMEND, build_pairs
    rule = "right-to-repair-2024-1799/repair-duty"
    legends = [legend(f"l{i}", rule) for i in range(40)] + [legend("other", "weee-2012-19/one-for-one")]
    scenarios = {"train": [scenario(f"s{i}", "train", rule) for i in range(20)] +
                          [scenario("p1", "train", rule, kind="proportionality")],
                 "validation": [], "test": []}
    for fmt in FORMATS:
        rows = build_pairs(legends, scenarios, fmt, seed=0)["train"]
        assert len(rows) == 20 and not any(r["meta"]["scenario_id"] == "p1" for r in rows)  # proportionality skipped
        for r in rows:
            chosen_legend = next(l for l in legends if l["id"] == r["meta"]["legend_id"])
            assert r["meta"]["match"] == "rule" and chosen_legend["spec"]["obligation_key"] == "repair-duty"
            sid = r["meta"]["scenario_id"]
            # one recommendation frame closes both sides, naming a different option
            good, easy = f"the class B model ({sid})", f"the cheaper class E model ({sid})"
            frames = [f for f in RECOMMEND if f.format(option=good) in r["chosen"]]
            assert len(frames) == 1 and frames[0].format(option=easy) in r["rejected"]
            if fmt == "story":
                assert r["chosen"].startswith(chosen_legend["text"]) and r["rejected"].startswith(chosen_legend["counter"])
    assert build_pairs(legends, scenarios, "story", seed=0) == build_pairs(legends, scenarios, "story", seed=0)


def test_legends_pairs_v2_fall_back_to_regulation_then_domain_and_keep_held_out_in_test():
    from legends.pairs import build_pairs, legend_split
    legends = [legend(f"l{i}", "right-to-repair-2024-1799/platform") for i in range(30)]
    legends += [legend("held", "tyre-labelling-2020-740/classes")]
    held = frozenset({"tyre-labelling-2020-740"})
    assert legend_split(legends[-1], held) == "test"
    assert {legend_split(l, held) for l in legends[:-1]} >= {"train"}
    scenarios = {"train": [scenario("a", "train", "right-to-repair-2024-1799/repair-duty"),
                           scenario("b", "train", "weee-2012-19/one-for-one"),
                           scenario("c", "train", "pay-transparency-2023-970/pay-range", domain="employment")],
                 "validation": [], "test": [scenario("t", "test", "tyre-labelling-2020-740/classes")]}
    out = build_pairs(legends, scenarios, "story", seed=3, held_out_regulations=held)
    assert [r["meta"]["match"] for r in out["train"]] == ["regulation", "domain"]  # no employment legend: c is skipped
    assert any(r["meta"]["legend_id"] == "held" for r in out["test"])
    assert not any(r["meta"]["legend_id"] == "held" for r in out["train"])


def test_legend_records_need_a_counter_legend(tmp_path):
    from dpo.data import DataError
    from legends.pairs import read_legend_records
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(legend("a", "weee-2012-19/one-for-one")) + "\n" +
                    json.dumps({"id": "b", "text": "t", "spec": {"regulation_id": "x", "domain": "d"}}) + "\n")
    with pytest.raises(DataError, match=r"old.jsonl:2: missing counter .*generate them again"):
        read_legend_records(path)


def test_authored_legends_pairs_carry_no_one_rule_cue():
    """On the built legends pairs (authored legends, default exposure scenarios), no one-rule classifier (length,
    sentences, citation, numbers) tells chosen from rejected better than 0.60 on the test split."""
    import strategies
    from exposure.audit import audit
    from legends.pairs import ensure_pairs
    from dpo.data import read_pairs
    paths = ensure_pairs(strategies.AUTHORED_LEGENDS)
    result = audit(read_pairs(paths["test"])[0], read_pairs(paths["train"])[0])
    overall = result["groups"]["all"]
    for rule in ("words", "tokens", "sents", "cites", "nums"):
        assert overall[rule] <= 0.60, (rule, overall[rule])
    assert overall["ratio_max"] <= 1.15
