"""Label progress lines move with every answered request, not only when a whole chunk of items finishes."""

from corpusforge.cli.label import LineProgress


def test_each_answered_request_shows_in_the_line():
    lines: list[str] = []
    progress = LineProgress(lines.append, total=100)
    progress.wave("300 requests", 300)
    for _ in range(120):
        progress.request_done()
    line = progress.heartbeat.line()
    progress.close()
    assert "wave of 300 requests, 120/300 done" in line and "0/100 items" in line
