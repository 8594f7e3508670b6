"""Consolidated returns: `nbhd submit` writes an at-scale provider's return for a quarter
(`submit`), `nbhd consolidate` merges returns into the ICB's input directory
(`consolidate`) and records which return supplies each slice (`ledger`). `datasets` says
which input datasets a return carries, `membership` who returns what, `bundle` the file.
docs/maturity.md has the rules."""
