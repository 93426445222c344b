//! TLS as users' machines have it: the client checks the server's certificate against the
//! operating system's trust store, so a company's TLS-inspecting proxy with its own CA works
//! once that CA is trusted by the machine, and a certificate no trusted CA signed is refused
//! before a byte of the user's files goes out. The server here is the reference server behind a
//! loopback HTTPS front whose certificate a throwaway CA signed. On Linux the platform's store is
//! the system bundle, or the file `SSL_CERT_FILE` names instead (how it is pointed at for one
//! process, as `update-ca-certificates` would for the whole machine).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use tokio_rustls::rustls;

/// A throwaway CA and a server certificate it signed for 127.0.0.1.
struct TestCa {
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

fn test_ca(name: &str) -> TestCa {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    TestCa {
        ca_pem: ca_cert.pem(),
        leaf_der: leaf_cert.der().to_vec(),
        leaf_key_der: leaf_key.serialize_der(),
    }
}

/// `https://127.0.0.1:PORT` in front of the plain-HTTP test server: TLS with `ca`'s server
/// certificate, then every byte copied both ways.
struct HttpsFront {
    url: String,
    /// Handshakes that completed (a client that refused the certificate completes none).
    handshakes: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl HttpsFront {
    fn start(upstream: &str, ca: &TestCa) -> HttpsFront {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(ca.leaf_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.leaf_key_der.clone())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, upstream, counted) =
                    (acceptor.clone(), upstream.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                    }
                });
            }
        });
        HttpsFront {
            url,
            handshakes,
            _runtime: runtime,
        }
    }
}

/// A trust store file: the machine's own bundle (when it has one) plus `extra` CAs.
fn trust_store(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut pem = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    for ca in extra {
        pem.push('\n');
        pem.push_str(ca);
    }
    let path = dir.join("trusted.pem");
    std::fs::write(&path, pem).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_server_whose_ca_the_system_trusts_syncs_both_ways_over_https() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let ca = test_ca("Hyperclay Sync test CA (a company's TLS proxy)");
    let front = HttpsFront::start(&server.url(), &ca);
    let store = tempfile::tempdir().unwrap();
    let mut client = Client::start_stopped(&front.url, &token);
    client.set_env("SSL_CERT_FILE", &trust_store(store.path(), &[&ca.ca_pem]));
    client.write("over-tls.html", "<p>sent over https</p>");
    client.spawn();
    client.wait_synced();
    assert!(wait_until(DEADLINE, || api.get("over-tls.html").as_deref()
        == Some("<p>sent over https</p>")));
    // And back: the app edited on the platform comes down over the same TLS.
    api.save("over-tls", "<p>edited on the platform</p>");
    assert!(wait_until(DEADLINE, || client
        .read("over-tls.html")
        .as_deref()
        == Some("<p>edited on the platform</p>")));
    assert!(front.handshakes.load(Ordering::SeqCst) >= 1);
}

#[test]
fn a_certificate_no_trusted_ca_signed_is_refused_and_nothing_is_sent() {
    let server = TestServer::start();
    let token = server.token("demo");
    let api = Api::new(&server.url(), &token);
    let ca = test_ca("A CA nobody installed");
    let front = HttpsFront::start(&server.url(), &ca);
    let store = tempfile::tempdir().unwrap();
    // The machine trusts another CA, not the one that signed this server's certificate.
    let other = test_ca("Some other company's CA");
    let mut client = Client::start_stopped(&front.url, &token);
    client.set_env(
        "SSL_CERT_FILE",
        &trust_store(store.path(), &[&other.ca_pem]),
    );
    client.write("secret.html", "<p>must not leave</p>");
    client.spawn();
    let said = |s: &serde_json::Value| {
        let reason = s["reason"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        s["state"] == "offline" && reason.contains("certificate")
    };
    assert!(
        wait_until(DEADLINE, || said(&client.status())),
        "{}",
        client.status()
    );
    assert_eq!(
        front.handshakes.load(Ordering::SeqCst),
        0,
        "a handshake completed"
    );
    assert_eq!(api.get("secret.html"), None);
}
