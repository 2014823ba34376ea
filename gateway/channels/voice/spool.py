"""The spool folder shared with Asterisk, and how each side names a file in it.

``incoming/`` holds ``<uniqueid>.meta`` and ``<uniqueid>.wav`` written by the dialplan;
``done/`` what the gateway committed; ``dropped/`` short or silent recordings when the
config says to drop them; ``answers/`` the WAV files the gateway synthesised for Asterisk
to play.  Asterisk may mount the folder elsewhere (``voice.asterisk_spool_dir``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gateway.core.config import Config

SUBFOLDERS = ("incoming", "done", "dropped", "answers")


@dataclass(frozen=True, slots=True)
class SpoolPaths:
    """The gateway's view (``root``) and Asterisk's view (``asterisk_root``) of the spool."""

    root: Path
    asterisk_root: PurePosixPath

    @classmethod
    def from_config(cls, config: Config) -> SpoolPaths:
        root = config.path(config.voice.spool_dir)
        return cls(root, PurePosixPath(config.voice.asterisk_spool_dir or str(root)))

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def dropped(self) -> Path:
        return self.root / "dropped"

    @property
    def answers(self) -> Path:
        return self.root / "answers"

    def create(self) -> None:
        for name in SUBFOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def for_asterisk(self, path: Path) -> str:
        """A spool file as Asterisk's Playback() wants it: its path, without the extension."""
        rel = path.relative_to(self.root).with_suffix("")
        return str(self.asterisk_root / PurePosixPath(*rel.parts))
