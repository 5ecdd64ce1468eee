//! Checks that the test world serves what it promises: DNS answers, a
//! rustls client's verdict on every TLS case, and the raw responders' bytes.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::net::{DnsError, NetError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme,
};
use supplywatch_testworld::proto::op::ResponseCode;
use supplywatch_testworld::proto::rr::RData;
use supplywatch_testworld::raw::{self, HandshakeMessage};
use supplywatch_testworld::{DnsRecord, TlsCase, World, dns};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::prelude::{FromDer as _, X509Certificate};

const STEP: Duration = Duration::from_secs(10);

fn client_config(world: &World) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&world.roots_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    Arc::new(config)
}

async fn connect(world: &World, case: TlsCase) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(world.addr(case)).await?;
    let name = ServerName::try_from(case.host()).unwrap();
    tokio::time::timeout(
        STEP,
        TlsConnector::from(client_config(world)).connect(name, tcp),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))?
}

fn cert_error(err: &io::Error) -> CertificateError {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(e)) => e.clone(),
        _ => panic!("not a certificate error: {err:?}"),
    }
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> X509Certificate<'a> {
    X509Certificate::from_der(der).unwrap().1
}

/// Sends `hello` and reads until a ServerHelloDone, EOF or the timeout.
async fn raw_exchange(world: &World, case: TlsCase, hello: &[u8]) -> Vec<HandshakeMessage> {
    let mut tcp = TcpStream::connect(world.addr(case)).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(STEP, async {
        loop {
            if let Ok((messages, _)) = raw::handshake_messages(&buf)
                && messages.last().map(|m| m.msg_type) == Some(raw::SERVER_HELLO_DONE)
            {
                return messages;
            }
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed after {} bytes", buf.len());
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn dns_resolves_case_hosts_and_refuses_the_rest() {
    let world = World::builder()
        .record(DnsRecord::txt("example.test", ["v=spf1 -all"]))
        .record(DnsRecord::mx("example.test", 10, "mail.example.test").unwrap())
        .record(DnsRecord::aaaa("example.test", "::1".parse().unwrap()))
        .servfail("broken.example.test")
        .start()
        .await
        .unwrap();
    let resolver = world.resolver().unwrap();

    for case in TlsCase::ALL {
        let ips: Vec<IpAddr> = resolver
            .lookup_ip(format!("{}.", case.host()))
            .await
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ips, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], "{case}");
    }

    let missing = resolver
        .lookup_ip(format!("{}.", dns::MISSING_HOST))
        .await
        .unwrap_err();
    assert!(missing.is_nx_domain(), "{missing:?}");

    for name in [dns::SERVFAIL_HOST, "broken.example.test"] {
        let err = resolver.lookup_ip(format!("{name}.")).await.unwrap_err();
        assert!(
            matches!(
                err,
                NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))
            ),
            "{name}: {err:?}"
        );
    }

    let txt = resolver.txt_lookup("example.test.").await.unwrap();
    assert_eq!(txt.answers()[0].data.to_string(), "v=spf1 -all");
    let mx = resolver
        .lookup(
            "example.test.",
            supplywatch_testworld::proto::rr::RecordType::MX,
        )
        .await
        .unwrap();
    assert!(
        matches!(&mx.answers()[0].data, RData::MX(m) if m.exchange.to_ascii() == "mail.example.test.")
    );
}

#[tokio::test]
async fn dns_answers_over_tcp_too() {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let world = World::start().await.unwrap();
    let mut server = NameServerConfig::tcp(world.dns.ip());
    server.connections[0].port = world.dns.port();
    let resolver = hickory_resolver::TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![server]),
        TokioRuntimeProvider::default(),
    )
    .build()
    .unwrap();
    let ips = resolver.lookup_ip("good-rsa.tls.test.").await.unwrap();
    assert_eq!(
        ips.iter().collect::<Vec<_>>(),
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
    );
}

#[tokio::test]
async fn good_cases_verify_and_answer_http() {
    let world = World::start().await.unwrap();
    for case in [
        TlsCase::GoodEcdsa,
        TlsCase::GoodRsa,
        TlsCase::Expiring,
        TlsCase::LongValidity,
        TlsCase::Legacy,
    ] {
        let mut tls = connect(&world, case)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e:?}"));
        let (_, session) = tls.get_ref();
        assert_eq!(
            session.protocol_version(),
            Some(ProtocolVersion::TLSv1_3),
            "{case}"
        );
        let served: Vec<_> = session.peer_certificates().unwrap().to_vec();
        assert_eq!(served, world.served_chain(case), "{case}");
        assert_eq!(served.len(), 2, "{case}: leaf + intermediate");

        tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        tls.read_to_string(&mut response).await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200 OK"),
            "{case}: {response}"
        );
    }

    let leaf = world.served_chain(TlsCase::GoodRsa)[0].clone();
    let leaf = parse(&leaf);
    assert_eq!(
        leaf.public_key().algorithm.algorithm,
        x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION
    );
}

#[tokio::test]
async fn tls12_only_negotiates_tls12() {
    let world = World::start().await.unwrap();
    let tls = connect(&world, TlsCase::Tls12Only).await.unwrap();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(ProtocolVersion::TLSv1_2)
    );
}

type IsExpected = fn(&CertificateError) -> bool;

#[tokio::test]
async fn bad_cases_fail_verification_for_their_reason() {
    let world = World::start().await.unwrap();
    let expect: [(TlsCase, IsExpected); 7] = [
        (TlsCase::Expired, |e| {
            matches!(
                e,
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        }),
        (TlsCase::NotYetValid, |e| {
            matches!(
                e,
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
            )
        }),
        (TlsCase::WrongHost, |e| {
            matches!(
                e,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        }),
        (TlsCase::SelfSigned, |e| {
            matches!(e, CertificateError::UnknownIssuer)
        }),
        (TlsCase::UntrustedRoot, |e| {
            matches!(e, CertificateError::UnknownIssuer)
        }),
        (TlsCase::IncompleteChain, |e| {
            matches!(e, CertificateError::UnknownIssuer)
        }),
        (TlsCase::Sha1, |e| {
            matches!(
                e,
                CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                    | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            )
        }),
    ];
    for (case, is_expected) in expect {
        let err = connect(&world, case)
            .await
            .err()
            .unwrap_or_else(|| panic!("{case} verified"));
        let cert_err = cert_error(&err);
        assert!(is_expected(&cert_err), "{case}: {cert_err:?}");
    }
}

#[tokio::test]
async fn certificate_dates_follow_now() {
    let world = World::start().await.unwrap();
    let now = world.now.unix_timestamp();
    let day = 86_400;
    let dates = |case: TlsCase| {
        let chain = world.served_chain(case);
        let leaf = parse(&chain[0]);
        (
            leaf.validity().not_before.timestamp(),
            leaf.validity().not_after.timestamp(),
        )
    };
    let close = |a: i64, b: i64| (a - b).abs() <= 1;
    let (nb, na) = dates(TlsCase::GoodEcdsa);
    assert!(close(nb, now - 10 * day) && close(na, now + 80 * day));
    let (_, na) = dates(TlsCase::Expired);
    assert!(close(na, now - 3 * day));
    let (nb, na) = dates(TlsCase::Expiring);
    assert!(close(na, now + 5 * day) && close(na - nb, 90 * day));
    let (nb, _) = dates(TlsCase::NotYetValid);
    assert!(close(nb, now + 2 * day));
    let (nb, na) = dates(TlsCase::LongValidity);
    assert!(close(nb, now - 10 * day) && close(na - nb, 400 * day));

    let wrong = parse(&world.served_chain(TlsCase::WrongHost)[0]);
    let san = wrong.subject_alternative_name().unwrap().unwrap();
    assert_eq!(
        format!("{:?}", san.value.general_names),
        "[DNSName(\"other.example.test\")]"
    );
    assert_eq!(world.served_chain(TlsCase::IncompleteChain).len(), 1);
    assert_eq!(world.served_chain(TlsCase::Sha1).len(), 1);
    let self_signed = parse(&world.served_chain(TlsCase::SelfSigned)[0]);
    assert_eq!(self_signed.issuer(), self_signed.subject());
}

#[tokio::test]
async fn roots_pem_holds_the_trusted_roots_only() {
    let world = World::start().await.unwrap();
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&world.roots_pem)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let names: Vec<String> = roots
        .iter()
        .map(|c| parse(c).subject().to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            "O=supplywatch tests, CN=supplywatch Test Root CA",
            "CN=supplywatch Fixture SHA-1 Root, O=supplywatch tests",
            "CN=supplywatch Fixture PSS Root, O=supplywatch tests",
        ]
    );
    assert!(!roots.contains(world.pki().rogue_root()));
    assert_eq!(&roots[0], world.pki().root());
    assert!(world.roots_pem.starts_with(world.dir()));
}

#[tokio::test]
async fn rsa1024_raw_responder_sends_the_weak_chain() {
    let world = World::start().await.unwrap();
    let hello = raw::legacy_client_hello(raw::TLS12, &[raw::ECDHE_RSA_AES128_GCM_SHA256]);
    let messages = raw_exchange(&world, TlsCase::Rsa1024, &hello).await;
    let types: Vec<u8> = messages.iter().map(|m| m.msg_type).collect();
    assert_eq!(
        types,
        vec![
            raw::SERVER_HELLO,
            raw::CERTIFICATE,
            raw::SERVER_KEY_EXCHANGE,
            raw::SERVER_HELLO_DONE,
        ]
    );
    let hello = &messages[0];
    assert_eq!(hello.record_version, raw::TLS12);
    assert_eq!(&hello.body[..2], &raw::TLS12.to_be_bytes());
    assert_eq!(
        &hello.body[35..37],
        &raw::ECDHE_RSA_AES128_GCM_SHA256.to_be_bytes()
    );
    let chain = raw::parse_certificate_body(&messages[1].body).unwrap();
    assert_eq!(chain, world.served_chain(TlsCase::Rsa1024));
    assert_eq!(chain.len(), 2);
    let leaf = parse(&chain[0]);
    let x509_parser::public_key::PublicKey::RSA(rsa) = leaf.public_key().parsed().unwrap() else {
        panic!("not RSA");
    };
    assert_eq!(rsa.key_size(), 1024);
    assert_eq!(&chain[1], world.pki().intermediate());

    // A real client fails (it cannot finish) rather than hang...
    let err = connect(&world, TlsCase::Rsa1024).await.unwrap_err();
    assert_ne!(err.kind(), io::ErrorKind::TimedOut, "{err:?}");

    // ...but a rustls client's verifier gets to see the weak chain first.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(Capture {
            seen: Arc::clone(&seen),
            provider,
        }));
    let tcp = TcpStream::connect(world.addr(TlsCase::Rsa1024))
        .await
        .unwrap();
    let name = ServerName::try_from(TlsCase::Rsa1024.host()).unwrap();
    let err = tokio::time::timeout(
        STEP,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(*seen.lock().unwrap(), chain, "{err:?}");
}

/// A verifier that records the chain and accepts it, then checks the
/// handshake signature for real.
#[derive(Debug)]
struct Capture {
    seen: Arc<Mutex<Vec<CertificateDer<'static>>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut seen = self.seen.lock().unwrap();
        seen.push(end_entity.clone().into_owned());
        seen.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[tokio::test]
async fn legacy_answers_old_hellos_in_their_version() {
    let world = World::start().await.unwrap();
    for version in [raw::TLS10, raw::TLS11] {
        let hello = raw::legacy_client_hello(version, &[0x00ff, 0xc013, 0x002f]);
        let messages = raw_exchange(&world, TlsCase::Legacy, &hello).await;
        let server_hello = &messages[0];
        assert_eq!(server_hello.msg_type, raw::SERVER_HELLO);
        assert_eq!(server_hello.record_version, version);
        assert_eq!(&server_hello.body[..2], &version.to_be_bytes());
        assert_eq!(&server_hello.body[35..37], &0xc013u16.to_be_bytes());
        assert_eq!(messages[1].msg_type, raw::CERTIFICATE);
        assert_eq!(
            raw::parse_certificate_body(&messages[1].body).unwrap(),
            world.served_chain(TlsCase::Legacy)
        );
    }
}

#[tokio::test]
async fn stall_says_nothing_and_closed_refuses() {
    let world = World::start().await.unwrap();
    let mut tcp = TcpStream::connect(world.addr(TlsCase::Stall))
        .await
        .unwrap();
    tcp.write_all(&raw::legacy_client_hello(raw::TLS12, &[0xc02f]))
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), tcp.read(&mut byte))
            .await
            .is_err(),
        "stall sent something"
    );

    let err = TcpStream::connect(world.addr(TlsCase::Closed))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert!(
        world
            .endpoint(TlsCase::Closed)
            .starts_with("closed.tls.test:")
    );
}

#[tokio::test]
async fn dropping_the_world_stops_its_servers() {
    let world = World::start().await.unwrap();
    let addrs = [
        world.addr(TlsCase::GoodEcdsa),
        world.addr(TlsCase::Stall),
        world.dns,
    ];
    let dir = world.dir().to_path_buf();
    for addr in addrs {
        TcpStream::connect(addr).await.unwrap();
    }
    drop(world);
    assert!(!dir.exists());
    let deadline = tokio::time::Instant::now() + STEP;
    for addr in addrs {
        while TcpStream::connect(addr).await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{addr} still listening"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
