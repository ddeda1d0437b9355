"""Outgoing mail over STARTTLS: verified against a CA file, refused without it."""
import subprocess

from conftest import (SUBJECT, SmtpSink, email_log, queue_test_mail, smtp_env, wait_log_status,
                      wait_until)


def make_cert(tmp_path):
    cert, key = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def tls_sink(tmp_path):
    cert, key = make_cert(tmp_path)
    return SmtpSink(tmp_path / "mail", tls_cert=cert, tls_key=key).start(), cert


def test_starttls_delivers_when_the_server_certificate_verifies(start_server, tmp_path):
    sink, cert = tls_sink(tmp_path)
    try:
        env = smtp_env(sink.port)
        env.update({"CAREBASE_SMTP_TLS": "starttls", "CAREBASE_SMTP_CA_FILE": str(cert)})
        s = start_server(env=env)
        log_id = queue_test_mail(s, "tls@example.org")
        msgs = sink.wait_for(1, timeout=10)
        assert str(msgs[0]["Subject"]) == SUBJECT
        envelope = sorted(sink.dir.glob("*.env"))[0].read_text()
        assert "TLS: yes" in envelope, envelope
        wait_log_status(s, log_id, "sent")
    finally:
        sink.stop()


def test_starttls_refuses_a_server_it_cannot_verify(start_server, tmp_path):
    sink, _ = tls_sink(tmp_path)
    try:
        env = smtp_env(sink.port)
        env.update({"CAREBASE_SMTP_TLS": "starttls", "CAREBASE_JOB_MAX_ATTEMPTS": "1"})
        s = start_server(env=env)
        log_id = queue_test_mail(s, "tls@example.org")
        wait_until(lambda: email_log(s, log_id)["status"] == "failed", timeout=10,
                   what="the unverifiable send to fail")
        assert sink.files() == []
        assert email_log(s, log_id)["error"]
    finally:
        sink.stop()
