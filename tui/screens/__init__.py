"""The screens of the vidsum TUI, one module per screen."""
