"""An opened run: the run page, its Overview and editing, and its tabs (runs/tabs)."""
