"""`nbhd publish`: disclosure-controlled open files from the warehouse (docs/publication.md).

One job a module: `reading` (what is read from the warehouse, through
`metrics_cli.warehouse`), `tables` (the published layout and files), `dictionary` (the data
dictionary), `changes` (what changed since the last publication), `manifest` (file names
and the manifest) and `run` (the command: all of them in order, written all or nothing).
"""

from metrics_cli.publish.reading import disclosure_settings
from metrics_cli.publish.run import publish

__all__ = ["disclosure_settings", "publish"]
