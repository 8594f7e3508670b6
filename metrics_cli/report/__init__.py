"""Board reports: the output side of `nbhd report`, one job a module.

- `views`: the plain data a report prints (dataclasses the templates read);
- `text`: how numbers and judgements are written (formatting, labels);
- `figures`: reading the marts through `metrics_cli.warehouse` into views;
- `sections`: headline tables, cohorts, inequalities, benchmarking, maturity, data quality,
  and the whole report;
- `key_messages`: the executive summary's sentences and their references;
- `charts`: inline SVG charts;
- `html` and `pdf`: the templates rendered, and the tagged PDF;
- `run`: the command, one report or all of them in parallel.

docs/architecture.md ("Python modules") says which module may import which.
"""
