"""The Compute pane: compute instances, their states and actions."""
