"""The return file: one zip of `manifest.json` (provider, period, members, and each
file's rows and sha256) and one CSV per dataset. Rows are carried as the text they were
read as, so consolidation changes nothing in them; the same inputs give the same bytes."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics_cli import __version__
from metrics_cli.errors import UsageError
from metrics_cli.files import atomic_path, csv_bytes
from metrics_cli.returns.datasets import DATASETS_BY_NAME, slice_columns
from metrics_cli.returns.membership import Quarter, parse_quarter

RETURN_FORMAT = "nbhd-return"


RETURN_VERSION = 1


MANIFEST = "manifest.json"


ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    path: Path
    provider: str
    quarter: Quarter
    content_sha256: str
    frames: Mapping[str, pl.DataFrame]
    data: bytes


class Refusal(Exception):
    """A return that cannot be merged, with the reason in one sentence."""


def write_bundle(
    out: Path,
    provider: str,
    quarter: Quarter,
    neighbourhoods: list[str],
    practices: list[str],
    frames: Mapping[str, pl.DataFrame],
) -> None:
    """The zip: one CSV per dataset and the manifest; the same inputs give the same bytes."""
    files: dict[str, bytes] = {}
    entries: dict[str, dict[str, object]] = {}
    for name in sorted(frames):
        data = csv_bytes(frames[name])
        files[f"{name}.csv"] = data
        entries[name] = {
            "file": f"{name}.csv",
            "rows": frames[name].height,
            "sha256": sha256(data),
        }
    manifest = {
        "format": RETURN_FORMAT,
        "version": RETURN_VERSION,
        "provider": provider,
        "period": quarter.label,
        "period_start": quarter.start.isoformat(),
        "period_end": quarter.end.isoformat(),
        "neighbourhoods": neighbourhoods,
        "practices": practices,
        "datasets": entries,
        "content_sha256": content_digest(entries),
        "written_by": f"nbhd {__version__}",
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary, zipfile.ZipFile(temporary, "w") as bundle:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, files[name])


def open_bundle(path: Path) -> Bundle:
    """A return file read and checked against its manifest's checksums."""
    data = path.read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise Refusal("not a return file (it is not a zip written by `nbhd submit`)") from error
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise Refusal("not a return file: it has no manifest.json")
        try:
            manifest = json.loads(archive.read(MANIFEST))
            provider = str(manifest["provider"])
            quarter = parse_quarter(str(manifest["period"]))
            entries: dict[str, dict[str, object]] = manifest["datasets"]
            declared = str(manifest["content_sha256"])
        except (ValueError, KeyError, TypeError, UsageError) as error:
            raise Refusal(f"the manifest cannot be read: {error}") from error
        if manifest.get("format") != RETURN_FORMAT or manifest.get("version") != RETURN_VERSION:
            raise Refusal(f"not a version {RETURN_VERSION} {RETURN_FORMAT} file")
        unknown = sorted(set(entries) - set(DATASETS_BY_NAME))
        if unknown:
            raise Refusal(f"it carries datasets a return cannot hold: {', '.join(unknown)}")
        extra = sorted(names - {MANIFEST} - {str(entry["file"]) for entry in entries.values()})
        if extra:
            raise Refusal(f"it holds files its manifest does not list: {', '.join(extra)}")
        frames: dict[str, pl.DataFrame] = {}
        for name, entry in sorted(entries.items()):
            member = str(entry["file"])
            if member not in names:
                raise Refusal(f"{member} is listed in the manifest but missing")
            content = archive.read(member)
            if sha256(content) != entry["sha256"]:
                raise Refusal(f"{member} does not match its checksum: the file was changed")
            frame = (
                pl.read_csv(io.BytesIO(content), infer_schema=False) if content else pl.DataFrame()
            )
            lacking = [c for c in slice_columns(DATASETS_BY_NAME[name]) if c not in frame.columns]
            if lacking:
                raise Refusal(f"{member} lacks column(s) {', '.join(lacking)}")
            if frame.height != entry["rows"]:
                raise Refusal(
                    f"{member} holds {frame.height} rows, the manifest says {entry['rows']}"
                )
            frames[name] = frame
    if content_digest(entries) != declared:
        raise Refusal("the manifest's content checksum does not match its files")
    return Bundle(path, provider, quarter, declared, frames, data)


def content_digest(entries: Mapping[str, Mapping[str, object]]) -> str:
    lines = "".join(f"{name}:{entries[name]['sha256']}\n" for name in sorted(entries))
    return sha256(lines.encode("utf-8"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
