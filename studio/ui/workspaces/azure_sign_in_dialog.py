"""Sign in…: choose a way to sign in to Azure, fill in what it needs, and wait for it on a worker.

The ways come from ``AccountDirectory.sign_in_methods()`` (one that cannot be used here is shown
greyed with its reason). "Sign in" runs ``sign_in`` on the runner's threads, with a cancel token:
Cancel sets it and closes the dialog at once (the worker stops at its next check). A device-code
sign-in calls its ``prompt`` on the worker; the prompt crosses to the GUI thread by a signal and
shows the code (azure_device_code.py); the dialog closes itself when the sign-in completes.
When the system has no encrypted store for the token cache the kind raises ``ConsentRequired``:
the dialog asks once, remembers the answer (``set_unencrypted_cache_allowed``) and signs in again.
A failure is one sentence under the fields, and the dialog stays open to try again.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.accounts import (
    AccountDirectory,
    AccountInfo,
    ConsentRequired,
    DeviceCodePrompt,
    SignInField,
    SignInMethod,
)
from studio.core.tasks import CancelToken
from studio.ui.background.notifier import sentence
from studio.ui.background.tasks import Task, TaskRunner, TaskState
from studio.ui.workspaces.azure_device_code import DeviceCodePanel

ERROR_STYLE = "color: #d9363e"
MIN_WIDTH = 400
CONSENT_TITLE = "Keep the sign-in?"
CONSENT_TEXT = (
    "Your system has no encrypted store for sign-in tokens (such as the Secret Service keyring).\n\n"
    "Keep them in a file only you can read, so that Studio signs you in by itself at the next start?\n"
    "If not, you sign in again each time Studio starts."
)
WAITING = {
    "browser": "Finish signing in in the browser window that opened…",
    "device_code": "Asking for a sign-in code…",
}
"""What the progress line says while a method waits (default: "Signing in…")."""


class AzureSignInDialog(QDialog):
    """The sign-in form (objectName ``azureSignInDialog``); ``account`` is the account once signed in.

    With ``again`` (an account whose sign-in expired) its method is chosen and its tenant filled in.
    """

    sig_signed_in = Signal(object)
    """Signed in: the AccountInfo (the dialog then closes itself)."""
    _sig_prompt = Signal(object)
    """A device-code prompt from the worker (queued to the GUI thread)."""

    def __init__(
        self,
        directory: AccountDirectory,
        runner: TaskRunner,
        parent: QWidget | None = None,
        again: AccountInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("azureSignInDialog")
        self.setWindowTitle(f"Sign in again: {again.label}" if again else "Sign in to Azure")
        self.directory, self.runner = directory, runner
        self.methods = {m.method_id: m for m in directory.sign_in_methods()}  # cheap: settings and PATH
        self.account: AccountInfo | None = None
        self.task: Task | None = None
        self.consent_box: QMessageBox | None = None
        self._consent_answered = False
        self._closing = False
        self._attempt = 0  # answers of an attempt before the last are dropped
        self.radios: dict[str, QRadioButton] = {}
        self.forms: dict[str, QWidget] = {}
        self.fields: dict[str, dict[str, QLineEdit]] = {}
        self.group = QButtonGroup(self)
        self.choices = QWidget(self)  # the ways and the chosen one's fields: hidden while a device code shows
        self.choices.setObjectName("azureSignInChoices")
        methods_box = QVBoxLayout()
        methods_box.setSpacing(2)
        for method in self.methods.values():
            methods_box.addLayout(self._method_choice(method))
        self.form_box = QVBoxLayout()
        self.form_box.setContentsMargins(0, 0, 0, 0)
        for method in self.methods.values():
            form = self._method_form(method)
            self.forms[method.method_id] = form
            self.form_box.addWidget(form)
        self.device_code = DeviceCodePanel(self)
        self.device_code.hide()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("azureSignInProgress")
        self.progress.setRange(0, 0)  # busy: no known end
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel(self)
        self.status.setObjectName("azureSignInStatus")
        self.status.setWordWrap(True)
        self.error = QLabel(self)
        self.error.setObjectName("azureSignInError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.sign_in_button = self.buttons.addButton("Sign in", QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.setObjectName("azureSignInButton")
        self.sign_in_button.setDefault(True)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)  # grows and shrinks with the chosen form
        for wide in (self.device_code, self.error, self.status):  # a fixed-size dialog is as wide as its widest row:
            wide.setMinimumWidth(MIN_WIDTH)  # without a form, the code's page and an error wrapped in a narrow column
        choices = QVBoxLayout(self.choices)
        choices.setContentsMargins(0, 0, 0, 0)
        choices.addWidget(QLabel("Sign in with:", self.choices))
        choices.addLayout(methods_box)
        choices.addSpacing(6)
        choices.addLayout(self.form_box)
        layout.addWidget(self.choices)
        layout.addWidget(self.device_code)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._sig_prompt.connect(self._show_prompt)
        self.group.buttonToggled.connect(lambda _b, _on: self._show_form())
        self._choose_first(again)
        self._set_busy(False)

    # -- building ------------------------------------------------------------------------------

    def _method_choice(self, method: SignInMethod) -> QVBoxLayout:
        box = QVBoxLayout()
        box.setSpacing(0)
        radio = QRadioButton(method.label, self)
        radio.setObjectName(f"azureMethod:{method.method_id}")
        radio.setEnabled(method.available)
        self.radios[method.method_id] = radio
        self.group.addButton(radio)
        box.addWidget(radio)
        if method.note:
            note = QLabel(method.note, self)
            note.setObjectName(f"azureMethodNote:{method.method_id}")
            note.setWordWrap(True)
            note.setTextFormat(Qt.TextFormat.MarkdownText)  # `az login` as code
            note.setEnabled(False)  # drawn as a hint
            note.setContentsMargins(radio.iconSize().width() + 8, 0, 0, 2)  # under the label, not the circle
            box.addWidget(note)
        return box

    def _method_form(self, method: SignInMethod) -> QWidget:
        page = QWidget(self)
        page.setObjectName(f"azureMethodForm:{method.method_id}")
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        fields: dict[str, QLineEdit] = {}
        for spec in method.fields:
            edit = QLineEdit(page)
            edit.setObjectName(f"azureField:{method.method_id}:{spec.name}")
            edit.setMinimumWidth(320)
            hint = spec.placeholder
            edit.setPlaceholderText(
                f"optional: {hint}" if spec.optional and hint else hint or ("optional" * spec.optional)
            )
            if spec.secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.textChanged.connect(lambda _t: self._update())
            fields[spec.name] = edit
            label = f"{spec.label}:"
            if spec.kind == "file":
                form.addRow(label, self._file_row(spec, edit, page))
            else:
                form.addRow(label, edit)
        self.fields[method.method_id] = fields
        page.setVisible(False)
        return page

    def _file_row(self, spec: SignInField, edit: QLineEdit, page: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(4)
        browse = QPushButton("Browse…", page)
        browse.setObjectName(f"azureBrowse:{spec.name}")
        browse.clicked.connect(lambda: self._browse(spec, edit))
        row.addWidget(edit, 1)
        row.addWidget(browse)
        return row

    def _browse(self, spec: SignInField, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, spec.label, edit.text())
        if path:
            edit.setText(path)

    def _choose_first(self, again: AccountInfo | None) -> None:
        wanted = again.method_id if again is not None else ""
        usable = [m for m in self.methods.values() if m.available]
        choice = self.methods.get(wanted) if wanted in self.methods and self.methods[wanted].available else None
        choice = choice or (usable[0] if usable else None)
        if choice is None:
            return
        self.radios[choice.method_id].setChecked(True)
        if again is not None and again.tenant_id:
            for name in ("tenant_id", "tenant"):
                if name in self.fields[choice.method_id]:
                    self.fields[choice.method_id][name].setText(again.tenant_id)
        self._show_form()

    # -- state ---------------------------------------------------------------------------------

    def method_id(self) -> str:
        """The chosen way to sign in ("" when none can be used)."""
        return next((m for m, radio in self.radios.items() if radio.isChecked()), "")

    def values(self) -> dict[str, str]:
        """The chosen method's fields as typed (secrets untrimmed; others trimmed)."""
        method = self.methods.get(self.method_id())
        if method is None:
            return {}
        typed = self.fields[method.method_id]
        return {f.name: typed[f.name].text() if f.secret else typed[f.name].text().strip() for f in method.fields}

    def missing(self) -> str:
        """What the chosen method still needs ("" when nothing)."""
        method = self.methods.get(self.method_id())
        if method is None:
            return "No way to sign in is available here."
        values = self.values()
        for spec in method.fields:
            if not spec.optional and not values.get(spec.name):
                return f"Fill in {spec.label}."
        return ""

    @property
    def busy(self) -> bool:
        """True while a sign-in runs."""
        return self.task is not None

    # -- signing in ----------------------------------------------------------------------------

    def start(self) -> None:
        """Sign in with the chosen method (on a worker)."""
        if self.busy or self.missing():
            return
        method_id, values = self.method_id(), self.values()
        self.error.hide()
        self.device_code.hide()
        self.status.setText(WAITING.get(method_id, "Signing in…"))
        self._attempt += 1
        attempt = self._attempt
        self.task = self.runner.submit(
            _sign_in,
            self.directory,
            method_id,
            values,
            self._prompt_from_worker,
            with_state=True,
            success=lambda info: self._signed_in(attempt, info),
            failure=lambda exc: self._failed(attempt, method_id, exc),
            label=f"Signing in with {self.methods[method_id].label}",
            cancellable=True,
            owner=self,
        )
        self._set_busy(True)

    def _prompt_from_worker(self, prompt: DeviceCodePrompt) -> None:
        """The kind's prompt callback (a worker thread): handed to the GUI thread."""
        try:
            self._sig_prompt.emit(prompt)
        except RuntimeError:  # the dialog is gone (cancelled); the worker stops at its next check
            pass

    def _show_prompt(self, prompt: DeviceCodePrompt) -> None:
        if self._closing or not self.busy:
            return
        self.choices.hide()  # the code is all there is to do now
        self.device_code.show_prompt(prompt)
        self.status.setText("Waiting for the code to be entered…")

    def _signed_in(self, attempt: int, info: AccountInfo) -> None:
        if attempt != self._attempt or self._closing:
            return
        self.task = None
        self.account = info
        self.device_code.stop()
        self.sig_signed_in.emit(info)
        self.accept()

    def _failed(self, attempt: int, method_id: str, exc: BaseException) -> None:
        if attempt != self._attempt or self._closing:
            return
        self.task = None
        self.device_code.stop()
        if isinstance(exc, ConsentRequired) and not self._consent_answered:
            self._ask_consent(method_id)
            return
        self._set_busy(False)
        self.device_code.hide()
        self.choices.show()
        self.status.setText("")
        self.error.setText(sentence(exc))
        self.error.show()

    def _ask_consent(self, method_id: str) -> None:
        """Ask whether the token cache may be a plain file (without blocking: the answer comes back)."""
        self.status.setText("Waiting for your answer…")
        box = QMessageBox(
            QMessageBox.Icon.Question, CONSENT_TITLE, CONSENT_TEXT, QMessageBox.StandardButton.NoButton, self
        )
        box.setObjectName("azureConsentQuestion")
        keep = box.addButton("Keep in a file", QMessageBox.ButtonRole.YesRole)
        keep.setObjectName("azureConsentYes")
        refuse = box.addButton("Sign in each time", QMessageBox.ButtonRole.NoRole)
        refuse.setObjectName("azureConsentNo")
        box.setDefaultButton(keep)
        box.finished.connect(lambda _code: self._consent_given(method_id, box.clickedButton() is keep))
        self.consent_box = box
        box.open()

    def _consent_given(self, method_id: str, allowed: bool) -> None:
        self.consent_box = None
        if self._closing:
            return
        self._consent_answered = True
        self.runner.submit(
            self.directory.set_unencrypted_cache_allowed,
            allowed,
            success=lambda _none: self._retry_after_consent(method_id),
            failure=lambda exc: self._failed(self._attempt, method_id, exc),
            owner=self,
        )

    def _retry_after_consent(self, method_id: str) -> None:
        if self._closing:
            return
        if self.method_id() != method_id:
            self.radios[method_id].setChecked(True)
        self._set_busy(False)
        self.start()

    def reject(self) -> None:
        """Cancel: stop the sign-in in flight (its worker sees the token) and close at once."""
        self._closing = True
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self.device_code.stop()
        if self.consent_box is not None:
            self.consent_box.close()
        super().reject()

    # -- updates -------------------------------------------------------------------------------

    def _show_form(self) -> None:
        chosen = self.method_id()
        for method_id, form in self.forms.items():
            form.setVisible(method_id == chosen)
        self.error.hide()
        self._update()

    def _set_busy(self, busy: bool) -> None:
        for radio, method in zip(self.radios.values(), self.methods.values(), strict=True):
            radio.setEnabled(method.available and not busy)
        for form in self.forms.values():
            form.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.status.setVisible(busy)
        self._update()

    def _update(self) -> None:
        need = self.missing()
        self.sign_in_button.setEnabled(not need and not self.busy)
        self.sign_in_button.setToolTip(need)


def _sign_in(
    state: TaskState,
    directory: AccountDirectory,
    method_id: str,
    values: Mapping[str, str],
    prompt: object,
) -> AccountInfo:
    """On a worker: the kind's sign-in, cancelled by the task's token."""
    cancel: CancelToken = state.cancel
    return directory.sign_in(method_id, values, prompt=prompt, cancel=cancel)  # type: ignore[arg-type]
