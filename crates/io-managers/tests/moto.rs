//! A real S3-compatible server for the S3 tests: `moto_server` on a free loopback port.
//!
//! One server serves the whole test binary (starting one takes a second or two); each test gets
//! its own prefix in one bucket. The server runs under a small shell that kills it when this
//! process's end of its stdin pipe closes, so it never outlives the tests, even though a
//! `static` is never dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The bucket every S3 test writes to.
pub(crate) const BUCKET: &str = "strata-conformance";

/// A running `moto_server`.
pub(crate) struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared server, started on first use. Panics (failing the test) when `moto_server` is
/// missing: the S3 tests never pass silently.
pub(crate) fn moto() -> &'static Moto {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    match MOTO.get_or_init(start) {
        Ok(moto) => moto,
        Err(message) => panic!("{message}"),
    }
}

/// A prefix no other test in this process uses.
pub(crate) fn fresh_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{test}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn start() -> Result<Moto, String> {
    let binary = std::env::var("STRATA_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let found = Command::new(&binary)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        return Err(format!(
            "the S3 tests need `moto_server` (looked for `{binary}`; set STRATA_MOTO_SERVER to \
             its path): run `bash tests/run.sh`, which installs it, or `pip install 'moto[server]'`"
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free loopback port: {error}"))?
        .port();
    let child = Command::new("sh")
        .args([
            "-c",
            r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & server=$!; cat >/dev/null; kill $server; wait $server"#,
        ])
        .arg(&binary)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|error| format!("starting `{binary}` failed: {error}"))?;
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(status) = request(port, "PUT", &format!("/{BUCKET}")) {
            if status == 200 {
                return Ok(moto);
            }
            return Err(format!(
                "creating bucket `{BUCKET}` on moto answered HTTP {status}"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "`{binary}` did not answer on port {port} within 60 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One plain HTTP/1.1 request; the status code of the answer.
fn request(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:.80}")))
}
