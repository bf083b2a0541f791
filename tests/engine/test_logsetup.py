import logging

from engine.logsetup import REDACTED, SecretRedactor, setup_logging
from engine.secrets import Secrets
from tests.logging_support import restored_root_logging

SECRETS = Secrets.load(environ={"TRIFACTOR_API_KEY": "AKIA-very-secret-key", "TRIFACTOR_API_SECRET": "s3cr3t-value",
                                "TRIFACTOR_DB_PASSWORD": "hunter2"})


def test_secrets_never_reach_the_log_file_and_nothing_reaches_the_screen(tmp_path, capsys):
    with restored_root_logging():
        path = setup_logging("DEBUG", SECRETS, path=tmp_path / "logs" / "trifactor.log")
        log = logging.getLogger("engine.test")
        log.info("connecting with key %s and secret %s", "AKIA-very-secret-key", "s3cr3t-value")
        log.debug("mysql://bot:hunter2@127.0.0.1/db")
        try:
            raise RuntimeError("bad signature for s3cr3t-value")
        except RuntimeError:
            log.exception("order failed")
    text = path.read_text()
    for secret in ("AKIA-very-secret-key", "s3cr3t-value", "hunter2"):
        assert secret not in text
    assert text.count(REDACTED) >= 4
    assert "RuntimeError: bad signature for ****" in text
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_repeated_setup_keeps_one_file_handler(tmp_path):
    with restored_root_logging() as root:
        setup_logging("INFO", SECRETS, path=tmp_path / "a.log")
        setup_logging("INFO", SECRETS, path=tmp_path / "b.log")
        ours = [h for h in root.handlers if h.get_name() == "trifactor-file"]
        assert len(ours) == 1 and ours[0].baseFilename.endswith("b.log")


def test_a_malformed_log_call_is_still_redacted():
    redactor = SecretRedactor(["hunter2"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "password %s and %s", ("hunter2",), None)
    assert redactor.filter(record)
    assert "hunter2" not in record.msg and REDACTED in record.msg
