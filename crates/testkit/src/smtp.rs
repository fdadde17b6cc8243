//! A real SMTP server on loopback for one test (OPS-05): Python's
//! `aiosmtpd` with STARTTLS required (a CA and a server certificate for
//! `127.0.0.1`/`localhost` generated with `openssl` per run) and AUTH
//! PLAIN/LOGIN with a fixed user. Every accepted message is appended as a
//! JSON line (envelope, decoded headers, text and HTML parts, raw data) to a
//! file the test reads. RCPT TO `reject@…` is refused with 550.
//!
//! Needs `python3` with `aiosmtpd` and `openssl` on the PATH; `.ci/run`
//! installs them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("../scripts/smtp_server.py");

/// The SMTP user the server accepts.
pub const SMTP_USER: &str = "carfin-test";
/// Its password.
pub const SMTP_PASSWORD: &str = "s3cret-test-password";

/// A running test SMTP server; killed on drop.
pub struct SmtpServer {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The CA certificate (PEM) that signed the server's certificate: the
    /// value for `email.smtp_ca_file`.
    pub ca_file: PathBuf,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn missing(what: &str, detail: &str) -> ! {
    panic!(
        "the SMTP test server needs {what} ({detail}); `.ci/run` installs it \
         (python3 -m pip install aiosmtpd; apt-get install openssl)"
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| missing("openssl", &e.to_string()));
    if !output.status.success() {
        panic!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl SmtpServer {
    /// Generates the certificates, starts the server and waits until it
    /// accepts connections.
    pub async fn start() -> SmtpServer {
        let dir = tempfile::Builder::new()
            .prefix("carfin-smtp-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let d = dir.path();
        let check = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .unwrap_or_else(|e| missing("python3", &e.to_string()));
        if !check.status.success() {
            missing(
                "the Python package aiosmtpd",
                String::from_utf8_lossy(&check.stderr).trim(),
            );
        }
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=carfin test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(d, &ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(d, &csr);
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap_or_else(|e| panic!("write server.ext: {e}"));
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        let script = d.join("smtp_server.py");
        std::fs::write(&script, SCRIPT).unwrap_or_else(|e| panic!("write script: {e}"));
        let log = d.join("messages.jsonl");
        let port_file = d.join("port");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&log)
            .arg(d.join("server.pem"))
            .arg(d.join("server.key"))
            .arg(SMTP_USER)
            .arg(SMTP_PASSWORD)
            .arg(&port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| missing("python3", &e.to_string()));
        let mut server = SmtpServer {
            port: 0,
            ca_file: d.join("ca.pem"),
            log,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the SMTP test server exited at start ({status})");
            }
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                let address = SocketAddr::from(([127, 0, 0, 1], port));
                if tokio::net::TcpStream::connect(address).await.is_ok() {
                    server.port = port;
                    return server;
                }
            }
            if Instant::now() > deadline {
                panic!("the SMTP test server did not start within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `smtp://USER:PASSWORD@127.0.0.1:PORT?tls=required` (STARTTLS).
    pub fn url(&self) -> String {
        format!(
            "smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{}?tls=required",
            self.port
        )
    }

    /// The messages received so far, one JSON object (text) each, with the
    /// keys `mail_from`, `rcpt_tos`, `authenticated`, `tls`, `from`, `to`,
    /// `subject`, `message_id`, `content_type`, `text`, `html` and `data`.
    pub fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
