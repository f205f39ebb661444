"""Work off the GUI thread: the task runner, its status-bar widget, the notifier, live refresh and memory policy."""
