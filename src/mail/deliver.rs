//! Delivering the outbox: SMTP through lettre (`tls = none | starttls |
//! tls`, optional login), or `.eml` files in a folder; retries with
//! exponential backoff while the server is down; permanent refusals (5xx)
//! and messages that keep failing are given up and reported.
//!
//! A row is marked sent after the server accepted it. A crash between the
//! two (a window of one database write) sends it again after the restart,
//! with the same Message-ID, which mail systems use to drop duplicates; the
//! file transport names each file after its row, so it cannot duplicate.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::Serialize;

use super::text::header_line;
use crate::config::{Config, SmtpTls, Transport};
use crate::store::{OutboxRow, Store, StoreError, backoff};

/// Why a message was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Will never succeed (a 5xx, a malformed address): give up now.
    pub permanent: bool,
    /// The server refused the login (or demands one): nothing will go until
    /// the config or the server changes; no row is to blame.
    pub login: bool,
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            permanent: true,
            login: false,
            message: message.into(),
        }
    }

    fn transient(message: impl Into<String>) -> Self {
        Self {
            permanent: false,
            login: false,
            message: message.into(),
        }
    }
}

/// Why the mailer `[email]` describes cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up e-mail: {0}")]
pub struct MailSetupError(pub String);

/// The configured way out.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        server: String,
        /// Each step's timeout (`email.timeout_secs`).
        timeout: Duration,
    },
    File {
        directory: PathBuf,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed for now, queued again with backoff.
    pub retried: usize,
    pub given_up: usize,
}

/// One message's whole SMTP exchange may take this many step timeouts
/// (connect, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA and its end):
/// a server that answers each step just in time still cannot hold a
/// delivery pass for ever.
const STEPS: u32 = 4;

impl Mailer {
    /// The mailer `[email]` describes; TLS to the SMTP server trusts the web
    /// PKI and `probe.extra_roots` (a corporate CA). Must be called inside a
    /// tokio runtime (lettre's pooled transport needs one).
    ///
    /// # Errors
    /// [`MailSetupError`] naming the key and the problem (no SMTP host, a
    /// bad host name, an unusable root certificate).
    pub fn from_config(config: &Config) -> Result<Self, MailSetupError> {
        let email = &config.email;
        let from: Mailbox = email
            .from
            .to_string()
            .parse()
            .map_err(|e| MailSetupError(format!("email.from {}: {e}", email.from)))?;
        match email.transport {
            Transport::File => Ok(Self::File {
                directory: email.directory.clone(),
                from,
            }),
            Transport::Smtp => {
                let host = email.smtp_host.clone().ok_or_else(|| {
                    MailSetupError(
                        "email.transport is \"smtp\" but email.smtp_host is not set".to_owned(),
                    )
                })?;
                let tls = || -> Result<TlsParameters, MailSetupError> {
                    let mut params = TlsParameters::builder(host.clone());
                    for roots in &config.probe.extra_roots {
                        for der in &roots.certificates {
                            let cert = Certificate::from_der(der.to_vec()).map_err(|e| {
                                MailSetupError(format!(
                                    "probe.extra_roots {}: {e}",
                                    roots.path.display()
                                ))
                            })?;
                            params = params.add_root_certificate(cert);
                        }
                    }
                    params
                        .build()
                        .map_err(|e| MailSetupError(format!("email.smtp_host {host}: {e}")))
                };
                let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host);
                let builder = match email.tls {
                    SmtpTls::None => builder,
                    SmtpTls::StartTls => builder.tls(Tls::Required(tls()?)),
                    SmtpTls::Tls => builder.tls(Tls::Wrapper(tls()?)),
                };
                let mut builder = builder.port(email.smtp_port).timeout(Some(email.timeout));
                if let Some(user) = &email.username {
                    let password = email
                        .password
                        .as_ref()
                        .map(|p| p.expose().to_owned())
                        .unwrap_or_default();
                    builder = builder.credentials(Credentials::new(user.clone(), password));
                }
                Ok(Self::Smtp {
                    transport: builder.build(),
                    from,
                    server: format!("{host}:{}", email.smtp_port),
                    timeout: email.timeout,
                })
            }
        }
    }

    /// One line for logs: where mail goes.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp { server, .. } => format!("SMTP {server}"),
            Self::File { directory, .. } => format!(".eml files in {}", directory.display()),
        }
    }

    fn from(&self) -> &Mailbox {
        match self {
            Self::Smtp { from, .. } | Self::File { from, .. } => from,
        }
    }

    /// The RFC 5322 message for a row.
    ///
    /// # Errors
    /// A permanent [`SendError`] when the row cannot make a valid message.
    pub fn message(&self, row: &OutboxRow) -> Result<Message, SendError> {
        let to: Mailbox = row
            .recipient
            .parse()
            .map_err(|e| SendError::permanent(format!("recipient {:?}: {e}", row.recipient)))?;
        let mut builder = Message::builder()
            .from(self.from().clone())
            .to(to)
            .subject(header_line(&row.subject, 200))
            // Generated here, never from outside: kept whole so that it
            // matches the notices (a cut id would break the thread).
            .message_id(Some(row.message_id.clone()))
            .date(std::time::SystemTime::from(row.created_at));
        if let Some(parent) = &row.in_reply_to {
            builder = builder.in_reply_to(header_line(parent, 200));
        }
        if !row.references.is_empty() {
            builder = builder.references(header_line(&row.references.join(" "), 900));
        }
        let text = row.text.replace("\r\n", "\n");
        let mut message = match &row.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.clone())),
            None => builder.singlepart(SinglePart::plain(text)),
        }
        .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))?;
        let headers = message.headers_mut();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_owned(),
        ));
        Ok(message)
    }

    /// Sends one row (the caller claims it first; see [`deliver_due`]).
    ///
    /// # Errors
    /// [`SendError`], permanent for 5xx replies and bad rows.
    pub async fn send(&self, row: &OutboxRow) -> Result<(), SendError> {
        let message = self.message(row)?;
        match self {
            Self::Smtp {
                transport,
                server,
                timeout,
                ..
            } => match tokio::time::timeout(*timeout * STEPS, transport.send(message)).await {
                // lettre bounds each step; this bounds a server that answers
                // every step just in time, or one step lettre leaves open.
                Err(_) => Err(SendError::transient(format!(
                    "{server} did not complete the SMTP exchange within {} s (a silent or stalling server)",
                    (*timeout * STEPS).as_secs()
                ))),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) if e.is_permanent() => {
                    // 530 authentication required, 534/535/538 login refused.
                    let login = e.status().is_some_and(|code| {
                        matches!(code.to_string().as_str(), "530" | "534" | "535" | "538")
                    });
                    Err(SendError {
                        permanent: true,
                        login,
                        message: smtp_error(&e),
                    })
                }
                Ok(Err(e)) => Err(SendError::transient(smtp_error(&e))),
            },
            Self::File { directory, .. } => write_eml(directory, row, &message.formatted())
                .map_err(|e| SendError::transient(format!("{}: {e}", directory.display()))),
        }
    }
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    // lettre's message already carries its sources.
    e.to_string()
}

/// Writes `<row id>-<kind>.eml` atomically (a temporary file renamed).
fn write_eml(directory: &Path, row: &OutboxRow, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(directory)?;
    let name = format!(
        "{:08}-{}-{}.eml",
        row.id,
        row.kind,
        row.supplier.as_deref().unwrap_or("all")
    );
    let mut temp = tempfile::NamedTempFile::new_in(directory)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(directory.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// Sends every row due at `now` (at most `limit`), oldest first, while
/// `keep_going` says so (checked between rows); each row is claimed first,
/// so that two processes delivering at once never send the same one. Each
/// is marked sent, queued again with backoff, or given up after
/// `max_attempts` — at once for a refusal of that message or recipient (a
/// 5xx at RCPT or DATA). A refusal of the login (5xx at AUTH) is the
/// server's or the config's problem, not the message's: the row waits, with
/// backoff, like one for a server that is down.
///
/// # Errors
/// [`StoreError`] when the outbox cannot be read or updated.
pub async fn deliver_due(
    store: &Store,
    mailer: &Mailer,
    now: impl Fn() -> DateTime<Utc>,
    max_attempts: u32,
    limit: u32,
    keep_going: impl Fn() -> bool,
) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    let rows = store.outbox_due(now(), limit).await?;
    for row in rows {
        if !keep_going() {
            break;
        }
        if !store.outbox_claim(row.id, now()).await? {
            continue;
        }
        match mailer.send(&row).await {
            Ok(()) => {
                store.outbox_sent(row.id, now()).await?;
                report.sent += 1;
                tracing::info!(id = row.id, kind = %row.kind, to = %row.recipient, "e-mail sent");
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                let give_up = (e.permanent && !e.login) || attempts >= max_attempts;
                let at = now();
                let next = (!give_up).then(|| at + backoff(row.attempts));
                store
                    .outbox_attempt_failed(row.id, at, &e.message, next)
                    .await?;
                if give_up {
                    report.given_up += 1;
                    tracing::error!(id = row.id, to = %row.recipient, attempts, error = %e.message, "e-mail given up");
                } else {
                    report.retried += 1;
                    tracing::warn!(id = row.id, to = %row.recipient, attempts, error = %e.message, "e-mail not sent, will retry");
                }
                // The server is down or refuses us: the rest would fail the same way.
                if !e.permanent || e.login {
                    break;
                }
            }
        }
    }
    Ok(report)
}
