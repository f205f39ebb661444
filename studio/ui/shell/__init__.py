"""The window itself: the application, main window, settings, theme, resources and single-instance hand-over."""
