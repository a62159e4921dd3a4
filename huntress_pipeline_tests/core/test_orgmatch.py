"""Spec: nameMatch.test.ts."""

from huntress_pipeline.core.orgmatch import find_exact_name_match, normalize_org_name


def test_lowercases_strips_punctuation_collapses_whitespace():
    assert normalize_org_name(" Acme, Inc. ") == "acme inc"
    assert normalize_org_name("ACME-INC") == "acme inc"
    assert normalize_org_name("O'Brien & Sons LLC") == "obrien sons llc"


def test_returns_empty_string_for_empty_whitespace_input():
    assert normalize_org_name("") == ""
    assert normalize_org_name("   ") == ""


def test_folds_accents_and_typographic_apostrophes():
    assert normalize_org_name("Caf\u00e9 M\u00fcller") == "cafe muller"
    assert normalize_org_name("O\u2019Brien") == "obrien"


CLIENTS = [
    {"client_id": "c1", "client_name": "Acme, Inc."},
    {"client_id": "c2", "client_name": "Globex"},
    {"client_id": "c3", "client_name": "globex"},
]


def test_returns_the_client_id_on_a_unique_normalized_match():
    assert find_exact_name_match("ACME INC", CLIENTS) == "c1"


def test_returns_none_when_no_client_matches():
    assert find_exact_name_match("Initech", CLIENTS) is None


def test_returns_none_when_the_match_is_ambiguous():
    assert find_exact_name_match("Globex", CLIENTS) is None


def test_returns_none_for_empty_org_names():
    assert find_exact_name_match("", CLIENTS) is None
    assert find_exact_name_match("...", [{"client_id": "x", "client_name": "!!!"}]) is None
