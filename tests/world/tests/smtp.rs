//! Checks the SMTP sink with hand-written SMTP conversations over raw tokio
//! streams: sessions with several messages, dot-unstuffing, rejected
//! recipients, down mode, stopping and restarting on the same port, AUTH,
//! STARTTLS, and garbage.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use supplywatch_testworld::pki::{LeafSpec, Pki};
use supplywatch_testworld::tls::{MODERN, server_config};
use supplywatch_testworld::{SinkOptions, SmtpSink};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

const STEP: Duration = Duration::from_secs(10);

/// One SMTP client conversation.
struct Client<S> {
    io: BufReader<S>,
}

impl Client<TcpStream> {
    async fn connect(sink: &SmtpSink) -> io::Result<Self> {
        let tcp = TcpStream::connect(sink.addr()).await?;
        Ok(Self {
            io: BufReader::new(tcp),
        })
    }

    /// Connects and checks the 220 greeting.
    async fn greeted(sink: &SmtpSink) -> Self {
        let mut client = Self::connect(sink).await.unwrap();
        let (code, lines) = client.reply().await;
        assert_eq!((code, lines[0].as_str()), (220, "220 sink ESMTP"));
        client
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Reads one (possibly multi-line) reply: its code and its raw lines.
    async fn reply(&mut self) -> (u16, Vec<String>) {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(STEP, self.io.read_line(&mut line))
                .await
                .expect("reply timed out")
                .unwrap();
            assert!(n > 0, "connection closed after {lines:?}");
            let line = line.trim_end_matches("\r\n").to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                break;
            }
        }
        let code = lines.last().unwrap()[..3].parse().unwrap();
        (code, lines)
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// Sends `line` with CRLF and returns the reply's code and last line.
    async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes()).await;
        let (code, mut lines) = self.reply().await;
        (code, lines.pop().unwrap())
    }

    /// Sends `line` and asserts the reply code.
    async fn ok(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.cmd(line).await;
        assert_eq!(got, code, "{line} -> {text}");
        text
    }

    /// EHLO, returning the extension lines without the `250-`/`250 `.
    async fn ehlo(&mut self) -> Vec<String> {
        self.send(b"EHLO client.test\r\n").await;
        let (code, lines) = self.reply().await;
        assert_eq!(code, 250, "{lines:?}");
        assert_eq!(lines[0], "250-sink");
        lines.iter().skip(1).map(|l| l[4..].to_owned()).collect()
    }

    /// A whole transaction; returns the final reply to the data.
    async fn deliver(&mut self, from: &str, to: &[&str], data: &str) -> (u16, String) {
        self.ok(&format!("MAIL FROM:<{from}>"), 250).await;
        for rcpt in to {
            self.ok(&format!("RCPT TO:<{rcpt}>"), 250).await;
        }
        self.ok("DATA", 354).await;
        self.send(data.as_bytes()).await;
        self.send(b".\r\n").await;
        let (code, mut lines) = self.reply().await;
        (code, lines.pop().unwrap())
    }

    /// Reads until the server closes; panics if it says anything.
    async fn expect_eof(&mut self) {
        let mut line = String::new();
        let n = tokio::time::timeout(STEP, self.io.read_line(&mut line))
            .await
            .expect("no EOF")
            .unwrap_or(0);
        assert_eq!(n, 0, "unexpected {line:?}");
    }
}

#[tokio::test]
async fn two_messages_over_one_connection() {
    let sink = SmtpSink::start().await.unwrap();
    assert_eq!(sink.addr().ip().to_string(), "127.0.0.1");
    assert_eq!(sink.addr().port(), sink.port());
    let mut c = Client::greeted(&sink).await;
    let ext = c.ehlo().await;
    for want in ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 10485760"] {
        assert!(ext.iter().any(|e| e == want), "{want} not in {ext:?}");
    }
    assert!(!ext.iter().any(|e| e.starts_with("AUTH") || e == "STARTTLS"));

    let first =
        "From: a@sender.test\r\nTo: b@rcpt.test, c@rcpt.test\r\nSubject: first\r\n\r\nhello\r\n";
    let (code, text) = c
        .deliver("a@sender.test", &["b@rcpt.test", "c@rcpt.test"], first)
        .await;
    assert_eq!((code, text.as_str()), (250, "250 2.0.0 queued as 1"));

    c.ok("NOOP", 250).await;
    c.ok("RSET", 250).await;
    let second =
        "Subject: =?utf-8?q?second?=\r\n =?utf-8?q?_part?=\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody ä\r\n";
    let (code, text) = c.deliver("", &["d@rcpt.test"], second).await;
    assert_eq!((code, text.as_str()), (250, "250 2.0.0 queued as 2"));
    c.ok("HELO again.test", 250).await;
    assert_eq!(c.ok("QUIT", 221).await, "221 2.0.0 bye");
    c.expect_eof().await;

    let mail = sink.wait_for(2, STEP).await;
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[0].id, 1);
    assert_eq!(mail[0].mail_from, "a@sender.test");
    assert_eq!(mail[0].rcpt_to, ["b@rcpt.test", "c@rcpt.test"]);
    assert_eq!(mail[0].data, first);
    assert_eq!(mail[0].helo, "client.test");
    assert!(!mail[0].tls);
    assert_eq!(mail[0].header("subject").unwrap(), "first");
    assert_eq!(mail[0].header("TO").unwrap(), "b@rcpt.test, c@rcpt.test");
    assert_eq!(mail[0].body(), "hello\r\n");

    assert_eq!(mail[1].mail_from, "");
    assert_eq!(mail[1].rcpt_to, ["d@rcpt.test"]);
    assert_eq!(
        mail[1].header("Subject").unwrap(),
        "=?utf-8?q?second?= =?utf-8?q?_part?="
    );
    assert_eq!(mail[1].headers("x-a"), ["1", "2"]);
    assert_eq!(mail[1].body(), "body ä\r\n");
    assert_eq!(sink.connections(), 1);
    assert_eq!(sink.messages(), mail);
}

#[tokio::test]
async fn data_is_dot_unstuffed_even_in_tiny_writes() {
    let sink = SmtpSink::start().await.unwrap();
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.ok("MAIL FROM:<a@s.test> SIZE=100 BODY=8BITMIME", 250)
        .await;
    c.ok("RCPT TO:<b@r.test>", 250).await;
    c.ok("DATA", 354).await;
    // What a client sends for lines ".one", "..", "." and "plain".
    let wire = b"Subject: dots\r\n\r\n..one\r\n...\r\n..\r\nplain\r\n.\r\n";
    for byte in wire {
        c.send(&[*byte]).await;
    }
    let (code, _) = c.reply().await;
    assert_eq!(code, 250);
    let mail = sink.wait_for(1, STEP).await;
    assert_eq!(
        mail[0].data,
        "Subject: dots\r\n\r\n.one\r\n..\r\n.\r\nplain\r\n"
    );
    assert_eq!(mail[0].body(), ".one\r\n..\r\n.\r\nplain\r\n");

    // An empty message and a message that is only a dot line.
    c.ok("MAIL FROM:<a@s.test>", 250).await;
    c.ok("RCPT TO:<b@r.test>", 250).await;
    c.ok("DATA", 354).await;
    c.send(b".\r\n").await;
    assert_eq!(c.reply().await.0, 250);
    let mail = sink.wait_for(2, STEP).await;
    assert_eq!(mail[1].data, "");
    assert_eq!(mail[1].body(), "");
    assert!(mail[1].header("subject").is_none());
}

#[tokio::test]
async fn rejected_recipients_get_550_and_the_rest_are_delivered() {
    let sink = SmtpSink::start_with(SinkOptions::default().reject("nobody@r.test"))
        .await
        .unwrap();
    sink.reject("Ghost@R.test");
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.ok("MAIL FROM:<a@s.test>", 250).await;
    c.ok("RCPT TO:<ok@r.test>", 250).await;
    assert_eq!(
        c.ok("RCPT TO:<nobody@r.test>", 550).await,
        "550 5.1.1 no such user"
    );
    c.ok("RCPT TO:<GHOST@r.test>", 550).await;
    c.ok("DATA", 354).await;
    c.send(b"Subject: x\r\n\r\nx\r\n.\r\n").await;
    assert_eq!(c.reply().await.0, 250);

    // Only rejected recipients: no DATA.
    c.ok("MAIL FROM:<a@s.test>", 250).await;
    c.ok("RCPT TO:<nobody@r.test>", 550).await;
    c.ok("DATA", 554).await;
    c.ok("RSET", 250).await;

    let mail = sink.wait_for(1, STEP).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].rcpt_to, ["ok@r.test"]);
}

#[tokio::test]
async fn down_mode_answers_4xx_and_recovers() {
    let sink = SmtpSink::start().await.unwrap();
    let mut open = Client::greeted(&sink).await;
    open.ehlo().await;

    sink.set_down(true);
    for command in [
        "NOOP",
        "EHLO client.test",
        "MAIL FROM:<a@s.test>",
        "RSET",
        "BOGUS",
    ] {
        let (code, text) = open.cmd(command).await;
        assert_eq!(code, 451, "{command} -> {text}");
    }
    // A new connection is refused at the greeting and closed.
    let mut fresh = Client::connect(&sink).await.unwrap();
    let (code, _) = fresh.reply().await;
    assert_eq!(code, 421);
    fresh.expect_eof().await;

    sink.set_down(false);
    open.ok("NOOP", 250).await;
    let (code, _) = open
        .deliver("a@s.test", &["b@r.test"], "Subject: back\r\n\r\n")
        .await;
    assert_eq!(code, 250);
    let mut fresh = Client::greeted(&sink).await;
    fresh.ehlo().await;
    open.ok("QUIT", 221).await;
    assert_eq!(sink.wait_for(1, STEP).await.len(), 1);
}

#[tokio::test]
async fn a_message_ending_while_down_is_not_kept() {
    let sink = SmtpSink::start().await.unwrap();
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.ok("MAIL FROM:<a@s.test>", 250).await;
    c.ok("RCPT TO:<b@r.test>", 250).await;
    c.ok("DATA", 354).await;
    c.send(b"Subject: lost\r\n\r\n").await;
    sink.set_down(true);
    c.send(b".\r\n").await;
    assert_eq!(c.reply().await.0, 451);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn stop_closes_the_port_and_start_on_reopens_it() {
    let sink = SmtpSink::start().await.unwrap();
    let port = sink.port();
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    let (code, _) = c
        .deliver("a@s.test", &["b@r.test"], "Subject: 1\r\n\r\n")
        .await;
    assert_eq!(code, 250);
    // An open connection is dropped by stop.
    let mut idle = Client::greeted(&sink).await;

    sink.stop().await;
    assert!(sink.is_stopped());
    let refused = TcpStream::connect(sink.addr()).await.unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    idle.expect_eof().await;
    assert_eq!(sink.messages().len(), 1, "messages outlive stop");

    let again = SmtpSink::start_on(port).await.unwrap();
    assert_eq!(again.port(), port);
    let mut c = Client::greeted(&again).await;
    c.ehlo().await;
    let (code, text) = c
        .deliver("a@s.test", &["b@r.test"], "Subject: 2\r\n\r\n")
        .await;
    assert_eq!((code, text.as_str()), (250, "250 2.0.0 queued as 1"));
    assert_eq!(
        again.wait_for(1, STEP).await[0].header("subject").unwrap(),
        "2"
    );

    // Dropping stops it too (the port closes shortly after).
    drop(again);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => break,
            _ if tokio::time::Instant::now() > deadline => panic!("port stayed open"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    // And again: SO_REUSEADDR copes with the closed connections' TIME_WAIT.
    let third = SmtpSink::start_on(port).await.unwrap();
    Client::greeted(&third).await.ok("QUIT", 221).await;
}

#[tokio::test]
async fn a_shutdown_token_stops_the_sink() {
    let token = CancellationToken::new();
    let sink = SmtpSink::start_with(SinkOptions::default().within(&token))
        .await
        .unwrap();
    Client::greeted(&sink).await;
    token.cancel();
    let deadline = tokio::time::Instant::now() + STEP;
    while TcpStream::connect(sink.addr()).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "port stayed open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sink.is_stopped());
}

#[tokio::test]
async fn auth_plain_and_login() {
    let sink = SmtpSink::start_with(SinkOptions::default().auth("alice", "secret"))
        .await
        .unwrap();
    let mut c = Client::greeted(&sink).await;
    let ext = c.ehlo().await;
    assert!(ext.iter().any(|e| e == "AUTH PLAIN LOGIN"), "{ext:?}");
    c.ok("MAIL FROM:<a@s.test>", 530).await;
    // "\0alice\0wrong"
    assert_eq!(
        c.ok("AUTH PLAIN AGFsaWNlAHdyb25n", 535).await,
        "535 5.7.8 authentication credentials invalid"
    );
    c.ok("AUTH PLAIN !!!", 501).await;
    c.ok("AUTH CRAM-MD5", 504).await;
    // "\0alice\0secret"
    c.ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235).await;
    c.ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 503).await;
    let (code, _) = c
        .deliver("a@s.test", &["b@r.test"], "Subject: authed\r\n\r\n")
        .await;
    assert_eq!(code, 250);
    c.ok("QUIT", 221).await;

    // PLAIN with the response on its own line, LOGIN with challenges.
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.ok("AUTH PLAIN", 334).await;
    c.ok("AGFsaWNlAHNlY3JldA==", 235).await;
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    assert_eq!(c.ok("AUTH LOGIN", 334).await, "334 VXNlcm5hbWU6");
    assert_eq!(c.ok("YWxpY2U=", 334).await, "334 UGFzc3dvcmQ6");
    c.ok("c2VjcmV0", 235).await;
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.ok("AUTH LOGIN YWxpY2U=", 334).await;
    c.ok("YWxpY2U=", 535).await;
    c.ok("AUTH LOGIN", 334).await;
    c.ok("*", 501).await;

    let mail = sink.wait_for(1, STEP).await;
    assert_eq!(mail[0].auth_user.as_deref(), Some("alice"));
}

#[tokio::test]
async fn starttls_upgrades_and_is_required() {
    let now = supplywatch_testworld::time::OffsetDateTime::now_utc();
    let pki = Pki::generate(now).unwrap();
    let leaf = pki
        .issue(&LeafSpec::issued("smtp.test", now, 1, 30))
        .unwrap();
    let config = server_config(&leaf, MODERN).unwrap();
    let sink = SmtpSink::start_with(
        SinkOptions::default()
            .starttls(config)
            .auth("alice", "secret"),
    )
    .await
    .unwrap();

    let mut c = Client::greeted(&sink).await;
    let ext = c.ehlo().await;
    assert!(ext.iter().any(|e| e == "STARTTLS"), "{ext:?}");
    assert!(!ext.iter().any(|e| e.starts_with("AUTH")), "{ext:?}");
    c.ok("MAIL FROM:<a@s.test>", 530).await;
    c.ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 530).await;
    c.ok("STARTTLS", 220).await;

    let mut roots = RootCertStore::empty();
    roots.add(pki.root().clone()).unwrap();
    let client_config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = c.io.into_inner();
    let tls = TlsConnector::from(Arc::new(client_config))
        .connect(ServerName::try_from("smtp.test").unwrap(), tcp)
        .await
        .unwrap();
    let mut c = Client {
        io: BufReader::new(tls),
    };
    let ext = c.ehlo().await;
    assert!(!ext.iter().any(|e| e == "STARTTLS"), "{ext:?}");
    assert!(ext.iter().any(|e| e == "AUTH PLAIN LOGIN"), "{ext:?}");
    c.ok("STARTTLS", 502).await;
    c.ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235).await;
    let (code, _) = c
        .deliver("a@s.test", &["b@r.test"], "Subject: secret\r\n\r\n")
        .await;
    assert_eq!(code, 250);
    c.ok("QUIT", 221).await;

    let mail = sink.wait_for(1, STEP).await;
    assert!(mail[0].tls);
    assert_eq!(mail[0].auth_user.as_deref(), Some("alice"));
}

#[tokio::test]
async fn garbage_and_bad_sequences_get_errors_not_panics() {
    let sink = SmtpSink::start().await.unwrap();
    let mut c = Client::greeted(&sink).await;
    assert_eq!(c.ok("FROB", 500).await, "500 5.5.2 command not recognized");
    c.ok("", 500).await;
    c.ok("MAIL FROM:<a@s.test>", 503).await;
    c.ok("EHLO", 501).await;
    c.ok("STARTTLS", 502).await;
    c.ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 502).await;
    c.ehlo().await;
    c.ok("RCPT TO:<b@r.test>", 503).await;
    c.ok("DATA", 503).await;
    c.ok("MAIL TO:<a@s.test>", 501).await;
    c.ok("MAIL FROM:<a@s.test", 501).await;
    c.ok("MAIL FROM:<a@s.test> SIZE=20000000", 552).await;
    c.ok("MAIL FROM: <a@s.test>", 250).await;
    c.ok("MAIL FROM:<a@s.test>", 503).await;
    c.ok("RCPT TO:<>", 501).await;
    c.ok("RCPT TO:", 501).await;
    c.ok("rcpt to:b@r.test", 250).await;

    // An over-long line, then binary noise: errors, and the session lives.
    let long = "X".repeat(10_000);
    assert_eq!(c.ok(&long, 500).await, "500 5.5.2 line too long");
    c.send(b"\x00\xff\xfe\x80garbage\x01\r\n").await;
    assert_eq!(c.reply().await.0, 500);
    c.ok("DATA", 354).await;
    c.send(b"Subject: survived\r\n\r\n\xff\r\n.\r\n").await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(
        sink.wait_for(1, STEP).await[0].header("subject").unwrap(),
        "survived"
    );

    // A client that sends noise and hangs up does not bother the sink.
    let mut rude = TcpStream::connect(sink.addr()).await.unwrap();
    rude.write_all(&vec![0u8; 70_000]).await.unwrap();
    drop(rude);
    c.ok("NOOP", 250).await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let sink = SmtpSink::start().await.unwrap();
    let mut c = Client::greeted(&sink).await;
    c.send(b"EHLO p.test\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<b@r.test>\r\nRCPT TO:<c@r.test>\r\nDATA\r\n")
        .await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(c.reply().await.0);
    }
    assert_eq!(got, [250, 250, 250, 250, 354]);
    c.send(b"Subject: p\r\n\r\nx\r\n.\r\nRSET\r\nQUIT\r\n")
        .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(c.reply().await.0);
    }
    assert_eq!(got, [250, 250, 221]);
    assert_eq!(
        sink.wait_for(1, STEP).await[0].rcpt_to,
        ["b@r.test", "c@r.test"]
    );
}

#[tokio::test]
async fn oversized_messages_get_552_and_the_session_continues() {
    let sink = SmtpSink::start().await.unwrap();
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.ok("MAIL FROM:<a@s.test>", 250).await;
    c.ok("RCPT TO:<b@r.test>", 250).await;
    c.ok("DATA", 354).await;
    let line = format!("{}\r\n", "y".repeat(998));
    let chunk = line.repeat(1024); // 1 MiB
    for _ in 0..11 {
        c.send(chunk.as_bytes()).await;
    }
    c.send(b".\r\n").await;
    assert_eq!(c.reply().await.0, 552);
    let (code, _) = c
        .deliver("a@s.test", &["b@r.test"], "Subject: small\r\n\r\n")
        .await;
    assert_eq!(code, 250);
    let mail = sink.wait_for(1, STEP).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].header("subject").unwrap(), "small");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_connections_at_once() {
    let sink = Arc::new(SmtpSink::start().await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..32 {
        let sink = Arc::clone(&sink);
        tasks.push(tokio::spawn(async move {
            let mut c = Client::greeted(&sink).await;
            c.ehlo().await;
            let data = format!("Subject: {i}\r\n\r\n");
            let (code, _) = c.deliver("a@s.test", &["b@r.test"], &data).await;
            assert_eq!(code, 250);
            c.ok("QUIT", 221).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mail = sink.wait_for(32, STEP).await;
    let mut subjects: Vec<u32> = mail
        .iter()
        .map(|m| m.header("subject").unwrap().parse().unwrap())
        .collect();
    subjects.sort_unstable();
    assert_eq!(subjects, (0..32).collect::<Vec<_>>());
    let mut ids: Vec<u64> = mail.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=32).collect::<Vec<_>>());
    assert_eq!(sink.connections(), 32);
}

#[tokio::test]
async fn wait_for_returns_what_is_there_at_the_timeout() {
    let sink = SmtpSink::start().await.unwrap();
    let started = tokio::time::Instant::now();
    assert!(
        sink.wait_for(1, Duration::from_millis(100))
            .await
            .is_empty()
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    let mut c = Client::greeted(&sink).await;
    c.ehlo().await;
    c.deliver("a@s.test", &["b@r.test"], "Subject: 1\r\n\r\n")
        .await;
    assert_eq!(sink.wait_for(5, Duration::from_millis(50)).await.len(), 1);
    sink.clear();
    assert!(sink.messages().is_empty());
}
