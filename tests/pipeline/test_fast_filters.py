"""The fast English path (issue 13) decides exactly as datatrove's own steps: word split, Gopher quality and
repetition, MinHash signatures; and recipes select either implementation."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.utils.text import TextNormConfig
from datatrove.utils.text import simplify_text as datatrove_simplify
from datatrove.utils.word_tokenizers import load_word_tokenizer

from corpusforge.pipeline.readers.pubmed import PubMedXMLReader
from corpusforge.pipeline.steps.filters import GopherQuality, GopherRepetition
from corpusforge.pipeline.steps.minhash import FastMinhashDedupSignature, simplify_text
from corpusforge.pipeline.steps.words import WordSplitter, split_words

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "data" / "real"
STAGE1_QUALITY = {"min_doc_words": 30, "min_stop_words": 2, "max_non_alpha_words_ratio": 0.6}


def edge_cases() -> list[str]:
    """Texts that hit every rule and the word splitter's corners."""
    rng = random.Random(13)
    base = "The patients were treated with insulin and metformin for type 2 diabetes in the clinic."
    words = base.split()
    cases = [
        "",
        " ",
        "a",
        "# # # ... … the of",
        "- one\n- two\n- three\n• four",
        "Line one...\nLine two...\nLine three…",
        "don't can't won't U.S. e.g. i.e. Dr. St. (p<0.05) 95%CI 1.2-3.4 CD4+ H2O mg/kg 10(-8) well-known",
        "https://example.org/a?b=c user@example.com :) ;-) $5 5$ 3km 20°C C++ IS_ALPHA",
        "Ärzte naïve café Ångström ΔΨm β-blockers 中文 text ＦＵＬＬ　ｗｉｄｔｈ",
        "ab c d e f g h i j k l a bc d e f g h i j k l",  # equal "".join windows from different words
        "\n\n".join([base] * 4),  # duplicate paragraphs
        "\n".join([base, base, "Another line of text for the patients."]),
        " ".join(words * 6),
        " ".join(rng.choice(words) for _ in range(400)),
    ]
    for _ in range(40):
        k = rng.randint(2, 8)
        cases.append(" ".join(words[:5] + words[3 : 3 + k] * rng.randint(2, 5) + words[5:]))
    return cases


def sample_texts() -> list[str]:
    """The fixed sample: bundled PubMed and book samples plus the edge cases; real files too when present."""
    texts = [d.text for d in PubMedXMLReader(path=str(REPO / "data/samples/pubmed"), source="pubmed").run()]
    for path in sorted((REPO / "data/samples/books").rglob("*.*")):
        book = path.read_text(encoding="utf-8", errors="replace")
        texts += [book[i : i + 1500] for i in range(0, len(book), 1500)]
    return texts + edge_cases()


def real_texts() -> list[str]:
    if not REAL.is_dir():
        pytest.skip("../shared/data/real is not here")
    texts = []
    for line in (REAL / "pubmed" / "bc5cdr_train.jsonl").read_text(encoding="utf-8").splitlines()[:300]:
        row = json.loads(line)
        texts.append(f"{row['title']}\n\n{row['abstract']}")
    for path in sorted((REAL / "books").glob("*.txt")) + sorted((REAL / "pmc_jats").glob("*.xml"))[:2]:
        text = path.read_text(encoding="utf-8", errors="replace")[:120_000]
        texts += [text[i : i + 3000] for i in range(0, len(text), 3000)]
    return texts


def decisions(step, texts: list[str]) -> list:
    out = []
    for i, text in enumerate(texts):
        try:
            out.append(step.filter(Document(text=text, id=str(i))))
        except ZeroDivisionError:  # datatrove's quality rules divide by the word count even when it is 0
            out.append("ZeroDivisionError")
    return out


def assert_same_decisions(texts: list[str], all_settings: bool = True) -> None:
    pairs = [
        (GopherQuality(**STAGE1_QUALITY), GopherQualityFilter(**STAGE1_QUALITY)),
        (GopherRepetition(), GopherRepetitionFilter()),
    ]
    if all_settings:
        no_minimum = {"min_doc_words": None, "min_stop_words": 0}
        pairs += [
            (GopherQuality(**no_minimum), GopherQualityFilter(**no_minimum)),
            (GopherQuality(), GopherQualityFilter()),
        ]
    for fast, reference in pairs:
        got, want = decisions(fast, texts), decisions(reference, texts)
        differ = [(texts[i][:60], g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not differ, f"{type(fast).__name__}: {len(differ)}/{len(texts)} differ, e.g. {differ[:3]}"
        assert len({str(d) for d in want}) > 1  # the sample exercises more than one outcome


def test_word_split_is_datatrove_s_token_for_token():
    reference = load_word_tokenizer("en")
    splitter = WordSplitter("en", max_chunks=500)  # small: the cache starts over several times
    texts = sample_texts()
    for text in texts + [datatrove_simplify(t) for t in texts]:
        assert splitter(text) == reference.word_tokenize(text), text[:80]
    assert splitter.misses > 500


def test_no_english_affix_rule_splits_a_chunk_of_ascii_letters():
    """WordSplitter keeps a new chunk of ASCII letters whole without asking spaCy: every 1-3 letter string and the
    words of the sample must give spaCy's prefix, suffix and infix expressions nothing to split off."""
    from itertools import product
    from string import ascii_letters

    tokenizer = WordSplitter("en").nlp.tokenizer
    chunks = {"".join(p) for k in (1, 2, 3) for p in product(ascii_letters, repeat=k)}
    chunks |= {w for t in sample_texts() for w in t.split() if w.isascii() and w.isalpha()}
    for chunk in chunks:
        assert not tokenizer.prefix_search(chunk), chunk
        assert not tokenizer.suffix_search(chunk), chunk
        assert next(tokenizer.infix_finditer(chunk), None) is None, chunk
    special = [c for c in ("cannot", "Cannot", "gonna", "lemme") if c in tokenizer.rules]
    assert special and all(WordSplitter("en")(c) == load_word_tokenizer("en").word_tokenize(c) for c in special)


def test_composed_chunks_are_spacy_s_tokens():
    """`composed` (hyphenated letters, letters with "(" and a closing mark) against spaCy's English tokenizer on
    every such shape around all 1-2 letter words, special cases ("Dr.", "vs.", "e.") and sample words."""
    from itertools import product
    from string import ascii_letters

    from corpusforge.pipeline.steps.words import composed

    splitter = WordSplitter("en")
    tokenizer = splitter.nlp.tokenizer
    rules = frozenset(tokenizer.rules)
    words = {"".join(p) for k in (1, 2) for p in product(ascii_letters, repeat=k)}
    words |= {w.strip(".,;:()[]") for t in sample_texts() for w in t.split()}
    words |= {r.rstrip(".") for r in rules if r.rstrip(".").isalpha()}
    words = sorted(w for w in words if w.isascii() and w.isalpha())
    chunks = [f"{o}{w}{c}" for w in words for o, c in product(("", "("), ("", ")", ",", ";", ":", "]", "."))]
    rng = random.Random(7)
    chunks += ["-".join(rng.choices(words, k=rng.randint(2, 4))) for _ in range(20_000)]
    chunks = [c for c in chunks if composed(c, rules) is not None]
    assert len(chunks) > 40_000
    for chunk, tokens in zip(chunks, splitter._spacy(chunks)):
        assert composed(chunk, rules) == tuple(tokens), chunk
    assert splitter("dose-response (CRP) trials,") == ["dose", "-", "response", "(", "CRP", ")", "trials", ","]
    assert splitter._compose is True  # its own check against spaCy passed, so it is used


def test_gopher_filters_decide_as_datatrove_on_the_fixed_sample():
    assert_same_decisions(sample_texts())


def test_gopher_filters_decide_as_datatrove_on_real_text():
    texts = real_texts()
    reference = load_word_tokenizer("en")
    assert all(split_words(t) == reference.word_tokenize(t) for t in texts)
    assert_same_decisions(texts, all_settings=False)


def test_top_ngram_bound_never_undercounts():
    from corpusforge import polyhash
    from corpusforge.pipeline.steps.gopher import top_ngram_bound, top_ngram_chars, word_codes, word_ids_and_offsets

    def bound(words, n):
        ids, offsets = word_ids_and_offsets(word_codes(words))
        return top_ngram_bound(polyhash.prefix_sums(ids), offsets, n)

    checked = 0
    for text in sample_texts():
        words = split_words(text)
        for n in (2, 3, 4):
            if len(words) >= n:
                assert bound(words, n) >= top_ngram_chars(words, n), (text[:60], n)
                checked += 1
    assert checked > 100
    words = "a b a b a b c".split()  # "a b" 3 times, and the longest 2-gram has 3 characters: tight
    assert bound(words, 2) == top_ngram_chars(words, 2) == 9


def test_minhash_signature_files_are_datatrove_s(tmp_path):
    texts = sample_texts()
    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1235)
    assert all(simplify_text(t, TextNormConfig()) == datatrove_simplify(t) for t in texts)
    rng = random.Random(3)
    pieces = [" ", " ", "\t", "\n", "\u3000", "\x1c", "\x85", "Monday", "day", "May", "x", "1,5", "é"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        assert simplify_text(text, TextNormConfig()) == datatrove_simplify(text), repr(text)
    for name, cls in (("fast", FastMinhashDedupSignature), ("datatrove", MinhashDedupSignature)):
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        cls(str(tmp_path / name), config, language="eng").run(iter(docs))
    fast_files = sorted((tmp_path / "fast").rglob("*.sig"))
    assert len(fast_files) == 14
    for path in fast_files:
        other = tmp_path / "datatrove" / path.relative_to(tmp_path / "fast")
        assert path.read_bytes() == other.read_bytes() and path.stat().st_size > 0
    fast = FastMinhashDedupSignature(str(tmp_path / "x"), config)
    reference = MinhashDedupSignature(str(tmp_path / "x"), config)
    shingles = np.random.default_rng(0).integers(0, 2**64 - 1, size=(500, 1), dtype=np.uint64)
    assert fast.get_signature(shingles) == reference.get_signature(shingles)


def test_recipes_select_the_implementation(tmp_path):
    from corpusforge.builder.plan import make_plan
    from corpusforge.builder.recipe import load_recipe
    from corpusforge.errors import ConfigError

    assert GopherQuality.Params(type="filter.gopher_quality").implementation == "fast"
    assert GopherRepetition.Params(type="filter.gopher_repetition", implementation="datatrove")
    with pytest.raises(Exception, match="implementation"):
        GopherQuality.Params(type="filter.gopher_quality", implementation="regex")
    reference = GopherQuality(implementation="datatrove")
    reference.fast_filter = None  # would fail if the datatrove path called it
    assert reference.filter(Document(text="The cat sat on the mat with the dog. " * 10, id="1")) is True

    recipe = tmp_path / "r.yaml"
    for implementation, expected in (("fast", FastMinhashDedupSignature), ("datatrove", MinhashDedupSignature)):
        recipe.write_text(
            "name: t\noutput: {path: " + str(tmp_path / "out") + "}\n"
            "sources: {p: {reader: {type: read.pubmed_xml, path: " + str(REPO / "data/samples/pubmed") + "}}}\n"
            "dedup: {minhash: {implementation: " + implementation + "}}\n"
        )
        plan = make_plan(load_recipe(recipe))
        stage = next(s for s in plan.stages if s.name == "dedup/minhash-signatures")
        assert type(stage.build()[-1]) is expected
    recipe.write_text(recipe.read_text().replace("implementation: datatrove", "implementation: spacy"))
    with pytest.raises(ConfigError):
        load_recipe(recipe)


def test_bad_characters_counts_whitespace_and_letters_as_str_methods_do():
    from corpusforge.pipeline.steps.filters import _count_spaces_and_letters

    texts = [chr(c) for c in range(256)] + [
        "".join(map(chr, range(128))),
        *sample_texts()[:50],
        "Ärzte\u00a0 x\u3000",
    ]
    for text in texts:
        assert _count_spaces_and_letters(text) == (sum(map(str.isspace, text)), sum(map(str.isalpha, text)))
