"""The Experiments pane: the lazy experiment / run tree, its rows and its filter."""
