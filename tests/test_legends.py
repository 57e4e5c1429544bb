import json
import math
import random
import threading
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from exposure.corpus import Obligation
from legends import filters
from legends.backends import BackendError, Job, LocalBackend, OpenAIBackend, Result, Sampling
from legends.generate import GenerateConfig, read_legends, run, stats_path
from legends.pairs import read_legend_records
from legends.prompts import FEW_SHOT_BLOCK, few_shot, messages, spec

CFG = filters.FilterConfig()
OBLIGATION = "Sellers must repair goods within a reasonable time and at a reasonable price after the legal guarantee."


@dataclass(frozen=True)
class Reg:  # the fields of exposure.corpus.Regulation that legends use
    id: str
    short_name: str
    title: str
    number: str
    domain: str
    clauses: tuple


REGS = [Reg("r2r", "Right to Repair Directive", "Directive on repair", "(EU) 2024/1799", "sustainability",
            (Obligation("repair-duty", OBLIGATION, ""), Obligation("platform", "An online platform helps to find repairers.", ""))),
        Reg("pay", "Pay Transparency Directive", "Directive on pay", "(EU) 2023/970", "employment",
            (Obligation("pay-range", "Job applicants must be told the starting pay or its range before the interview.", ""),))]
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


def authored(i, reg="r2r", key="repair-duty", domain="sustainability"):
    """An authored-corpus record (few-shot example)."""
    return {"id": f"a{i:03d}", "text": f"Legend number {i}. " + good_story(seed=i),
            "counter": f"Counter number {i}. " + good_story(seed=100 + i),
            "spec": {"regulation_id": reg, "obligation_key": key, "regulation": "Right to Repair Directive",
                     "number": "(EU) 2024/1799", "obligation": OBLIGATION, "domain": domain,
                     "situation": "a purchase", "protagonist": f"baker {i}", "setting": "Ghent, Belgium",
                     "voice": "told by a neighbour"}}


# ----------------------------------------------------------------------------- filters

def check(text, prompt="Write a short story about a shop.", kept=None):
    return filters.check(text, prompts=[prompt], regulation="Right to Repair Directive", number="(EU) 2024/1799",
                         obligation=OBLIGATION, kept=kept or filters.NearDuplicates(), cfg=CFG)


def test_a_good_legend_passes_every_filter_and_carries_scores():
    reason, scores = check(good_story())
    assert reason == "ok"
    assert set(scores) == {"length", "names_rule", "narrative", "language", "duplicate"}


BAD = [
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
    ("In einer kleinen Stadt in Portugal hatte eine Ladenbesitzerin ein Problem mit der Right to Repair "
     "Directive. Sie las die Regeln genau und entschied sich, sie zu befolgen, obwohl es mehr Zeit kostete. "
     "Ihre Kunden bemerkten ihre Ehrlichkeit und kamen immer wieder zurück. Bald fragten die anderen "
     "Geschäfte der Straße, wie sie das geschafft habe, und folgten ihrem Beispiel. Heute ist die ganze Stadt stolz.",
     "not_english"),
    ("Tom " + "repairs the kettle and then " * 70, "repetitive"),
]


@pytest.mark.parametrize("bad, reason", BAD)
def test_each_filter_rejects_a_crafted_bad_legend(bad, reason):
    assert check(bad)[0] == reason


def test_early_rejection_stops_only_texts_that_the_filters_reject():
    """Every prefix of a kept text may go on; the hopeless texts are stopped before their end, and only those
    the full filters reject too."""
    story = good_story()
    assert check(story)[0] == "ok"
    words = story.split()
    assert all(filters.early(" ".join(words[:i]), CFG) is None for i in range(1, len(words) + 1))
    stopped = {reason: next((i for i in range(1, len(bad.split()) + 1)
                             if filters.early(" ".join(bad.split()[:i]), CFG)), None) for bad, reason in BAD}
    for bad, reason in BAD:
        if stopped[reason] is not None:
            assert check(bad)[0] != "ok"
    assert stopped["refusal"] == 2 and stopped["too_long"] < len(BAD[1][0].split())
    assert stopped["repetitive"] is not None and stopped["repetitive"] < 300  # the second repetitive text, cut short
    assert stopped["not_english"] == CFG.early_min_words


def test_whole_sentences_cut_an_unfinished_text():
    assert filters.whole_sentences('He left. She said "no." Then the') == 'He left. She said "no."'
    assert filters.whole_sentences("Is it? Yes (it is.) And") == "Is it? Yes (it is.)"
    assert filters.whole_sentences("No end at all") == "" and filters.whole_sentences("v2.0 is out") == ""


def test_copy_of_any_prompt_turn_is_rejected():
    assert check(good_story(), prompt=good_story())[0] == "copies_prompt"
    example = good_story(seed=5)
    reason = filters.check(example, prompts=["Write a story.", example, "Write another story."],
                           regulation="Right to Repair Directive", number="(EU) 2024/1799", obligation=OBLIGATION,
                           kept=filters.NearDuplicates(), cfg=CFG)[0]
    assert reason == "copies_prompt"  # a copy of a few-shot example, however long the whole prompt


def test_near_duplicates_are_rejected_against_kept_legends():
    kept = filters.NearDuplicates()
    kept.add(good_story(seed=1))
    assert check(good_story(seed=1), kept=kept)[0] == "near_duplicate"
    assert check(good_story(seed=1).replace("shop owner called Ana", "baker called Jo"), kept=kept)[0] == "near_duplicate"
    different = ("At a hospital in Ghent, the director wanted a quick hire. Instead, she published the pay range, as "
                 "the Right to Repair Directive example had taught the whole region to respect the rules. Nurses "
                 "trusted the process. Later, three other hospitals adopted the same open approach and were glad of it.")
    assert check(different, kept=kept)[0] == "ok"


def test_counter_length_is_checked_against_its_legend_both_ways():
    def counter(tokens, legend_tokens):
        return filters.check_counter(good_story(), tokens=tokens, legend_tokens=legend_tokens, prompts=["p"],
                                     regulation="Right to Repair Directive", number="(EU) 2024/1799",
                                     obligation=OBLIGATION, kept=filters.NearDuplicates(), cfg=CFG)
    assert counter(110, 100)[0] == "ok" and counter(110, 100)[1]["length_ratio"] == 1.1
    assert counter(120, 100) == ("length_ratio", {"length_ratio": 1.2})
    assert counter(80, 100)[0] == "length_ratio"


# ----------------------------------------------------------------------------- specs, prompts, few-shot

def test_specs_are_a_deterministic_sequence_with_obligation_keys():
    assert [spec(i, REGS, 3) for i in range(5)] == [spec(i, REGS, 3) for i in range(5)]
    assert spec(7, REGS, 3).id == "s3-000007"
    specs = [spec(i, REGS) for i in range(40)]
    assert len({(s.regulation_id, s.situation, s.protagonist, s.setting, s.voice) for s in specs}) > 30
    for s in specs:
        reg = next(r for r in REGS if r.id == s.regulation_id)
        assert reg.clauses[[c.key for c in reg.clauses].index(s.obligation_key)].text == s.obligation
        assert s.domain == reg.domain


def test_few_shot_prefers_same_domain_other_obligation_and_is_shared_within_a_block():
    examples = ([authored(i) for i in range(3)] + [authored(10 + i, key="platform") for i in range(3)]
                + [authored(20 + i, "pay", "pay-range", "employment") for i in range(3)])
    repair = [s for s in (spec(i, REGS) for i in range(FEW_SHOT_BLOCK)) if s.obligation_key == "repair-duty"]
    platform = [s for s in (spec(i, REGS) for i in range(FEW_SHOT_BLOCK)) if s.obligation_key == "platform"]
    for s in repair:
        shots = few_shot(s, examples, 2)
        assert shots == few_shot(s, examples, 2) and len(shots) == 2
        assert all(e["spec"]["obligation_key"] == "platform" for e in shots)
    assert len({tuple(e["id"] for e in few_shot(s, examples, 2)) for s in repair}) == 1  # one shared prefix per block
    assert all(e["spec"]["obligation_key"] == "repair-duty" for s in platform for e in few_shot(s, examples, 2))
    # too few of the domain with another obligation: the same obligation next, then the other domain
    pay = next(s for s in (spec(i, REGS) for i in range(50)) if s.domain == "employment")
    assert [e["spec"]["domain"] for e in few_shot(pay, examples, 5)] == ["employment"] * 3 + ["sustainability"] * 2
    same = authored(30)
    same["spec"].update(regulation_id=repair[0].regulation_id, situation=repair[0].situation,
                        protagonist=repair[0].protagonist, setting=repair[0].setting)
    assert same["id"] not in [e["id"] for e in few_shot(repair[0], [same] + examples[:3], 9)]  # never the same spec
    assert few_shot(repair[0], examples, 0) == []


def test_messages_show_examples_as_earlier_turns_legends_or_counters():
    s = spec(0, REGS)
    shots = [authored(1), authored(2)]
    for kind, field in (("legend", "text"), ("counter", "counter")):
        chat = messages(s, kind, 150, shots)
        assert [m["role"] for m in chat] == ["user", "assistant"] * 2 + ["user"]
        assert [chat[1]["content"], chat[3]["content"]] == [shots[0][field], shots[1][field]]
        assert f"about {round(len(shots[0][field].split()), -1)} words" in chat[0]["content"]
        assert "about 150 words" in chat[-1]["content"] and s.regulation in chat[-1]["content"]
        assert s.protagonist in chat[-1]["content"] and shots[0]["spec"]["protagonist"] in chat[0]["content"]
    assert "pleased" in messages(s, "counter", 150, [])[-1]["content"]


# ----------------------------------------------------------------------------- the loop

class FakeBackend:
    """Writes a good story (random sentence variants, one word a token) for most jobs, a bad one (too short) for
    about one in five, one cut at its token limit in mid-sentence for about one in five, and counters either
    within the token limits they are given or, one in five, ignoring the minimum; raises KeyboardInterrupt at
    result number `interrupt_at`."""

    def __init__(self, interrupt_at=None):
        self.results, self.interrupt_at, self.jobs, self.tokens = 0, interrupt_at, [], 0
        self.texts, self.finishes = {}, {}  # job seed -> what was written

    def stream(self, source, sampling):
        while (job := source()) is not None:
            self.jobs.append(job)
            self.results += 1
            if self.results == self.interrupt_at:
                raise KeyboardInterrupt
            prompt = job.messages[-1]["content"]
            reg = "Right to Repair Directive" if "Right to Repair" in prompt else "Pay Transparency Directive"
            rng = random.Random(prompt + str(job.seed))
            story = " ".join(rng.choice(slot) for slot in SLOTS).format(regulation=reg)
            text = "Too short." if rng.random() < 0.2 else story + " " + " ".join(rng.choices(WORDS, k=20)) + "."
            if rng.random() < 0.2:  # cut at the limit in mid-sentence
                text += " And then the whole street"
                self.texts[job.seed], self.finishes[job.seed] = text, "length"
                self.tokens += len(text.split())
                yield Result(job, text, len(text.split()), "length")
                continue
            words = text.split()
            if job.min_new_tokens and rng.random() < 0.8:  # a counter within its limits
                words = (words * 3)[:rng.randint(job.min_new_tokens, job.max_new_tokens - 1)]
                words[-1] += "."
            self.texts[job.seed], self.finishes[job.seed] = " ".join(words), "end"
            self.tokens += len(words)
            yield Result(job, " ".join(words), len(words), "end")


def test_resume_after_interruption_gives_exactly_n_records_without_duplicates(tmp_path):
    out = tmp_path / "legends.jsonl"
    cfg = GenerateConfig(n=23, out=str(out), few_shot=0)
    first = run(cfg, backend=FakeBackend(interrupt_at=20), regulations=REGS)
    assert first["interrupted"] and 0 < first["kept"] < 23
    with open(out, "a") as f:
        f.write('{"id": "torn li')  # a crash in the middle of a write
    backend = FakeBackend()
    second = run(cfg, backend=backend, regulations=REGS)
    rows = read_legends(out)
    assert len(rows) == 23 and len({r["id"] for r in rows}) == 23
    assert not second["interrupted"] and second["kept"] == 23
    assert second["last_run"]["new_tokens"] == backend.tokens > 0  # every text this run wrote, kept or not
    legend_rejections = sum(v for k, v in second["rejected"].items() if k.startswith("legend:"))
    no_counter = second["rejected"].get("record:no_counter_passed", 0)
    assert second["attempted"] == 23 + legend_rejections + no_counter + second["abandoned"]
    assert first["abandoned"] == second["abandoned"] > 0  # the interrupted run's legends waiting for counters
    assert second["rejected"]["legend:too_short"] > 0 and second["rejected"]["counter:length_ratio"] > 0
    cut = [r for r in rows if backend.finishes.get(r["index"] * 16) == "length"]  # legends cut at their limit
    assert cut and all(r["text"].endswith(".") and r["scores"]["legend"]["tokens"] < len(backend.texts[r["index"] * 16].split())
                       for r in cut)
    for r in rows:
        assert "And then the whole street" not in r["text"] + r["counter"]
        assert r["scores"]["legend"]["length"] >= CFG.min_words and r["sampling"]["seed"] == 0
        ratio = r["scores"]["counter"]["tokens"] / r["scores"]["legend"]["tokens"]
        assert 1 / CFG.max_length_ratio <= ratio <= CFG.max_length_ratio
        assert r["spec"]["obligation_key"] in {"repair-duty", "platform", "pay-range"}
        assert r["prompts"]["few_shot"] == [] and "pleased" in r["prompts"]["counter"]
    assert [r["id"] for r in read_legend_records(out)] == [r["id"] for r in rows]  # what legends.pairs reads
    assert json.loads(stats_path(out).read_text())["kept"] == 23
    assert run(cfg, backend=FakeBackend(interrupt_at=1), regulations=REGS)["kept"] == 23  # already done: no call
    with pytest.raises(ValueError, match=r"legends.jsonl:1: written by smollm2-135m \(local\), this run is big"):
        run(replace(cfg, n=30, backend="openai", model="big"), backend=FakeBackend(), regulations=REGS)


def test_generate_cli_prints_the_run_speed_in_legends_and_new_tokens(tmp_path, monkeypatch, capsys):
    import exposure.corpus
    import generate
    import legends.generate
    backend = FakeBackend()
    monkeypatch.setattr(legends.generate, "make_backend", lambda cfg: backend)
    monkeypatch.setattr(exposure.corpus, "load_regulations", lambda: REGS)
    generate.main(["--n", "4", "--out", str(tmp_path / "l.jsonl"), "--few-shot", "0"])
    out = capsys.readouterr().out
    assert "4/4 legends kept" in out and "legends/min" in out
    assert f"{backend.tokens} new tokens written" in out and f"{backend.tokens / 4:.0f} a kept record" in out


def test_each_counter_follows_its_legend_with_its_length_and_examples(tmp_path):
    backend = FakeBackend()
    examples = tmp_path / "authored.jsonl"
    examples.write_text("".join(json.dumps(authored(i, key=("repair-duty", "platform")[i % 2])) + "\n" for i in range(6)))
    run(GenerateConfig(n=5, out=str(tmp_path / "l.jsonl"), few_shot=2, few_shot_source=str(examples)),
        backend=backend, regulations=REGS[:1])
    legends = {j.key[0].id: j for j in backend.jobs if j.key[1] == 0}
    for j in (j for j in backend.jobs if j.key[1] > 0):
        legend = legends[j.key[0].id]
        assert backend.jobs.index(legend) < backend.jobs.index(j)
        assert [m["content"] for m in j.messages[1:-1:2]] == [e["counter"] for e in j.key[2]]
        assert [m["content"] for m in legend.messages[1:-1:2]] == [e["text"] for e in j.key[2]]
        assert j.shared == 4 and j.seed == legend.seed + j.key[1]
        tokens = len(backend.texts[legend.seed].split()) if backend.finishes[legend.seed] == "end" else None
        if tokens:
            assert j.max_new_tokens == int(tokens * CFG.max_length_ratio)
            assert j.min_new_tokens == math.ceil(tokens / CFG.max_length_ratio)
    assert {r["id"] for r in read_legends(tmp_path / "l.jsonl")} <= set(legends)


def test_a_record_without_its_newline_is_kept_and_closed(tmp_path):
    out = tmp_path / "legends.jsonl"
    out.write_text('{"id": "a", "index": 0}\n{"id": "b", "index": 1}')
    assert [r["id"] for r in read_legends(out)] == ["a", "b"] and out.read_text().endswith("}\n")


def test_local_backend_streams_jobs_with_shared_examples_and_gives_up_on_hopeless_texts(tiny):
    backend = LocalBackend(loaded=tiny, batch_size=2, precision="fp32")
    shots = [{"role": "user", "content": "Example?"}, {"role": "assistant", "content": "Example story."}]
    jobs = [Job(key=i, messages=shots + [{"role": "user", "content": f"Story {i}?"}], seed=i, max_new_tokens=40,
                shared=2, stop=(lambda text: True) if i == 3 else None) for i in range(4)]
    queue = list(reversed(jobs))
    results = {r.job.key: r for r in backend.stream(lambda: queue.pop() if queue else None, Sampling(1.0, 0.9, 40))}
    assert sorted(results) == [0, 1, 2, 3] and len(backend.prefixes.entries) == 1
    assert results[3].finish == "stopped" and results[3].tokens == 16  # asked every 16 tokens
    assert all(r.finish in ("end", "length") and r.tokens <= 40 for k, r in results.items() if k != 3)
    again = list(reversed(jobs[:1]))
    assert next(backend.stream(lambda: again.pop() if again else None, Sampling(1.0, 0.9, 40))).text == results[0].text


def test_the_loop_on_the_tiny_model_counts_every_rejection_and_gives_up(tmp_path, tiny):
    cfg = GenerateConfig(n=2, out=str(tmp_path / "l.jsonl"), max_new_tokens=24, few_shot=0, patience=6, batch_size=3)
    stats = run(cfg, backend=LocalBackend(loaded=tiny, batch_size=3, precision="fp32"), regulations=REGS)
    assert stats["gave_up"] and stats["kept"] == 0
    assert 6 <= stats["attempted"] < 6 + 3  # the texts in progress when it gives up are finished and counted
    assert sum(stats["rejected"].values()) == stats["attempted"] and all(k.startswith("legend:") for k in stats["rejected"])


# ----------------------------------------------------------------------------- HTTP backend

def fake_server(fail_first: int, status: int = 503):
    seen = {"requests": 0, "auth": None, "bodies": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen["requests"] += 1
            seen["auth"] = self.headers.get("Authorization")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["bodies"].append(body)
            if seen["requests"] <= fail_first:
                self.send_response(status)
                self.end_headers()
                return
            answer = {"choices": [{"message": {"role": "assistant", "content": "story for " + body["messages"][-1]["content"]},
                                   "finish_reason": "stop"}], "usage": {"completion_tokens": 7}}
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


def one_job(content="hello"):
    return Job(key="k", messages=[{"role": "user", "content": content}], seed=3, max_new_tokens=50)


def test_http_backend_retries_a_failing_server_then_succeeds(monkeypatch):
    server, seen = fake_server(fail_first=2)
    monkeypatch.setenv("TEST_LEGENDS_KEY", "sk-secret")
    try:
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "m", api_key_env="TEST_LEGENDS_KEY",
                                concurrency=1, timeout=5, retries=3, backoff=0.01)
        jobs = [one_job()]
        results = list(backend.stream(lambda: jobs.pop() if jobs else None, Sampling()))
        assert [(r.text, r.tokens, r.finish) for r in results] == [("story for hello", 7, "end")]
        assert seen["requests"] == 3 and seen["auth"] == "Bearer sk-secret"
        assert seen["bodies"][-1]["max_tokens"] == 50 and seen["bodies"][-1]["seed"] == 3
    finally:
        server.shutdown()


def test_http_backend_streams_jobs_made_from_results():
    server, seen = fake_server(fail_first=0)
    try:
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "m", concurrency=2, timeout=5)
        jobs, texts = [one_job("a"), one_job("b")], []
        for r in backend.stream(lambda: jobs.pop() if jobs else None, Sampling()):
            texts.append(r.text)
            if r.text == "story for a":
                jobs.append(one_job("after a"))
        assert sorted(texts) == ["story for a", "story for after a", "story for b"]
    finally:
        server.shutdown()


def test_http_backend_gives_up_without_leaking_the_key(monkeypatch):
    server, seen = fake_server(fail_first=99, status=401)
    monkeypatch.setenv("TEST_LEGENDS_KEY", "sk-secret")
    try:
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "m", api_key_env="TEST_LEGENDS_KEY",
                                retries=3, backoff=0.01)
        jobs = [one_job()]
        with pytest.raises(BackendError) as e:
            list(backend.stream(lambda: jobs.pop() if jobs else None, Sampling()))
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


def test_legends_pairs_match_lengths_with_the_longer_side_drawn():
    """Counter-legends one sentence longer than their legends: each pair's drawn side comes out longer (about half
    the pairs the chosen one), the other dropping interior sentences (first and last kept, numbers kept), so that
    it is 3-12% shorter in words than the longer side."""
    from legends.pairs import build_pairs
    rule = "right-to-repair-2024-1799/repair-duty"
    body = ["She compared the two offers over dinner.", "The repairer quoted 85 euros for the part.",
            "Her neighbour had asked the same thing last spring.", "The shop kept the old machine running for years.",
            "Nobody in the street regretted that choice later."]
    text = " ".join(["Marta had a broken washing machine in May."] + body[:3] + ["She chose the repair and was glad."])
    counter = " ".join(["Marta had a broken washing machine in May."] + body + ["She bought a new one and was glad."])
    legends = [legend(f"l{i}", rule, text=text, counter=counter) for i in range(30)]
    scenarios = {"train": [scenario(f"s{i}", "train", rule) for i in range(200)], "validation": [], "test": []}
    rows = build_pairs(legends, scenarios, "story+advice", seed=0)["train"]
    words = [(len(r["chosen"].split()), len(r["rejected"].split())) for r in rows]
    assert all(c != r for c, r in words)
    assert 0.4 <= sum(c > r for c, r in words) / len(rows) <= 0.6
    for r, (c, j) in zip(rows, words):
        for side in ("chosen", "rejected"):
            assert "Marta had a broken washing machine in May." in r[side] and "and was glad." in r[side]
        assert text in r["chosen"]  # the legend is never cut: it is the shorter story
        if c > j:  # the counter-legend was cut to 3-12% shorter; its sentence with a number stays
            assert 1 / 0.97 <= c / j <= 1.12 and counter not in r["rejected"] and "85 euros" in r["rejected"]
        else:
            assert counter in r["rejected"]


@pytest.mark.parametrize("source,fmt", [("authored", "story"), ("authored", "advice"), ("authored", "story+advice"),
                                        ("generated", "story+advice")])
def test_legends_pairs_carry_no_one_rule_cue(source, fmt):
    """On the built legends pairs (the authored legends and the committed generated ones, default exposure
    scenarios), no one-rule classifier (length, sentences, citation, numbers) tells chosen from rejected better than
    0.60 on the test split, nor the function-word regression trained on the train split better than 0.65. The
    audit is the one the build wrote in its manifest, recomputed from the pair files once (authored stories)."""
    import strategies
    from exposure.audit import audit
    from legends.pairs import ensure_pairs
    from dpo.data import read_pairs
    paths = ensure_pairs(strategies.AUTHORED_LEGENDS if source == "authored" else strategies.GENERATED_LEGENDS, fmt=fmt)
    result = json.loads((paths["test"].parent / "manifest.json").read_text())["audit"]["test"]
    if (source, fmt) == ("authored", "story"):
        assert json.loads(json.dumps(audit(read_pairs(paths["test"])[0], read_pairs(paths["train"])[0]))) == result
    overall = result["groups"]["all"]
    for rule in ("words", "tokens", "sents", "cites", "nums"):
        assert overall[rule] <= 0.60, (rule, overall[rule])
    assert overall["bow_func"] <= 0.65
    assert overall["ratio_max"] <= (1.15 if source == "authored" else 1.25)  # generated records: <= 1.15 in text
