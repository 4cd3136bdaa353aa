//! A fixed set of HTTP/1.1 connections to Discord (or the proxy), one request at a
//! time on each. A request takes a free [`Lane`], waiting if none is free; the lane
//! keeps its connection between requests and opens a new one only when it has none
//! or the old one closed. So the client never has more connections open than it has
//! lanes, whatever the load, by construction rather than by a pool's timing.
//!
//! Kept rather than `reqwest` behind a semaphore, by measurement (`cargo bench
//! --bench connections`, figures in BENCHMARKS.md): with the permit held until the
//! answer is read, reqwest also kept to the 14 connections (reqwest's pool without
//! a semaphore had opened a 17th), and it matched the lanes' rate against a server
//! taking 2 ms; against an instant server the lanes sent 1.6-2.4 times as many
//! requests per second, that is, spent less CPU on each, on a 2-core machine that
//! also runs the database and the gateway.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use tracing::debug;

/// How long opening a connection (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Sender = http1::SendRequest<Full<Bytes>>;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where the connections go.
struct Target {
    /// For `TcpStream::connect`: no brackets around an IPv6 address.
    host: String,
    port: u16,
    /// The `Host` header.
    authority: String,
    /// The base URL's path, put before every request's path.
    prefix: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// The answer to one request, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Connections {
    target: Target,
    user_agent: HeaderValue,
    /// The lanes not in use, each with its open connection if it has one.
    idle: Mutex<Vec<Option<Sender>>>,
    /// As many permits as `idle` holds lanes.
    free: Semaphore,
}

/// One lane, taken for one request; it goes back (with its connection, if that
/// is still good) when dropped.
pub struct Lane<'a> {
    connections: &'a Connections,
    sender: Option<Sender>,
    _permit: SemaphorePermit<'a>,
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        // Back before the permit is released (fields drop after this), so the
        // next request always finds it.
        let mut idle = self
            .connections
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        idle.push(self.sender.take());
    }
}

/// The certificate authorities a browser trusts (Mozilla's list, built in).
fn public_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

fn tls_connector(roots: rustls::RootCertStore) -> anyhow::Result<TlsConnector> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

impl Connections {
    /// Up to `lanes` connections to `base` (`https://host` or `http://host:port`).
    /// An https server must present a certificate for its host name from a public
    /// certificate authority.
    pub fn new(base: &str, lanes: usize, user_agent: &str) -> anyhow::Result<Connections> {
        Self::with_roots(base, lanes, user_agent, public_roots)
    }

    /// As [`Connections::new`], trusting the authorities `roots` gives (tests use
    /// one of their own).
    fn with_roots(
        base: &str,
        lanes: usize,
        user_agent: &str,
        roots: impl FnOnce() -> rustls::RootCertStore,
    ) -> anyhow::Result<Connections> {
        let uri = Uri::from_str(base).with_context(|| format!("`{base}` is not a URL"))?;
        let host = uri
            .host()
            .with_context(|| format!("`{base}` has no host"))?
            .to_string();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => anyhow::bail!("`{base}` must start with http:// or https://"),
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = match uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = if https {
            let name = ServerName::try_from(bare.clone())
                .with_context(|| format!("`{host}` is not a server name"))?;
            Some((tls_connector(roots())?, name))
        } else {
            None
        };
        let lanes = lanes.max(1);
        Ok(Connections {
            target: Target {
                host: bare,
                port,
                authority,
                prefix: uri.path().trim_end_matches('/').to_string(),
                tls,
            },
            user_agent: HeaderValue::from_str(user_agent).context("user agent")?,
            idle: Mutex::new((0..lanes).map(|_| None).collect()),
            free: Semaphore::new(lanes),
        })
    }

    /// Waits for a free lane.
    pub async fn lane(&self) -> Result<Lane<'_>, String> {
        let permit = self
            .free
            .acquire()
            .await
            .map_err(|_| "client closed".to_string())?;
        let sender = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .flatten();
        Ok(Lane {
            connections: self,
            sender,
            _permit: permit,
        })
    }

    async fn connect(&self) -> Result<Sender, String> {
        let t = &self.target;
        let open = async {
            let tcp = TcpStream::connect((t.host.as_str(), t.port))
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", t.authority))?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = match &t.tls {
                None => Box::new(tcp),
                Some((tls, name)) => Box::new(
                    tls.connect(name.clone(), tcp)
                        .await
                        .map_err(|e| format!("TLS with {} failed: {e}", t.authority))?,
                ),
            };
            let (sender, connection) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| format!("HTTP with {} failed: {e}", t.authority))?;
            // Runs the connection until the lane drops its sender or the server
            // closes it.
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    debug!(error = %e, "a Discord connection closed with an error");
                }
            });
            Ok(sender)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "connecting to {} took longer than {} s",
                    t.authority,
                    CONNECT_TIMEOUT.as_secs()
                ))
            })
    }
}

impl Lane<'_> {
    /// Sends one request on this lane's connection (opening one if it has none, or
    /// if the old one was closed) and reads the whole answer. On any failure the
    /// connection is dropped, not reused; a transport failure is `Err` with its
    /// reason.
    pub async fn send(
        &mut self,
        method: &Method,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connections.connect().await?,
        };
        if sender.ready().await.is_err() {
            // Closed while idle (the server hung up): one fresh connection.
            sender = self.connections.connect().await?;
            sender.ready().await.map_err(|e| e.to_string())?;
        }
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.connections.target.prefix))
            .header(hyper::header::HOST, &self.connections.target.authority)
            .header(
                hyper::header::USER_AGENT,
                self.connections.user_agent.clone(),
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let (parts, incoming) = response.into_parts();
        let body = incoming
            .collect()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?
            .to_bytes();
        // Only a connection that carried a whole exchange is kept.
        self.sender = Some(sender);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn bases_are_read_with_their_ports_paths_and_tls() {
        let c = Connections::new("https://discord.com", 4, "ua").unwrap();
        let t = &c.target;
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("discord.com", 443, "discord.com")
        );
        assert!(t.tls.is_some());
        assert_eq!(t.prefix, "");
        let c = Connections::new("http://127.0.0.1:5000/proxy/", 4, "ua").unwrap();
        let t = &c.target;
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("127.0.0.1", 5000, "127.0.0.1:5000")
        );
        assert!(t.tls.is_none());
        assert_eq!(t.prefix, "/proxy");
        let c = Connections::new("http://[::1]:8080", 1, "ua").unwrap();
        assert_eq!(
            (c.target.host.as_str(), c.target.authority.as_str()),
            ("::1", "[::1]:8080")
        );
        assert!(Connections::new("ftp://example.com", 1, "ua").is_err());
        assert!(Connections::new("not a url", 1, "ua").is_err());
    }

    /// A server that answers one request per connection and then hangs up.
    async fn one_request_per_connection() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                    .await;
                // Hang up without saying so (no `connection: close`).
                drop(stream);
            }
        });
        (base, accepted)
    }

    #[tokio::test]
    async fn a_lane_whose_connection_was_closed_opens_a_new_one() {
        let (base, accepted) = one_request_per_connection().await;
        let c = Connections::new(&base, 1, "ua").unwrap();
        for i in 0..3 {
            let mut lane = c.lane().await.unwrap();
            // Let the hang-up of the previous connection reach the client first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let answer = lane.send(&Method::GET, "/x", &[], None).await;
            let answer = answer.unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(&answer.body[..], b"{}");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use prepbot_testkit::test_pki;

    /// What a TLS server saw of one connection.
    #[derive(Debug)]
    enum Seen {
        /// The handshake's server name and protocol, and the request's head.
        Request {
            sni: Option<String>,
            alpn: Option<Vec<u8>>,
            head: String,
        },
        HandshakeFailed,
    }

    /// A TLS server on 127.0.0.1 presenting `cert`, answering `200 ok`.
    async fn tls_server(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> (u16, tokio::sync::mpsc::UnboundedReceiver<Seen>) {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        let _ = tx.send(Seen::HandshakeFailed);
                        return;
                    };
                    let (_, session) = tls.get_ref();
                    let sni = session.server_name().map(str::to_string);
                    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&seen).into_owned();
                    let _ = tx.send(Seen::Request { sni, alpn, head });
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    let _ = tls.flush().await;
                    // Keep the connection until the client is done with it.
                    let _ = tls.read(&mut buf).await;
                });
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn https_checks_the_certificate_and_speaks_http1_over_tls() {
        let (ca, cert, key) = test_pki();
        let (port, mut seen) = tls_server(cert, key).await;
        let base = format!("https://localhost:{port}");
        let c = Connections::with_roots(&base, 1, "prepbot-test", || {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).unwrap();
            roots
        })
        .unwrap();
        let mut lane = c.lane().await.unwrap();
        let answer = lane
            .send(&Method::GET, "/api/v10/gateway", &[], None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(&answer.body[..], b"ok");
        let Some(Seen::Request { sni, alpn, head }) = seen.recv().await else {
            panic!("no request reached the server");
        };
        assert_eq!(sni.as_deref(), Some("localhost"), "SNI names the host");
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(
            head.starts_with("GET /api/v10/gateway HTTP/1.1\r\n"),
            "{head}"
        );
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains(&format!("\r\nhost: localhost:{port}\r\n")),
            "{head}"
        );
        assert!(head.contains("\r\nuser-agent: prepbot-test\r\n"), "{head}");
    }

    #[tokio::test]
    async fn https_refuses_a_server_whose_certificate_no_public_authority_signed() {
        let (_ca, cert, key) = test_pki();
        let (port, mut seen) = tls_server(cert, key).await;
        let c = Connections::new(&format!("https://localhost:{port}"), 1, "ua").unwrap();
        let mut lane = c.lane().await.unwrap();
        let err = lane
            .send(&Method::GET, "/api/v10/gateway", &[], None)
            .await
            .expect_err("an unknown authority is not trusted");
        assert!(
            err.starts_with(&format!("TLS with localhost:{port} failed")),
            "{err}"
        );
        assert!(err.contains("certificate"), "{err}");
        assert!(matches!(seen.recv().await, Some(Seen::HandshakeFailed)));
    }
}
