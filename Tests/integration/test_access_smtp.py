"""Invitations delivered by SMTP through libcurl, against a small local SMTP server.

The server below speaks the part of RFC 5321 a submission client uses (EHLO/HELO,
MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT) and records each message.
"""
import socket
import socketserver
import threading

import pytest

from access_helpers import accept_response, invite_response, psql, register, unique_email
from conftest import assert_envelope


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 assay-test ESMTP ready")
        sender, recipients = None, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-assay-test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
            elif verb == "HELO":
                self.reply("250 assay-test")
            elif verb == "MAIL":
                sender, recipients = line[10:].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line[8:].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    data = self.rfile.readline().decode("utf-8", "replace")
                    if data in (".\r\n", ".\n", ""):
                        break
                    lines.append(data[1:] if data.startswith("..") else data)
                self.server.messages.append({"from": sender, "to": recipients, "data": "".join(lines)})
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _SMTPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages = []


@pytest.fixture
def smtp_pool(pool):
    server = _SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    pool.restart(SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_FROM="Assay <assay@example.com>")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        pool.restart()


def test_invite_is_mailed_and_token_not_returned(smtp_pool):
    owner = register()
    invitee = register()
    r = invite_response(owner, invitee.email, role="viewer")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["delivery"] == "smtp"
    assert "token" not in body
    assert len(smtp_pool.messages) == 1
    message = smtp_pool.messages[0]
    assert message["from"] == "<assay@example.com>"
    assert message["to"] == [f"<{invitee.email}>"]
    assert f"To: <{invitee.email}>" in message["data"]
    assert "Subject: Invitation to" in message["data"]
    # The link in the mail carries the token, and the invitee can use it.
    token = message["data"].split("/api/team/invites/")[1].split("/accept")[0]
    accepted = accept_response(invitee, token)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["team"]["role"] == "viewer"
    status = psql("SELECT status FROM email_outbox WHERE recipient = :'r';", r=invitee.email)
    assert status == "sent"


def test_unreachable_mail_server_is_reported_not_hidden(pool):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    pool.restart(SMTP_URL=f"smtp://127.0.0.1:{closed_port}")
    try:
        owner = register()
        email = unique_email()
        r = invite_response(owner, email)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["delivery"] == "failed"
        assert "token" not in body
        assert body["delivery_error"]
        row = psql("SELECT status || ':' || (error IS NOT NULL)::text FROM email_outbox WHERE recipient = :'r';", r=email)
        assert row == "failed:true"
    finally:
        pool.restart()
