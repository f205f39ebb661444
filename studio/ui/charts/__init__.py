"""Plot widgets: the metric chart (one run or many) and its helpers."""
