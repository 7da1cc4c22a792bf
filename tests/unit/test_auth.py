"""Passwords (argon2id) and bearer tokens: pure functions."""

from __future__ import annotations

import hashlib
import re

import pytest

from jiesu.units import auth

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def hashed() -> str:
    return auth.hash_password(PASSWORD)  # ~50 ms: hash once for the module


def test_hash_is_argon2id(hashed):
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed


def test_verify_accepts_the_password(hashed):
    assert auth.verify_password(hashed, PASSWORD) is True


@pytest.mark.parametrize("wrong", ["", "correct horse battery ", "Correct horse battery", "correct horse"])
def test_verify_rejects_another_password(hashed, wrong):
    assert auth.verify_password(hashed, wrong) is False


@pytest.mark.parametrize("garbage", [
    "", "garbage", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=65536,t=3,p=4$abc$def",
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$", PASSWORD,
])
def test_verify_on_a_garbage_hash_is_false_not_an_error(garbage):
    assert auth.verify_password(garbage, PASSWORD) is False


def test_hashes_are_salted(hashed):
    again = auth.hash_password(PASSWORD)
    assert again != hashed
    assert auth.verify_password(again, PASSWORD)


def test_fresh_hash_needs_no_rehash(hashed):
    assert auth.needs_rehash(hashed) is False


def test_dummy_hash_is_a_real_argon2id_hash_that_matches_nothing_likely():
    assert auth.DUMMY_HASH.startswith("$argon2id$")
    assert auth.verify_password(auth.DUMMY_HASH, PASSWORD) is False


def test_tokens_have_the_prefix_and_enough_randomness():
    token = auth.new_token()
    assert token.startswith(auth.TOKEN_PREFIX)
    assert auth.TOKEN_PREFIX == "jsu_"
    body = token[len(auth.TOKEN_PREFIX):]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body)  # 32 random bytes, url-safe base64


def test_tokens_are_unique():
    tokens = {auth.new_token() for _ in range(500)}
    assert len(tokens) == 500


def test_digest_is_sha256_hex():
    # The SHA-256 test vector from FIPS 180-2.
    assert auth.token_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = auth.new_token()
    digest = auth.token_digest(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == hashlib.sha256(token.encode()).hexdigest()


def test_digest_is_stable_and_tells_tokens_apart():
    token = auth.new_token()
    assert auth.token_digest(token) == auth.token_digest(token)
    assert auth.token_digest(token) != auth.token_digest(auth.new_token())
    assert token not in auth.token_digest(token)
