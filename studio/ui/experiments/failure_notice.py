"""FailureNotice: what the Experiments pane shows when a workspace cannot be opened or listed.

A bold line saying what failed ("Could not open 127.0.0.1:5000"), the sentence the backend gave, and what the
user can do about it: Retry, "Sign in…" when the server refused the credentials, and Dismiss when a workspace is
open behind it. The pane shows it as a page of its own (the tree has nothing to show) or as a banner above the
tree (the experiments shown stay usable).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

ERROR_COLOUR = "#d9363e"


@dataclass(frozen=True)
class Failure:
    """What failed, shown until the work it names succeeds (or the user dismisses it)."""

    key: str
    """What failed: ``"open"`` (opening a workspace) or ``"experiments"`` (listing them); a success of the same
    work clears it."""
    title: str
    """One short line: "Could not open 127.0.0.1:5000"."""
    message: str
    """The readable sentence (never a traceback)."""
    sign_in: bool = False
    """Offer "Sign in…": the server refused the credentials, or asked for some."""


class FailureNotice(QFrame):
    """The sentence and the buttons; ``centered`` lays it out as an empty state, else as a banner."""

    sig_retry = Signal()
    """Retry was pressed."""
    sig_sign_in = Signal()
    """Sign in… was pressed."""
    sig_dismissed = Signal()
    """Dismiss was pressed (the notice hides itself first)."""

    def __init__(self, centered: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failurePage" if centered else "failureBanner")
        self.failure: Failure | None = None
        self.title = QLabel(self)
        self.title.setObjectName("failureTitle")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.message = QLabel(self)
        self.message.setObjectName("failureMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # a server's text is not markup
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = self._button("Retry", "failureRetry", self.sig_retry)
        self.sign_in_button = self._button("Sign in…", "failureSignIn", self.sig_sign_in)
        self.dismiss_button: QAbstractButton
        layout = QVBoxLayout(self)
        if centered:
            self._centered_layout(layout)
        else:
            self._banner_layout(layout)

    def _centered_layout(self, layout: QVBoxLayout) -> None:
        """An empty state: the text and the buttons in a column (narrow panes keep their width)."""
        dismiss = self._button("Dismiss", "failureDismiss", self._dismiss)
        dismiss.setFlat(True)
        self.dismiss_button = dismiss
        for label in (self.title, self.message):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addSpacing(4)
        for button in (self.retry_button, self.sign_in_button, self.dismiss_button):
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def _banner_layout(self, layout: QVBoxLayout) -> None:
        """A banner above the tree, framed in the error colour: the content below still looks normal."""
        dismiss = QToolButton(self)
        dismiss.setObjectName("failureDismiss")
        dismiss.setText("\N{MULTIPLICATION SIGN}")  # a close mark
        dismiss.setToolTip("Dismiss")
        dismiss.setAutoRaise(True)
        dismiss.clicked.connect(self._dismiss)
        self.dismiss_button = dismiss
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(f"#failureBanner {{ border: 1px solid {ERROR_COLOUR}; border-radius: 4px; }}")
        layout.setContentsMargins(8, 4, 4, 6)
        layout.setSpacing(4)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.sign_in_button)
        buttons.addStretch(1)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def show_failure(self, failure: Failure, dismissable: bool) -> None:
        """Show ``failure`` with Retry (and Sign in… if it offers it; Dismiss if ``dismissable``)."""
        self.failure = failure
        self.title.setText(failure.title)
        self.title.setStyleSheet(f"color: {ERROR_COLOUR}")
        self.message.setText(failure.message)
        self.message.show()
        self.retry_button.setVisible(True)
        self.sign_in_button.setVisible(failure.sign_in)
        self.dismiss_button.setVisible(dismissable)
        self._set_enabled(True)

    def show_busy(self, text: str) -> None:
        """Say what is being tried again ("Opening 127.0.0.1:5000…"); the buttons wait for its outcome."""
        self.title.setText(text)
        self.title.setStyleSheet("")
        if self.failure is None:
            self.message.hide()
            for button in (self.retry_button, self.sign_in_button, self.dismiss_button):
                button.hide()
        self._set_enabled(False)

    @property
    def busy(self) -> bool:
        """True while what failed is being tried again."""
        return not self.retry_button.isEnabled()

    def _set_enabled(self, enabled: bool) -> None:
        for button in (self.retry_button, self.sign_in_button):
            button.setEnabled(enabled)

    def _dismiss(self) -> None:
        self.failure = None
        self.hide()
        self.sig_dismissed.emit()
