"""Test hooks loaded into every Python process started with tests/hooks on PYTHONPATH
(the CLI and any worker processes it spawns). Each is off unless its variable is set.

UNSEEN_TEST_NO_NETWORK=LOG: an audit hook refuses every socket operation and appends the
    event name to LOG, so a test can check that unseen never even tried.
UNSEEN_TEST_SLOW_ENCODE=MARKER: image encoding adds a line with its pid to MARKER, then sleeps, holding the
    run inside a write so a test can interrupt it there.
UNSEEN_TEST_SLOW_VIDEO=MARKER: the same for video, at the 11th frame written.
"""

from __future__ import annotations

import os
import sys
import time

_log = os.environ.get("UNSEEN_TEST_NO_NETWORK")
if _log:

    def _no_network(event: str, args: tuple) -> None:
        if event.startswith("socket.") and event != "socket.sethostname":
            with open(_log, "a", encoding="utf-8") as f:
                f.write(f"{os.getpid()} {event} {args!r:.200}\n")
            raise OSError(f"network blocked by the test: {event}")

    sys.addaudithook(_no_network)

_marker = os.environ.get("UNSEEN_TEST_SLOW_ENCODE")
if _marker:
    import unseen.media.image as _image

    _encode = _image.encode

    def _slow_encode(*args, **kwargs):  # type: ignore[no-untyped-def]
        with open(_marker, "a", encoding="utf-8") as f:
            f.write(f"encoding {os.getpid()}\n")
        time.sleep(60)
        return _encode(*args, **kwargs)

    _image.encode = _slow_encode

_video_marker = os.environ.get("UNSEEN_TEST_SLOW_VIDEO")
if _video_marker:
    import unseen.media.video as _video

    _frame = _video.Writer.frame

    def _slow_frame(self, picture, source, index):  # type: ignore[no-untyped-def]
        if index == 10:  # well inside the one-pass run: detection is ahead, encoding under way
            with open(_video_marker, "a", encoding="utf-8") as f:
                f.write(f"encoding {os.getpid()}\n")
            time.sleep(60)
        return _frame(self, picture, source, index)

    _video.Writer.frame = _slow_frame
