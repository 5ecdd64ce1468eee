//! The mail-server probe: for each MX host of a supplier domain (at most
//! [`MAX_MX`], lowest preference first), resolve it, connect to the SMTP
//! port, read the banner, `EHLO`, `STARTTLS`, and capture the negotiated
//! protocol, the certificate and its chain with the TLS probe's own capture
//! ([`TlsProber::handshake_over`]), the MX name as the host. Beside the
//! dialogue, the TLSA records at `_25._tcp.<mx>` (RFC 7672 2.2.1) and, when
//! there are some, the DNSSEC presence facts of the MX name's zone.
//!
//! Every step is bounded by the probe timeout and every reply is capped
//! (line length, lines, transcript), so a server that greets and then never
//! answers `EHLO`, or trickles an endless reply, ends within the timeout
//! with the stage it stopped at. Never fails: what went wrong is in the
//! observation. Judging is left to `checks::mx`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::cert::{self, DaneDigests};
use super::dns::{self, DnssecFacts, DomainObservation, MxRecord, NamedAnswer};
use super::resolve::{DnsResolver, TargetRule};
use super::tls::TlsProber;
use super::{EndpointObservation, Reach};
use crate::config::ProbeConfig;

/// MX hosts probed per domain at most; the rest are named as skipped.
pub const MAX_MX: usize = 10;
/// The port DANE names (`_25._tcp`) and findings name (`mx-host:25`),
/// whatever port a test setup connects to.
pub const SMTP_PORT: u16 = 25;
/// Bytes of one reply line read at most (RFC 5321 4.5.3.1.5 allows 512).
pub const MAX_REPLY_LINE: usize = 1024;
/// Lines of one multi-line reply read at most.
pub const MAX_REPLY_LINES: usize = 64;
/// Transcript lines kept as evidence.
pub const MAX_TRANSCRIPT: usize = 48;
/// Bytes of a TLSA record's data kept in hex (its SHA-512 is always kept).
pub const MAX_TLSA_DATA: usize = 64;

/// The MX hosts of one domain, as probed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailServers {
    /// The port connected to: 25 unless a test setup says otherwise.
    pub port: u16,
    /// Probed hosts, lowest preference first.
    pub probed: Vec<MailServerObservation>,
    /// MX hosts past the first [`MAX_MX`], not probed.
    pub skipped: Vec<String>,
    /// How many MX hosts were not probed (including any the DNS answer
    /// had beyond the records kept).
    pub skipped_total: usize,
}

/// A step of the SMTP dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpStage {
    Resolve,
    Connect,
    Banner,
    Ehlo,
    StartTls,
    Handshake,
}

impl SmtpStage {
    /// The step in words.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Resolve => "resolving the host",
            Self::Connect => "connecting",
            Self::Banner => "the greeting",
            Self::Ehlo => "EHLO",
            Self::StartTls => "STARTTLS",
            Self::Handshake => "the TLS handshake",
        }
    }
}

/// How far the SMTP dialogue got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SmtpSession {
    /// Not probed: the host resolves to an address probes may not touch.
    Refused { address: IpAddr, reason: String },
    /// No connection: the name did not resolve or the port did not answer
    /// (outbound port 25 is blocked on many networks).
    Unreached {
        stage: SmtpStage,
        error: String,
        timed_out: bool,
    },
    /// Connected, but the dialogue stopped before STARTTLS could be judged:
    /// a stall, a closed connection, a refusal of this client (4xx/5xx
    /// greeting or EHLO), a malformed or oversized reply.
    Stopped {
        stage: SmtpStage,
        error: String,
        timed_out: bool,
    },
    /// EHLO answered without offering STARTTLS.
    NoStartTls { extensions: Vec<String> },
    /// STARTTLS offered, but the command was refused.
    StartTlsRefused { reply: String },
    /// STARTTLS accepted: the handshake is in the observation's `tls`.
    StartTls,
}

/// One TLSA record (RFC 6698 2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaRecord {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    /// The association data in hex, cut at [`MAX_TLSA_DATA`] bytes.
    pub data: String,
    /// Its length in bytes.
    pub data_len: usize,
    /// SHA-512 of the whole data: how an exact match (type 0) is judged.
    pub data_sha512: String,
}

/// DNSSEC presence for the MX name's zone, looked up when it has TLSA
/// records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxZone {
    /// The zone apex found by the NS climb from the MX name.
    pub apex: Option<String>,
    pub dnssec: DnssecFacts,
}

/// What one MX host showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailServerObservation {
    pub host: String,
    pub preference: u16,
    /// `mx-host:25`, the finding target.
    pub target: String,
    /// The port connected to.
    pub port: u16,
    pub addresses: Vec<IpAddr>,
    pub session: SmtpSession,
    /// The dialogue, `C:`/`S:` lines, capped.
    pub transcript: Vec<String>,
    /// The STARTTLS handshake as a TLS endpoint observation (target
    /// `mx-host:25`, no legacy-protocol probes).
    pub tls: Option<EndpointObservation>,
    /// DANE digests of each presented certificate that parses.
    #[serde(default)]
    pub dane: Vec<DaneDigests>,
    /// TLSA records at `_25._tcp.<mx>`.
    pub tlsa: Option<NamedAnswer<TlsaRecord>>,
    /// The MX zone's DNSSEC facts, when there are TLSA records.
    pub zone: Option<MxZone>,
    pub elapsed_ms: u64,
}

impl MailServerObservation {
    /// Whether the dialogue reached the point where STARTTLS is judged.
    #[must_use]
    pub fn reached(&self) -> bool {
        match &self.session {
            SmtpSession::NoStartTls { .. } | SmtpSession::StartTlsRefused { .. } => true,
            // A handshake that timed out is silence, not an answer.
            SmtpSession::StartTls => self.tls.as_ref().is_some_and(|t| {
                !matches!(
                    t.reach,
                    Reach::Unreachable {
                        timed_out: true,
                        ..
                    }
                )
            }),
            SmtpSession::Refused { .. }
            | SmtpSession::Unreached { .. }
            | SmtpSession::Stopped { .. } => false,
        }
    }
}

/// Shared, read-only state for MX probes.
#[derive(Clone)]
pub struct SmtpProber {
    tls: TlsProber,
    resolver: DnsResolver,
    timeout: Duration,
    port: u16,
    rule: TargetRule,
}

impl SmtpProber {
    #[must_use]
    pub fn new(config: &ProbeConfig, tls: TlsProber, resolver: DnsResolver) -> Self {
        Self {
            tls,
            resolver,
            timeout: config.timeout,
            port: config.smtp_port,
            rule: TargetRule::of(config),
        }
    }

    /// Probes the MX hosts of a domain observation; `None` when it has none
    /// to probe (no MX, a null MX, a failed lookup).
    pub async fn probe_domain(&self, domain: &DomainObservation) -> Option<MailServers> {
        let mx = domain.mx.as_ref()?;
        let (chosen, skipped, skipped_total) = choose(mx);
        if chosen.is_empty() {
            return None;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (index, record) in chosen.into_iter().enumerate() {
            let prober = self.clone();
            tasks.spawn(async move {
                (
                    index,
                    prober.probe_mx(&record.exchange, record.preference).await,
                )
            });
        }
        let mut probed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(done) => probed.push(done),
                Err(e) => tracing::error!("an MX probe task failed: {e}"),
            }
        }
        probed.sort_by_key(|(index, _)| *index);
        Some(MailServers {
            port: self.port,
            probed: probed.into_iter().map(|(_, o)| o).collect(),
            skipped,
            skipped_total,
        })
    }

    /// Probes one MX host. Never fails.
    pub async fn probe_mx(&self, host: &str, preference: u16) -> MailServerObservation {
        let started = Instant::now();
        let mut obs = MailServerObservation {
            host: host.to_owned(),
            preference,
            target: format!("{host}:{SMTP_PORT}"),
            port: self.port,
            addresses: Vec::new(),
            session: SmtpSession::Unreached {
                stage: SmtpStage::Resolve,
                error: String::new(),
                timed_out: false,
            },
            transcript: Vec::new(),
            tls: None,
            dane: Vec::new(),
            tlsa: None,
            zone: None,
            elapsed_ms: 0,
        };
        let ((), (tlsa, zone)) = tokio::join!(self.dialogue(&mut obs), self.dane_records(host));
        obs.tlsa = Some(tlsa);
        obs.zone = zone;
        obs.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        obs
    }

    /// TLSA at `_25._tcp.<host>`; with records, the zone's DNSSEC facts.
    async fn dane_records(&self, host: &str) -> (NamedAnswer<TlsaRecord>, Option<MxZone>) {
        let name = format!("_{SMTP_PORT}._tcp.{host}");
        let tlsa = dns::lookup(&self.resolver, &name, RecordType::TLSA, |r| match r {
            RData::TLSA(t) => Some(tlsa_record(
                u8::from(t.cert_usage),
                u8::from(t.selector),
                u8::from(t.matching),
                &t.cert_data,
            )),
            _ => None,
        })
        .await;
        if tlsa.answer.records().is_empty() {
            return (tlsa, None);
        }
        let ns = dns::nameservers(&self.resolver, host).await;
        let apex = ns.found().map(|s| s.name.clone());
        let dnssec = dns::dnssec(&self.resolver, host, apex.as_deref()).await;
        (tlsa, Some(MxZone { apex, dnssec }))
    }

    async fn dialogue(&self, obs: &mut MailServerObservation) {
        let addresses = match timeout(self.timeout, self.resolver.addresses(&obs.host)).await {
            Ok(Ok(ips)) => ips,
            Ok(Err(failure)) => {
                let timed_out = failure == crate::probe::LookupFailure::Timeout;
                obs.session = unreached(SmtpStage::Resolve, failure.to_string(), timed_out);
                return;
            }
            Err(_) => {
                obs.session = unreached(SmtpStage::Resolve, "the lookup timed out".into(), true);
                return;
            }
        };
        obs.addresses = addresses;
        if let Some((ip, refusal)) = obs
            .addresses
            .iter()
            .find_map(|ip| self.rule.refuses(*ip).map(|why| (*ip, why)))
        {
            obs.session = SmtpSession::Refused {
                address: ip,
                reason: format!("resolves to {ip}, {}; {}", refusal.reason, refusal.remedy()),
            };
            return;
        }
        let stream = match self.tls.connect(&obs.addresses, self.port).await {
            Ok((stream, _)) => stream,
            Err((error, timed_out)) => {
                obs.session = unreached(SmtpStage::Connect, error, timed_out);
                return;
            }
        };
        let mut talk = Dialogue::new(stream, self.timeout);
        let outcome = talk.up_to_starttls().await;
        obs.transcript = std::mem::take(&mut talk.transcript);
        match outcome {
            Err(stop) => obs.session = stop.into_session(),
            Ok(Upgrade::NoStartTls(extensions)) => {
                talk.quit().await;
                obs.session = SmtpSession::NoStartTls { extensions };
            }
            Ok(Upgrade::Refused(reply)) => {
                talk.quit().await;
                obs.session = SmtpSession::StartTlsRefused { reply };
            }
            Ok(Upgrade::Ready) => {
                obs.session = SmtpSession::StartTls;
                let started = Instant::now();
                let (reach, tls, chain) = self.tls.handshake_over(talk.stream, &obs.host).await;
                obs.dane = chain
                    .iter()
                    .enumerate()
                    .filter_map(|(i, der)| cert::dane_digests(i, der))
                    .collect();
                obs.tls = Some(EndpointObservation {
                    target: obs.target.clone(),
                    host: obs.host.clone(),
                    port: SMTP_PORT,
                    addresses: obs.addresses.clone(),
                    reach,
                    tls,
                    legacy: Vec::new(),
                    elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
    }
}

fn unreached(stage: SmtpStage, error: String, timed_out: bool) -> SmtpSession {
    SmtpSession::Unreached {
        stage,
        error,
        timed_out,
    }
}

/// The MX records to probe: the null MX left out, each host once, lowest
/// preference first (then by name), at most [`MAX_MX`]; the names skipped
/// and how many were skipped in all.
fn choose(mx: &NamedAnswer<MxRecord>) -> (Vec<MxRecord>, Vec<String>, usize) {
    let mut records: Vec<MxRecord> = mx
        .answer
        .records()
        .iter()
        .filter(|r| r.exchange != "." && !r.exchange.is_empty())
        .cloned()
        .collect();
    records.sort_by(|a, b| {
        a.preference
            .cmp(&b.preference)
            .then_with(|| a.exchange.cmp(&b.exchange))
    });
    let mut seen = HashSet::new();
    records.retain(|r| seen.insert(r.exchange.clone()));
    let beyond_kept = mx.answer.total().saturating_sub(mx.answer.records().len());
    let rest = records.split_off(records.len().min(MAX_MX));
    let skipped_total = rest.len() + beyond_kept;
    (
        records,
        rest.into_iter().map(|r| r.exchange).collect(),
        skipped_total,
    )
}

/// One TLSA record's facts.
#[must_use]
pub fn tlsa_record(usage: u8, selector: u8, matching: u8, data: &[u8]) -> TlsaRecord {
    let data_hex = crate::store::hex(data.get(..MAX_TLSA_DATA).unwrap_or(data));
    TlsaRecord {
        usage,
        selector,
        matching,
        data: data_hex,
        data_len: data.len(),
        data_sha512: cert::digest_hex(&ring::digest::SHA512, data),
    }
}

/// Where the dialogue ended, short of a TLS handshake.
enum Upgrade {
    /// EHLO's extension keywords (lines after the greeting line).
    NoStartTls(Vec<String>),
    /// The reply to STARTTLS.
    Refused(String),
    /// `220` to STARTTLS: the stream is ready for the handshake.
    Ready,
}

/// Why the dialogue stopped.
#[derive(Debug, thiserror::Error)]
enum DialogueError {
    #[error("no reply within {0:.1} s")]
    TimedOut(f32),
    #[error("the server closed the connection")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a reply line longer than {MAX_REPLY_LINE} bytes")]
    LineTooLong,
    #[error("a reply of more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    #[error("a malformed reply line: {0:?}")]
    Malformed(String),
    #[error("the server refused this client: {0}")]
    Refused(String),
    #[error("the server sent data after its 220 to STARTTLS, before the handshake")]
    DataAfterStartTls,
}

/// A stop at a stage.
struct Stop {
    stage: SmtpStage,
    error: DialogueError,
}

impl Stop {
    fn into_session(self) -> SmtpSession {
        SmtpSession::Stopped {
            stage: self.stage,
            timed_out: matches!(self.error, DialogueError::TimedOut(_)),
            error: format!("{}: {}", self.stage.describe(), self.error),
        }
    }
}

/// A parsed SMTP reply (RFC 5321 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    /// The text of each line, after the code and separator.
    lines: Vec<String>,
}

impl Reply {
    fn first_line(&self) -> String {
        format!(
            "{} {}",
            self.code,
            self.lines.first().map_or("", String::as_str)
        )
    }
}

/// The dialogue over one connection, with its transcript.
struct Dialogue {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
    transcript: Vec<String>,
}

impl Dialogue {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            timeout,
            transcript: Vec::new(),
        }
    }

    fn note(&mut self, line: String) {
        if self.transcript.len() < MAX_TRANSCRIPT {
            self.transcript.push(line);
        }
    }

    /// Greeting, EHLO, STARTTLS: up to the point where TLS starts.
    async fn up_to_starttls(&mut self) -> Result<Upgrade, Stop> {
        let at = |stage| move |error| Stop { stage, error };
        let banner = self.reply().await.map_err(at(SmtpStage::Banner))?;
        if banner.code != 220 {
            return Err(at(SmtpStage::Banner)(DialogueError::Refused(
                banner.first_line(),
            )));
        }
        let helo = self.helo_name();
        self.send(&format!("EHLO {helo}"))
            .await
            .map_err(at(SmtpStage::Ehlo))?;
        let ehlo = self.reply().await.map_err(at(SmtpStage::Ehlo))?;
        if ehlo.code != 250 {
            return Err(at(SmtpStage::Ehlo)(DialogueError::Refused(
                ehlo.first_line(),
            )));
        }
        let extensions: Vec<String> = ehlo.lines.iter().skip(1).cloned().collect();
        let offers = extensions.iter().any(|l| {
            l.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
        });
        if !offers {
            return Ok(Upgrade::NoStartTls(extensions));
        }
        self.send("STARTTLS")
            .await
            .map_err(at(SmtpStage::StartTls))?;
        let reply = self.reply().await.map_err(at(SmtpStage::StartTls))?;
        if reply.code != 220 {
            return Ok(Upgrade::Refused(reply.first_line()));
        }
        if !self.buf.is_empty() {
            return Err(at(SmtpStage::StartTls)(DialogueError::DataAfterStartTls));
        }
        Ok(Upgrade::Ready)
    }

    /// `[address]` of this end (RFC 5321 4.1.3): no host name to claim.
    fn helo_name(&self) -> String {
        match self.stream.local_addr().map(|a| a.ip()) {
            Ok(IpAddr::V4(ip)) => format!("[{ip}]"),
            Ok(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            Err(_) => "[127.0.0.1]".to_owned(),
        }
    }

    async fn send(&mut self, command: &str) -> Result<(), DialogueError> {
        self.note(format!("C: {command}"));
        let line = format!("{command}\r\n");
        match timeout(self.timeout, self.stream.write_all(line.as_bytes())).await {
            Ok(result) => result.map_err(DialogueError::Io),
            Err(_) => Err(DialogueError::TimedOut(self.timeout.as_secs_f32())),
        }
    }

    /// Says goodbye without waiting long for the answer.
    async fn quit(&mut self) {
        let _ = timeout(Duration::from_secs(1), async {
            let _ = self.stream.write_all(b"QUIT\r\n").await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }

    /// One whole reply, all of it within the timeout.
    async fn reply(&mut self) -> Result<Reply, DialogueError> {
        let limit = self.timeout;
        let mut lines: Vec<String> = Vec::new();
        let read = async {
            loop {
                let line = self.line().await?;
                self.note(format!("S: {line}"));
                let (code, last, text) = parse_reply_line(&line)?;
                if lines.len() >= MAX_REPLY_LINES {
                    return Err(DialogueError::TooManyLines);
                }
                lines.push(text);
                if last {
                    return Ok(code);
                }
            }
        };
        match timeout(limit, read).await {
            Ok(Ok(code)) => Ok(Reply { code, lines }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DialogueError::TimedOut(limit.as_secs_f32())),
        }
    }

    /// One line ended by LF (a CR before it dropped), at most
    /// [`MAX_REPLY_LINE`] bytes, decoded lossily.
    async fn line(&mut self) -> Result<String, DialogueError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > MAX_REPLY_LINE {
                    return Err(DialogueError::LineTooLong);
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > MAX_REPLY_LINE + 2 {
                return Err(DialogueError::LineTooLong);
            }
            let mut chunk = [0_u8; 2048];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(DialogueError::Closed);
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

/// A reply line: its code, whether it is the last line (`ddd ` or `ddd`
/// alone) and its text (RFC 5321 4.2.1).
fn parse_reply_line(line: &str) -> Result<(u16, bool, String), DialogueError> {
    let malformed = || DialogueError::Malformed(line.chars().take(80).collect());
    let code = line.get(..3).ok_or_else(malformed)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let code: u16 = code.parse().map_err(|_| malformed())?;
    if !(200..600).contains(&code) {
        return Err(malformed());
    }
    match line.as_bytes().get(3) {
        None => Ok((code, true, String::new())),
        Some(b' ') => Ok((code, true, line.get(4..).unwrap_or("").to_owned())),
        Some(b'-') => Ok((code, false, line.get(4..).unwrap_or("").to_owned())),
        Some(_) => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::dns::Answer;

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line("250-mx.example.test hello").unwrap(),
            (250, false, "mx.example.test hello".to_owned())
        );
        assert_eq!(
            parse_reply_line("250 STARTTLS").unwrap(),
            (250, true, "STARTTLS".to_owned())
        );
        assert_eq!(parse_reply_line("220").unwrap(), (220, true, String::new()));
        assert!(parse_reply_line("22").is_err());
        assert!(parse_reply_line("abc hello").is_err());
        assert!(parse_reply_line("250_x").is_err());
        assert!(parse_reply_line("999 x").is_err());
    }

    fn mx(records: &[(u16, &str)], total: usize) -> NamedAnswer<MxRecord> {
        NamedAnswer {
            name: "acme.test".to_owned(),
            answer: Answer::Records {
                records: records
                    .iter()
                    .map(|(p, e)| MxRecord {
                        preference: *p,
                        exchange: (*e).to_owned(),
                    })
                    .collect(),
                total,
                ignored: 0,
            },
        }
    }

    #[test]
    fn at_most_ten_hosts_lowest_preference_first_each_once() {
        let many: Vec<(u16, String)> = (0..50_u16)
            .map(|i| (50 - i, format!("mx{i}.acme.test")))
            .collect();
        let records: Vec<(u16, &str)> = many.iter().map(|(p, e)| (*p, e.as_str())).collect();
        let (chosen, skipped, total) = choose(&mx(&records, 70));
        assert_eq!(chosen.len(), MAX_MX);
        assert_eq!(chosen.first().unwrap().exchange, "mx49.acme.test");
        assert_eq!(chosen.first().unwrap().preference, 1);
        assert_eq!(skipped.len(), 40);
        // 40 kept but skipped, 20 the answer had beyond the records kept.
        assert_eq!(total, 60);

        let (chosen, skipped, total) = choose(&mx(
            &[
                (20, "b.acme.test"),
                (10, "a.acme.test"),
                (30, "a.acme.test"),
            ],
            3,
        ));
        assert_eq!(
            chosen
                .iter()
                .map(|r| r.exchange.as_str())
                .collect::<Vec<_>>(),
            ["a.acme.test", "b.acme.test"]
        );
        assert!(skipped.is_empty());
        assert_eq!(total, 0);

        let (chosen, _, _) = choose(&mx(&[(0, ".")], 1));
        assert!(chosen.is_empty(), "a null MX is not probed");
    }

    #[test]
    fn tlsa_data_is_cut_and_digested_whole() {
        let record = tlsa_record(3, 1, 0, &[0xab; 300]);
        assert_eq!(record.data.len(), MAX_TLSA_DATA * 2);
        assert_eq!(record.data_len, 300);
        assert_eq!(
            record.data_sha512,
            cert::digest_hex(&ring::digest::SHA512, &[0xab; 300])
        );
    }
}
