"""Add server…: the URL of an MLflow tracking server and how to sign in to it.

The dialog only asks: the window saves the credentials (on a worker: the GUI thread never
touches the keyring) and opens the location. OK stays disabled until the URL is one the MLflow
kind can open and the chosen sign-in has what it needs; a malformed URL says why under the field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.credentials import ServerCredentials
from studio.ui.background.debounce import qdebounced
from studio.ui.workspaces.server_url import ServerUrlError, server_location

ERROR_STYLE = "color: #d9363e"
ERROR_DELAY_MS = 500
"""How long typing rests before a malformed URL is said to be one (not at every keystroke of ``http://``)."""
NONE, BASIC, TOKEN = "none", "basic", "token"


class AddServerDialog(QDialog):
    """URL and authentication of an MLflow server (objectName ``addServerDialog``).

    Once accepted, ``location()`` is the ``mlflow+http(s)://…`` location and ``credentials()`` the
    sign-in to keep (None for no authentication). With ``sign_in`` (a server's location) it is the
    "Sign in…" of a server that refused its credentials: its URL filled in, user name and password chosen.
    """

    def __init__(self, parent: QWidget | None = None, sign_in: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addServerDialog")
        self.setWindowTitle("Add MLflow server")
        self.url = QLineEdit(self)
        self.url.setObjectName("serverUrl")
        self.url.setMinimumWidth(360)
        self.url.setPlaceholderText("http://localhost:5000")
        self.url.setToolTip("The tracking server's address as a browser opens it: http(s)://host[:port][/prefix]")
        self.url_note = QLabel(self)
        self.url_note.setObjectName("serverUrlNote")
        self.url_note.setWordWrap(True)
        self.url_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url_note.hide()
        self.auth = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        radios = QVBoxLayout()
        radios.setSpacing(2)
        for scheme, text in ((NONE, "None"), (BASIC, "User name and password"), (TOKEN, "Token")):
            radio = QRadioButton(text, self)
            radio.setObjectName(f"auth:{scheme}")
            self.radios[scheme] = radio
            self.auth.addButton(radio)
            radios.addWidget(radio)
        self.radios[NONE].setChecked(True)
        self.username = QLineEdit(self)
        self.username.setObjectName("serverUsername")
        self.password = _secret_field("serverPassword", self)
        self.token = _secret_field("serverToken", self)
        keyring_note = QLabel("Passwords and tokens are kept in the system keyring, never in Studio's settings.", self)
        keyring_note.setObjectName("serverKeyringNote")
        keyring_note.setWordWrap(True)
        keyring_note.setEnabled(False)  # drawn as a hint
        self.keyring_note = keyring_note
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Add and open")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout()
        # All fields grow, the notes too: a word-wrapped label kept to its hint width wrapped after a few words.
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        url_box = QVBoxLayout()
        url_box.setSpacing(2)  # the note belongs to the field
        url_box.addWidget(self.url)
        url_box.addWidget(self.url_note)
        self.form.addRow("Server URL:", url_box)
        self.form.addRow("Authentication:", radios)
        self.form.addRow("User name:", self.username)
        self.form.addRow("Password:", self.password)
        self.form.addRow("Token:", self.token)
        self.form.addRow("", keyring_note)
        layout = QVBoxLayout(self)
        # As tall as its rows: the dialog grows and shrinks with the fields of the chosen sign-in.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        layout.addLayout(self.form)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        self._show_error_later = qdebounced(lambda: self._update(show_error=True), ERROR_DELAY_MS, self)
        self.url.textChanged.connect(lambda _t: self._update(show_error=False))
        self.url.textChanged.connect(self._show_error_later)
        self.url.editingFinished.connect(lambda: self._update(show_error=bool(self.url.text().strip())))
        for field in (self.username, self.password, self.token):
            field.textChanged.connect(lambda _t: self._update(show_error=False))
        self.auth.buttonToggled.connect(lambda _b, _on: self._show_fields())
        self._show_fields()
        self._update(show_error=False)
        if sign_in is not None:
            self._prefill(sign_in)

    def _prefill(self, location: str) -> None:
        url = location.strip().removeprefix("mlflow+")
        self.setWindowTitle(f"Sign in to {url.split('://', 1)[-1]}")
        self.ok.setText("Sign in and open")
        self.url.setText(url)
        self.radios[BASIC].setChecked(True)  # the usual sign-in; Token is one click away
        self.username.setFocus()

    # -- state ---------------------------------------------------------------------------------

    def scheme(self) -> str:
        """The chosen authentication: "none", "basic" or "token"."""
        return next(s for s, radio in self.radios.items() if radio.isChecked())

    def location(self) -> str:
        """The server's location (``mlflow+http(s)://host[:port][/prefix]``); ServerUrlError if the URL is malformed."""
        return server_location(self.url.text())

    def credentials(self) -> ServerCredentials | None:
        """The sign-in to keep in the keyring, or None for a server without authentication."""
        scheme = self.scheme()
        if scheme == BASIC:
            return ServerCredentials("basic", self.username.text().strip(), self.password.text())
        if scheme == TOKEN:
            return ServerCredentials("token", "", self.token.text().strip())
        return None

    def url_error(self) -> str:
        """Why the URL cannot be taken ("" when it can)."""
        try:
            self.location()
        except ServerUrlError as exc:
            return str(exc)
        return ""

    def missing(self) -> str:
        """What the chosen sign-in still needs ("" when nothing)."""
        scheme = self.scheme()
        if scheme == BASIC and not self.username.text().strip():
            return "Type the user name."
        if scheme == BASIC and not self.password.text():
            return "Type the password."
        if scheme == TOKEN and not self.token.text().strip():
            return "Paste the token."
        return ""

    # -- updates -------------------------------------------------------------------------------

    def _show_fields(self) -> None:
        scheme = self.scheme()
        self.form.setRowVisible(self.username, scheme == BASIC)
        self.form.setRowVisible(self.password, scheme == BASIC)
        self.form.setRowVisible(self.token, scheme == TOKEN)
        self.keyring_note.setVisible(scheme != NONE)
        self._update(show_error=False)

    def _update(self, show_error: bool) -> None:
        """Enable OK when everything is there; say what is wrong with the URL once typing rests (an error
        already shown follows the typing at once)."""
        error = self.url_error()
        showing_error = self.url_note.isVisibleTo(self) and self.url_note.isEnabled()
        if not error:
            self._show_error_later.cancel()
            self._set_note(f"Opens as {self.location()}", error=False)
        elif self.url.text().strip() and (show_error or showing_error):
            self._set_note(error, error=True)
        else:
            self.url_note.hide()
        need = self.missing()
        self.ok.setEnabled(not error and not need)
        self.ok.setToolTip(error or need)

    def _set_note(self, text: str, error: bool) -> None:
        self.url_note.setText(text)
        self.url_note.setStyleSheet(ERROR_STYLE if error else "")
        self.url_note.setEnabled(error)  # disabled: drawn as a hint (where the server will be opened from)
        self.url_note.show()

    def _accept(self) -> None:
        if self.ok.isEnabled():
            self.accept()


def _secret_field(name: str, parent: QWidget) -> QLineEdit:
    field = QLineEdit(parent)
    field.setObjectName(name)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field
