//! A real `redis-server` for a test, on a free loopback port, killed when dropped.
//!
//! Tests that use it are `#[ignore = "needs redis-server"]`: `cargo test` skips them, and
//! `cargo test -- --include-ignored` (what CI runs) needs `redis-server` installed, failing
//! with a clear message when it is not.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A `redis-server` child process.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

enum StartError {
    Missing,
    Failed(String),
}

impl RedisServer {
    /// Starts a server on a free port.
    ///
    /// # Panics
    /// When `redis-server` is not installed or cannot be started.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dingtalk-login-redis-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("create a working directory for redis-server");
        let mut last = String::new();
        // A free port can be taken by someone else before redis binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            match spawn(port, &dir, &[]).await {
                Ok(child) => {
                    return Self {
                        child: Some(child),
                        port,
                        dir,
                    }
                }
                Err(StartError::Missing) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!(
                        "redis-server is not installed: this test needs it \
                         (apt-get install redis-server)"
                    );
                }
                Err(StartError::Failed(why)) => last = why,
            }
        }
        panic!("could not start redis-server: {last}");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: no goodbye to the clients) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and the kernel keeps taking
    /// commands, but nothing is answered or run until [`thaw`](Self::thaw).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT): it runs, in order, what it was sent meanwhile.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Starts a fresh, empty server on the same port, with `extra` arguments (for example
    /// `["--requirepass", "pw"]`).
    ///
    /// # Panics
    /// When it does not come up within 10 s.
    pub async fn restart(&mut self, extra: &[&str]) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match spawn(self.port, &self.dir, extra).await {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(StartError::Failed(why)) if Instant::now() < deadline => {
                    eprintln!("redis-server restart: {why}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(StartError::Failed(why)) => panic!("could not restart redis-server: {why}"),
                Err(StartError::Missing) => panic!("redis-server disappeared"),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

async fn spawn(port: u16, dir: &PathBuf, extra: &[&str]) -> Result<Child, StartError> {
    let port_arg = port.to_string();
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port_arg,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StartError::Missing,
            _ => StartError::Failed(e.to_string()),
        })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(StartError::Failed(format!(
                "redis-server exited with {status} (port {port} taken?)"
            )));
        }
        if answers_ping(port).await {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(StartError::Failed(format!(
                "redis-server did not answer PING on port {port} within 10 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a server answers on the port (`+PONG`, or `-NOAUTH` when it wants a password).
async fn answers_ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
