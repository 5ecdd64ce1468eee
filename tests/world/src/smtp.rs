//! An in-process SMTP sink: a small ESMTP server on 127.0.0.1 that keeps
//! every message it accepts, for tests of anything that sends mail (lettre's
//! tokio SMTP transport in particular).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use supplywatch_testworld::SmtpSink;
//! let sink = SmtpSink::start().await?; // plain SMTP on 127.0.0.1:PORT
//! let port = sink.port(); // point the client here, `tls = none`
//! let mail = sink.wait_for(1, Duration::from_secs(10)).await;
//! let subject = mail.first().and_then(|m| m.header("subject"));
//! # let _ = (port, subject); Ok(()) }
//! ```
//!
//! What it speaks: the greeting `220 sink ESMTP`; `EHLO` (advertising
//! `PIPELINING`, `8BITMIME`, `SMTPUTF8`, `SIZE 10485760`, and `STARTTLS`
//! and `AUTH PLAIN LOGIN` when [`SinkOptions`] ask for them) and `HELO`;
//! `MAIL FROM`, any number of `RCPT TO`, `DATA` (dot-unstuffed, ended by
//! `<CRLF>.<CRLF>`), `RSET`, `NOOP`, `QUIT`; `STARTTLS` and `AUTH` when
//! configured. Any number of messages per connection, any number of
//! connections at once. Unknown commands get `500`, command lines over
//! [`MAX_LINE`] bytes `500`, messages over [`MAX_MESSAGE_SIZE`] `552`.
//!
//! Failure modes for tests: [`SinkOptions::reject`] recipients get
//! `550 5.1.1 no such user`; while [`SmtpSink::set_down`] is on, new
//! connections are greeted with `421` and closed and every command on an open
//! one but `QUIT` gets `451`; [`SmtpSink::stop`] closes the port (connection
//! refused) and [`SmtpSink::start_on`] opens it again.
//!
//! Depends on [`crate::task`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::task::spawn_until;

/// Largest message accepted, in bytes (also advertised as `SIZE`).
pub const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;
/// Longest command line accepted, in bytes without the CRLF (RFC 5321 asks
/// for at least 512; AUTH responses can be longer).
pub const MAX_LINE: usize = 4096;
/// Most recipients accepted in one transaction.
const MAX_RECIPIENTS: usize = 1000;
/// How long a connection may sit idle before the sink drops it.
const IDLE_TIMEOUT: Duration = Duration::from_mins(5);
/// How long the STARTTLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`SmtpSink::start_on`] keeps retrying a port still held by a
/// stopping listener.
const REBIND_PATIENCE: Duration = Duration::from_secs(5);

/// How a sink behaves. The default is plain SMTP on a free port, no
/// authentication, every recipient accepted.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Port to bind on 127.0.0.1; `0` picks a free one.
    pub port: u16,
    /// When set, `STARTTLS` is advertised and required: before it, only
    /// `EHLO`, `HELO`, `STARTTLS`, `NOOP`, `RSET` and `QUIT` are accepted,
    /// anything else gets `530`.
    pub starttls: Option<Arc<ServerConfig>>,
    /// When set, `AUTH PLAIN` and `AUTH LOGIN` are advertised (after
    /// STARTTLS, if that is required too) and `MAIL` needs a successful
    /// `AUTH` with this username and password first.
    pub auth: Option<(String, String)>,
    /// Recipients refused at `RCPT TO` with `550 5.1.1 no such user`
    /// (compared case-insensitively).
    pub reject: Vec<String>,
    /// When set, the sink also stops when this token is cancelled (pass a
    /// world's [`crate::World::shutdown_token`]).
    pub shutdown: Option<CancellationToken>,
    /// Address to bind instead of 127.0.0.1 (any of 127/8 on Linux), so
    /// that several sinks can share one port as distinct mail servers.
    pub ip: Option<Ipv4Addr>,
    /// Greeting lines instead of `220 sink ESMTP` (a multi-line greeting
    /// is `220-…` lines, then `220 …`), each sent as given plus CRLF.
    pub greeting: Vec<String>,
    /// Greets, then never answers anything (a stalling mail server).
    pub mute_after_greeting: bool,
}

impl SinkOptions {
    /// Binds this port (`0`: any free one).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Advertises and requires STARTTLS, upgrading with `config`.
    #[must_use]
    pub fn starttls(mut self, config: Arc<ServerConfig>) -> Self {
        self.starttls = Some(config);
        self
    }

    /// Requires `AUTH PLAIN` or `AUTH LOGIN` with these credentials.
    #[must_use]
    pub fn auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some((username.into(), password.into()));
        self
    }

    /// Refuses this recipient at `RCPT TO` with `550 5.1.1 no such user`.
    #[must_use]
    pub fn reject(mut self, recipient: impl Into<String>) -> Self {
        self.reject.push(recipient.into());
        self
    }

    /// Binds `ip` instead of 127.0.0.1.
    #[must_use]
    pub fn ip(mut self, ip: Ipv4Addr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Greets with these lines instead of `220 sink ESMTP`.
    #[must_use]
    pub fn greeting(mut self, lines: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.greeting = lines.into_iter().map(Into::into).collect();
        self
    }

    /// Greets, then reads and never answers.
    #[must_use]
    pub fn mute_after_greeting(mut self) -> Self {
        self.mute_after_greeting = true;
        self
    }

    /// Stops the sink when `token` is cancelled as well.
    #[must_use]
    pub fn within(mut self, token: &CancellationToken) -> Self {
        self.shutdown = Some(token.clone());
        self
    }
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The sink's number for it, from 1, as in `250 2.0.0 queued as <id>`.
    pub id: u64,
    /// The `MAIL FROM` address without the angle brackets (empty for `<>`).
    pub mail_from: String,
    /// Every accepted `RCPT TO` address, in order, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`: RFC 5322 text, dot-unstuffed,
    /// lines ended by CRLF, without the final `.` line. Bytes that are not
    /// UTF-8 are replaced with U+FFFD.
    pub data: String,
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// Whether the message came over a STARTTLS-upgraded connection.
    pub tls: bool,
    /// The username the client authenticated as, if it did.
    pub auth_user: Option<String>,
}

impl ReceivedMail {
    /// The header section, up to the first empty line.
    fn head(&self) -> &str {
        let data = self.data.as_str();
        match (data.find("\r\n\r\n"), data.find("\n\n")) {
            (Some(crlf), Some(lf)) if lf < crlf => data.get(..lf).unwrap_or(data),
            (Some(crlf), _) => data.get(..crlf).unwrap_or(data),
            (None, Some(lf)) => data.get(..lf).unwrap_or(data),
            (None, None) => data,
        }
    }

    /// Every header field as (name, unfolded value), in order.
    fn fields(&self) -> Vec<(&str, String)> {
        let mut fields: Vec<(&str, String)> = Vec::new();
        for line in self.head().lines() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) {
                // A folded continuation: unfolding removes only the CRLF.
                if let Some((_, value)) = fields.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim(), value.to_owned()));
            }
        }
        fields
            .into_iter()
            .map(|(name, value)| (name, value.trim().to_owned()))
            .collect()
    }

    /// The first header field called `name` (case-insensitive), unfolded
    /// and trimmed. Encoded words (`=?utf-8?...?=`) are left as sent.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        self.fields()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every header field called `name` (case-insensitive), in order,
    /// unfolded and trimmed.
    #[must_use]
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.fields()
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
            .collect()
    }

    /// Everything after the first empty line (empty when there is none),
    /// as sent: no transfer decoding.
    #[must_use]
    pub fn body(&self) -> &str {
        let data = self.data.as_str();
        let start = match (data.find("\r\n\r\n"), data.find("\n\n")) {
            (Some(crlf), Some(lf)) if lf < crlf => lf + 2,
            (Some(crlf), _) => crlf + 4,
            (None, Some(lf)) => lf + 2,
            (None, None) => return "",
        };
        data.get(start..).unwrap_or("")
    }
}

/// What every connection of one sink shares.
#[derive(Debug)]
struct Shared {
    starttls: Option<Arc<ServerConfig>>,
    greeting: Vec<String>,
    mute: bool,
    auth: Option<(String, String)>,
    reject: Mutex<Vec<String>>,
    down: AtomicBool,
    mail: Mutex<Vec<ReceivedMail>>,
    /// The number of messages in `mail`, for [`SmtpSink::wait_for`].
    count: watch::Sender<usize>,
    connections: AtomicUsize,
    next_id: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn rejects(&self, recipient: &str) -> bool {
        lock(&self.reject)
            .iter()
            .any(|r| r.eq_ignore_ascii_case(recipient))
    }

    fn store(&self, mut mail: ReceivedMail) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        mail.id = id;
        let count = {
            let mut all = lock(&self.mail);
            all.push(mail);
            all.len()
        };
        self.count.send_replace(count);
        id
    }
}

/// A running SMTP sink on 127.0.0.1. Dropping it stops it, as
/// [`SmtpSink::stop`] does, except that the port may take a moment longer to
/// close.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    options: SinkOptions,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    accept_loop: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpSink {
    /// Starts a plain-SMTP sink on a free port with the default options.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(SinkOptions::default()).await
    }

    /// Starts a default sink on `port`, typically one a stopped sink had.
    /// A port still held by a stopping listener is retried for a few
    /// seconds.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        Self::start_with(SinkOptions::default().port(port)).await
    }

    /// Starts a sink as `options` say.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start_with(options: SinkOptions) -> anyhow::Result<Self> {
        let listener = bind(options.ip.unwrap_or(Ipv4Addr::LOCALHOST), options.port).await?;
        let addr = listener.local_addr().context("listener address")?;
        let shutdown = match &options.shutdown {
            Some(parent) => parent.child_token(),
            None => CancellationToken::new(),
        };
        let shared = Arc::new(Shared {
            starttls: options.starttls.clone(),
            greeting: options.greeting.clone(),
            mute: options.mute_after_greeting,
            auth: options.auth.clone(),
            reject: Mutex::new(options.reject.clone()),
            down: AtomicBool::new(false),
            mail: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            connections: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        });
        let accept_loop = tokio::spawn(accept_until(
            listener,
            shutdown.clone(),
            Arc::clone(&shared),
        ));
        Ok(Self {
            addr,
            options,
            shared,
            shutdown,
            accept_loop: Mutex::new(Some(accept_loop)),
        })
    }

    /// Where the sink listens (127.0.0.1).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the sink listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The options the sink was started with (with the port it asked for,
    /// which is `0` unless one was given).
    #[must_use]
    pub fn options(&self) -> &SinkOptions {
        &self.options
    }

    /// Every message accepted so far, oldest first.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.mail).clone()
    }

    /// Forgets every message accepted so far (ids keep counting).
    pub fn clear(&self) {
        lock(&self.shared.mail).clear();
        self.shared.count.send_replace(0);
    }

    /// How many connections the sink has accepted (including those it
    /// greeted with `421` while down).
    #[must_use]
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` messages are in or `timeout` passes, then
    /// returns every message accepted so far (which may be fewer than `n`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut count = self.shared.count.subscribe();
        let _ = tokio::time::timeout(timeout, count.wait_for(|&c| c >= n)).await;
        self.messages()
    }

    /// While `down`, new connections are greeted with `421 4.3.2` and
    /// closed, and every command but `QUIT` on an open connection gets
    /// `451 4.3.0` (a message whose `DATA` ends while down is not kept).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Also refuses `recipient` at `RCPT TO` from now on.
    pub fn reject(&self, recipient: impl Into<String>) {
        lock(&self.shared.reject).push(recipient.into());
    }

    /// Stops the sink: closes the port (clients then get connection refused)
    /// and drops every open connection. When this returns the port is
    /// closed. Messages already accepted stay readable.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        let accept_loop = lock(&self.accept_loop).take();
        if let Some(accept_loop) = accept_loop {
            let _ = accept_loop.await;
        }
    }

    /// Whether [`SmtpSink::stop`] was called (or the parent token cancelled).
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Binds a listener on 127.0.0.1 with `SO_REUSEADDR`, so a port whose old
/// connections linger in `TIME_WAIT` can be listened on again. A port still
/// listened on (a stopping sink's) is retried until [`REBIND_PATIENCE`].
async fn bind(ip: Ipv4Addr, port: u16) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::from((ip, port));
    let deadline = tokio::time::Instant::now() + REBIND_PATIENCE;
    loop {
        let attempt = (|| {
            let socket = TcpSocket::new_v4()?;
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(1024)
        })();
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(err)
                if port != 0
                    && err.kind() == io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => {
                return Err(err).with_context(|| format!("binding the SMTP sink on {addr}"));
            }
        }
    }
}

/// Accepts connections until `shutdown`; the listener is dropped (the port
/// closed) when this returns.
async fn accept_until(listener: TcpListener, shutdown: CancellationToken, shared: Arc<Shared>) {
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    spawn_until(&shutdown, serve(stream, Arc::clone(&shared)));
                }
                // Out of descriptors or a connection reset before accept:
                // back off briefly and keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    // Errors are the client's problem (a reset, garbage, a failed
    // handshake): they simply end the connection.
    let _ = connection(stream, &shared).await;
}

async fn connection(mut stream: TcpStream, shared: &Shared) -> anyhow::Result<()> {
    if shared.down.load(Ordering::SeqCst) {
        stream
            .write_all(b"421 4.3.2 sink down, try again later\r\n")
            .await?;
        stream.shutdown().await?;
        return Ok(());
    }
    if shared.greeting.is_empty() {
        stream.write_all(b"220 sink ESMTP\r\n").await?;
    } else {
        for line in &shared.greeting {
            stream.write_all(format!("{line}\r\n").as_bytes()).await?;
        }
    }
    if shared.mute {
        // Reads whatever comes and never answers, until the client leaves.
        let mut sink = [0_u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        return Ok(());
    }
    let Some(plain) = session(stream, shared, false).await? else {
        return Ok(());
    };
    let Some(config) = &shared.starttls else {
        return Ok(());
    };
    let acceptor = TlsAcceptor::from(Arc::clone(config));
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(plain))
        .await
        .context("STARTTLS handshake timed out")??;
    // After STARTTLS the client starts over with EHLO; a TLS session never
    // asks to upgrade again.
    session(tls, shared, true).await?;
    Ok(())
}

/// One line from the client.
enum Line {
    /// Without its line ending.
    Text(Vec<u8>),
    /// Longer than the cap; it has been read and discarded.
    TooLong,
    /// The client closed the connection.
    Eof,
}

/// A buffered line reader and writer over one stream.
struct Conn<S> {
    io: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Reads one line ended by LF (a CR before it is dropped too).
    async fn line(&mut self, cap: usize) -> io::Result<Line> {
        let mut discarding = false;
        let mut scanned = 0;
        loop {
            let newline = self
                .buf
                .get(scanned..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'));
            if let Some(offset) = newline {
                let mut line: Vec<u8> = self.buf.drain(..=scanned + offset).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(if discarding || line.len() > cap {
                    Line::TooLong
                } else {
                    Line::Text(line)
                });
            }
            if self.buf.len() > cap {
                discarding = true;
                self.buf.clear();
            }
            scanned = self.buf.len();
            self.buf.reserve(16 * 1024);
            let n = tokio::time::timeout(IDLE_TIMEOUT, self.io.read_buf(&mut self.buf))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client idle"))??;
            if n == 0 {
                return Ok(Line::Eof);
            }
        }
    }

    async fn reply(&mut self, reply: &str) -> io::Result<()> {
        self.io.write_all(reply.as_bytes()).await?;
        self.io.write_all(b"\r\n").await?;
        self.io.flush().await
    }
}

/// Where a session is in the conversation.
#[derive(Default)]
struct State {
    helo: Option<String>,
    auth_user: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl State {
    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }
}

/// How a command leaves the session.
enum Next {
    Continue,
    Quit,
    StartTls,
}

/// Serves commands until QUIT, EOF or STARTTLS; returns the stream when the
/// client asked for STARTTLS (and got its `220`), with anything it
/// pipelined after the command thrown away.
async fn session<S>(io: S, shared: &Shared, secure: bool) -> anyhow::Result<Option<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Conn {
        io,
        buf: Vec::new(),
    };
    let mut state = State::default();
    loop {
        let line = match conn.line(MAX_LINE).await? {
            Line::Eof => return Ok(None),
            Line::TooLong => {
                conn.reply("500 5.5.2 line too long").await?;
                continue;
            }
            Line::Text(line) => line,
        };
        let line = String::from_utf8_lossy(&line);
        match command(&mut conn, shared, &mut state, secure, &line).await? {
            Next::Continue => {}
            Next::Quit => {
                let _ = conn.io.shutdown().await;
                return Ok(None);
            }
            Next::StartTls => return Ok(Some(conn.io)),
        }
    }
}

/// `s` without the case-insensitive `prefix`, if it starts with it.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Splits `<addr> PARAMS` (or a bare `addr PARAMS`) into the address and
/// the parameters; `<>` gives an empty address.
fn parse_path(rest: &str) -> Option<(String, &str)> {
    let rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let (addr, params) = inner.split_once('>')?;
        Some((addr.trim().to_owned(), params.trim()))
    } else {
        let mut parts = rest.splitn(2, char::is_whitespace);
        let addr = parts.next().filter(|a| !a.is_empty())?;
        Some((addr.to_owned(), parts.next().unwrap_or("").trim()))
    }
}

/// The `SIZE=` parameter's value, if there is one and it is a number.
fn size_param(params: &str) -> Option<usize> {
    params
        .split_whitespace()
        .find_map(|p| strip_prefix_ci(p, "SIZE="))
        .and_then(|v| v.parse().ok())
}

fn ehlo_reply(shared: &Shared, secure: bool) -> String {
    let mut lines = vec![
        "sink".to_owned(),
        "PIPELINING".to_owned(),
        "8BITMIME".to_owned(),
        "SMTPUTF8".to_owned(),
        format!("SIZE {MAX_MESSAGE_SIZE}"),
    ];
    let tls_pending = shared.starttls.is_some() && !secure;
    if tls_pending {
        lines.push("STARTTLS".to_owned());
    }
    if shared.auth.is_some() && !tls_pending {
        lines.push("AUTH PLAIN LOGIN".to_owned());
    }
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let sep = if i == last { ' ' } else { '-' };
            format!("250{sep}{line}")
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[allow(clippy::too_many_lines)] // one arm per verb reads best as one match
async fn command<S>(
    conn: &mut Conn<S>,
    shared: &Shared,
    state: &mut State,
    secure: bool,
    line: &str,
) -> anyhow::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (verb, rest) = line
        .trim_end()
        .split_once(' ')
        .unwrap_or((line.trim_end(), ""));
    let verb = verb.to_ascii_uppercase();
    let rest = rest.trim();

    if verb == "QUIT" {
        conn.reply("221 2.0.0 bye").await?;
        return Ok(Next::Quit);
    }
    if shared.down.load(Ordering::SeqCst) {
        conn.reply("451 4.3.0 sink down, try again later").await?;
        return Ok(Next::Continue);
    }
    let tls_pending = shared.starttls.is_some() && !secure;
    let before_tls_ok = matches!(
        verb.as_str(),
        "EHLO" | "HELO" | "STARTTLS" | "NOOP" | "RSET"
    );
    if tls_pending && !before_tls_ok {
        conn.reply("530 5.7.0 must issue a STARTTLS command first")
            .await?;
        return Ok(Next::Continue);
    }

    match verb.as_str() {
        "EHLO" | "HELO" => {
            if rest.is_empty() {
                conn.reply(&format!("501 5.5.4 {verb} needs a domain"))
                    .await?;
            } else {
                state.reset_transaction();
                state.helo = Some(rest.to_owned());
                if verb == "EHLO" {
                    conn.reply(&ehlo_reply(shared, secure)).await?;
                } else {
                    conn.reply("250 sink").await?;
                }
            }
        }
        "STARTTLS" => {
            if !tls_pending {
                conn.reply("502 5.5.1 STARTTLS not offered").await?;
            } else if !rest.is_empty() {
                conn.reply("501 5.5.4 STARTTLS takes no parameters").await?;
            } else {
                conn.reply("220 2.0.0 ready to start TLS").await?;
                return Ok(Next::StartTls);
            }
        }
        "AUTH" => auth(conn, shared, state, rest).await?,
        "MAIL" => {
            let Some(path) = strip_prefix_ci(rest, "FROM:") else {
                conn.reply("501 5.5.4 syntax: MAIL FROM:<address>").await?;
                return Ok(Next::Continue);
            };
            if state.helo.is_none() {
                conn.reply("503 5.5.1 send EHLO first").await?;
            } else if shared.auth.is_some() && state.auth_user.is_none() {
                conn.reply("530 5.7.0 authentication required").await?;
            } else if state.mail_from.is_some() {
                conn.reply("503 5.5.1 nested MAIL command").await?;
            } else {
                match parse_path(path) {
                    None => conn.reply("501 5.1.7 bad sender address").await?,
                    Some((_, params))
                        if size_param(params).is_some_and(|s| s > MAX_MESSAGE_SIZE) =>
                    {
                        conn.reply("552 5.3.4 message too big").await?;
                    }
                    Some((addr, _)) => {
                        state.mail_from = Some(addr);
                        conn.reply("250 2.1.0 OK").await?;
                    }
                }
            }
        }
        "RCPT" => {
            let Some(path) = strip_prefix_ci(rest, "TO:") else {
                conn.reply("501 5.5.4 syntax: RCPT TO:<address>").await?;
                return Ok(Next::Continue);
            };
            if state.mail_from.is_none() {
                conn.reply("503 5.5.1 need MAIL first").await?;
            } else if state.rcpt_to.len() >= MAX_RECIPIENTS {
                conn.reply("452 4.5.3 too many recipients").await?;
            } else {
                match parse_path(path) {
                    Some((addr, _)) if !addr.is_empty() => {
                        if shared.rejects(&addr) {
                            conn.reply("550 5.1.1 no such user").await?;
                        } else {
                            state.rcpt_to.push(addr);
                            conn.reply("250 2.1.5 OK").await?;
                        }
                    }
                    _ => conn.reply("501 5.1.3 bad recipient address").await?,
                }
            }
        }
        "DATA" => {
            if !rest.is_empty() {
                conn.reply("501 5.5.4 DATA takes no parameters").await?;
            } else if state.mail_from.is_none() {
                conn.reply("503 5.5.1 need MAIL first").await?;
            } else if state.rcpt_to.is_empty() {
                conn.reply("554 5.5.1 no valid recipients").await?;
            } else {
                conn.reply("354 end data with <CR><LF>.<CR><LF>").await?;
                return data(conn, shared, state, secure).await;
            }
        }
        "RSET" => {
            state.reset_transaction();
            conn.reply("250 2.0.0 OK").await?;
        }
        "NOOP" => conn.reply("250 2.0.0 OK").await?,
        _ => conn.reply("500 5.5.2 command not recognized").await?,
    }
    Ok(Next::Continue)
}

/// Reads the message after `354` up to the `.` line and keeps it.
async fn data<S>(
    conn: &mut Conn<S>,
    shared: &Shared,
    state: &mut State,
    secure: bool,
) -> anyhow::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut text: Vec<u8> = Vec::new();
    let mut too_big = false;
    loop {
        let line = match conn.line(MAX_MESSAGE_SIZE).await? {
            Line::Eof => return Ok(Next::Quit),
            Line::TooLong => {
                too_big = true;
                continue;
            }
            Line::Text(line) => line,
        };
        if line == b"." {
            break;
        }
        if too_big {
            continue;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        if text.len() + unstuffed.len() + 2 > MAX_MESSAGE_SIZE {
            too_big = true;
            text = Vec::new();
            continue;
        }
        text.extend_from_slice(unstuffed);
        text.extend_from_slice(b"\r\n");
    }
    let mail_from = state.mail_from.take().unwrap_or_default();
    let rcpt_to = std::mem::take(&mut state.rcpt_to);
    if too_big {
        conn.reply("552 5.3.4 message too big").await?;
    } else if shared.down.load(Ordering::SeqCst) {
        conn.reply("451 4.3.0 sink down, try again later").await?;
    } else {
        let id = shared.store(ReceivedMail {
            id: 0,
            mail_from,
            rcpt_to,
            data: String::from_utf8_lossy(&text).into_owned(),
            helo: state.helo.clone().unwrap_or_default(),
            tls: secure,
            auth_user: state.auth_user.clone(),
        });
        conn.reply(&format!("250 2.0.0 queued as {id}")).await?;
    }
    Ok(Next::Continue)
}

/// `Username:` and `Password:` in base64, the AUTH LOGIN challenges.
const LOGIN_USERNAME: &str = "334 VXNlcm5hbWU6";
const LOGIN_PASSWORD: &str = "334 UGFzc3dvcmQ6";

/// Reads one SASL response line; `None` when the client cancelled (`*`),
/// sent something too long or not base64, or closed.
async fn sasl_response<S>(conn: &mut Conn<S>) -> anyhow::Result<Option<Vec<u8>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match conn.line(MAX_LINE).await? {
        Line::Text(line) => {
            let line = String::from_utf8_lossy(&line);
            Ok(if line.trim() == "*" {
                None
            } else {
                base64_decode(&line)
            })
        }
        Line::TooLong | Line::Eof => Ok(None),
    }
}

async fn auth<S>(
    conn: &mut Conn<S>,
    shared: &Shared,
    state: &mut State,
    rest: &str,
) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some((user, pass)) = &shared.auth else {
        conn.reply("502 5.5.1 AUTH not offered").await?;
        return Ok(());
    };
    if state.helo.is_none() {
        conn.reply("503 5.5.1 send EHLO first").await?;
        return Ok(());
    }
    if state.auth_user.is_some() {
        conn.reply("503 5.5.1 already authenticated").await?;
        return Ok(());
    }
    if state.mail_from.is_some() {
        conn.reply("503 5.5.1 AUTH not allowed during a transaction")
            .await?;
        return Ok(());
    }
    let (mechanism, initial) = rest.split_once(' ').unwrap_or((rest, ""));
    let initial = initial.trim();
    let credentials = match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let response = if initial.is_empty() {
                conn.reply("334 ").await?;
                sasl_response(conn).await?
            } else if initial == "=" {
                Some(Vec::new())
            } else {
                base64_decode(initial)
            };
            response.and_then(|r| {
                // authzid NUL authcid NUL passwd
                let mut parts = r.split(|&b| b == 0);
                let _authzid = parts.next()?;
                let authcid = parts.next()?.to_vec();
                let passwd = parts.next()?.to_vec();
                parts.next().is_none().then_some((authcid, passwd))
            })
        }
        "LOGIN" => {
            let username = if initial.is_empty() {
                conn.reply(LOGIN_USERNAME).await?;
                sasl_response(conn).await?
            } else {
                base64_decode(initial)
            };
            match username {
                Some(username) => {
                    conn.reply(LOGIN_PASSWORD).await?;
                    sasl_response(conn)
                        .await?
                        .map(|password| (username, password))
                }
                None => None,
            }
        }
        _ => {
            conn.reply("504 5.5.4 unrecognized authentication mechanism")
                .await?;
            return Ok(());
        }
    };
    match credentials {
        None => {
            conn.reply("501 5.5.2 bad or cancelled AUTH response")
                .await?;
        }
        Some((u, p)) if u == user.as_bytes() && p == pass.as_bytes() => {
            state.auth_user = Some(user.clone());
            conn.reply("235 2.7.0 authentication successful").await?;
        }
        Some(_) => {
            conn.reply("535 5.7.8 authentication credentials invalid")
                .await?;
        }
    }
    Ok(())
}

/// Decodes standard base64 (padding optional, whitespace not allowed).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.trim().bytes() {
        if c == b'=' {
            break;
        }
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = ((acc << 6) | u32::from(value)) & 0x00ff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_sasl_plain() {
        assert_eq!(
            base64_decode("AGFsaWNlAHNlY3JldA==").unwrap(),
            b"\0alice\0secret"
        );
        assert_eq!(base64_decode("VXNlcm5hbWU6").unwrap(), b"Username:");
        assert!(base64_decode("not base64!").is_none());
    }

    #[test]
    fn headers_unfold_and_match_case_insensitively() {
        let mail = ReceivedMail {
            id: 1,
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            data: "Subject: a long\r\n\tsubject\r\nX-Tag: one\r\nx-tag: two\r\n\r\nbody\r\n\r\nmore\r\n"
                .to_owned(),
            helo: String::new(),
            tls: false,
            auth_user: None,
        };
        assert_eq!(mail.header("SUBJECT").unwrap(), "a long\tsubject");
        assert_eq!(mail.headers("x-tag"), ["one", "two"]);
        assert!(mail.header("from").is_none());
        assert_eq!(mail.body(), "body\r\n\r\nmore\r\n");
    }

    #[test]
    fn paths_parse_with_and_without_brackets() {
        assert_eq!(
            parse_path(" <a@b.test> SIZE=10 BODY=8BITMIME").unwrap(),
            ("a@b.test".to_owned(), "SIZE=10 BODY=8BITMIME")
        );
        assert_eq!(parse_path("a@b.test").unwrap(), ("a@b.test".to_owned(), ""));
        assert!(parse_path("<a@b.test").is_none());
        assert_eq!(size_param("BODY=7BIT size=42"), Some(42));
    }
}
