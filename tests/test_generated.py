"""smtpcore/_sync/ is generated from smtpcore/_async/; a stale copy fails here."""

from __future__ import annotations

from smtpcore._tools import unasync


def test_sync_code_is_generated_and_fresh() -> None:
    generated = unasync.generate()
    assert generated, "nothing generated"
    for path, text in generated.items():
        assert path.exists(), f"{path} missing: run python -m smtpcore._tools.unasync"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python -m smtpcore._tools.unasync"
        )


def test_generated_code_has_no_async_left() -> None:
    for path, text in unasync.generate().items():
        body = text.split("\n", 1)[1]
        words = ("async def", "await ", "AsyncStream", "__aenter__", "import asyncio", "asyncio.")
        for word in words:
            assert word not in body, f"{word!r} left in {path.name}"
