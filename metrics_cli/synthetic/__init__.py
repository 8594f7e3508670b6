"""The pieces of the synthetic data generator; `metrics_cli.generate` is the entry point."""
