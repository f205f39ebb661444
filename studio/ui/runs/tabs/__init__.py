"""The tabs of an opened run (Overview, Metrics, Images, Tables, Child runs, Outputs + logs, Snapshot)."""
