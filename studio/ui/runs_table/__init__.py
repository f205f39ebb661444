"""The runs table: an experiment's runs with chosen metric, param, tag and property columns."""
