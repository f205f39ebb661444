"""The device-code panel of the sign-in dialog: the code to type, where to type it, and how long it holds.

A device-code sign-in prints a short code and a web address; the user opens the address in any
browser (on any machine) and types the code. The panel shows the code large and selectable, a
"Copy code" button, the address as a link that opens the browser, and a countdown to the code's
expiry (after which it says to start again).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.core.accounts import DeviceCodePrompt

ERROR_STYLE = "color: #d9363e"


def remaining_text(seconds_left: float) -> str:
    """The countdown's sentence (no Qt): "The code expires in 14:05." or that it expired."""
    if seconds_left <= 0:
        return "The code expired: cancel and sign in again."
    whole = int(seconds_left)
    return f"The code expires in {whole // 60}:{whole % 60:02d}."


class DeviceCodePanel(QWidget):
    """Shows one ``DeviceCodePrompt`` (objectName ``azureDeviceCode``); ``show_prompt`` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("azureDeviceCode")
        self.prompt: DeviceCodePrompt | None = None
        self.intro = QLabel("To sign in, open this page in a browser and enter the code:", self)
        self.intro.setWordWrap(True)
        self.link = QLabel(self)
        self.link.setObjectName("azureDeviceCodeLink")
        self.link.setTextFormat(Qt.TextFormat.RichText)
        self.link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.link.setOpenExternalLinks(False)  # opened here, so tests can see it asked
        self.link.linkActivated.connect(self.open_page)
        self.code = QLabel(self)
        self.code.setObjectName("azureDeviceCodeText")
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(max(self.font().pointSizeF(), 9.0) * 2)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 2)
        self.code.setFont(font)
        self.code.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.copy = QPushButton("Copy code", self)
        self.copy.setObjectName("azureCopyCode")
        self.copy.clicked.connect(self.copy_code)
        self.countdown = QLabel(self)
        self.countdown.setObjectName("azureDeviceCodeCountdown")
        self.countdown.setEnabled(False)  # drawn as a hint
        code_row = QHBoxLayout()
        code_row.addWidget(self.code)
        code_row.addSpacing(12)
        code_row.addWidget(self.copy)
        code_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.intro)
        layout.addWidget(self.link)
        layout.addLayout(code_row)
        layout.addWidget(self.countdown)
        self._ticker = QTimer(self, interval=1000)
        self._ticker.timeout.connect(self._tick)

    def show_prompt(self, prompt: DeviceCodePrompt) -> None:
        """Show the code and the page, and start the countdown."""
        self.prompt = prompt
        url = prompt.verification_uri
        self.link.setText(f'<a href="{_escape(url)}">{_escape(url)}</a>')
        self.link.setToolTip(f"Open {url} in the browser")
        self.code.setText(prompt.user_code)
        self.copy.setText("Copy code")
        self._tick()
        self._ticker.start()
        self.show()

    def copy_code(self) -> None:
        """Put the code on the clipboard."""
        if self.prompt is not None:
            QGuiApplication.clipboard().setText(self.prompt.user_code)
            self.copy.setText("Copied")

    def open_page(self, url: str = "") -> bool:
        """Open the sign-in page in the browser."""
        target = url or (self.prompt.verification_uri if self.prompt else "")
        return bool(target) and QDesktopServices.openUrl(QUrl(target))

    def stop(self) -> None:
        """Stop the countdown (the sign-in ended)."""
        self._ticker.stop()

    def _tick(self) -> None:
        if self.prompt is None:
            return
        left = self.prompt.expires_on - time.time()
        self.countdown.setText(remaining_text(left))
        expired = left <= 0
        self.countdown.setEnabled(expired)  # a hint until it is an error
        self.countdown.setStyleSheet(ERROR_STYLE if expired else "")
        if expired:
            self._ticker.stop()


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
