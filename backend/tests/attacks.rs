//! The `xero-sync` binary attacked on loopback as an outsider would (issue 10), run as a child process so
//! that its memory (`/proc/<pid>/status`), its log (stderr) and its sockets are its own: a burst of wrong
//! passwords, hundreds of slow and idle connections, and a stream of wrong API keys.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_xero-sync");
const PASSWORD: &str = "correct horse battery staple";
/// The throttles' numbers (backend/src/admin/login.rs, backend/src/api/mod.rs).
const MAX_FAILURES: usize = 10;
const CONCURRENT_CHECKS: u64 = 2;
const WRONG_KEYS_PER_MINUTE: usize = 20;
/// argon2's memory per check with the default parameters `xero-sync hash-password` uses (m=19456 KiB).
const ARGON2_KIB: u64 = 19_456;

/// `xero-sync` in production mode on a free loopback port, in a directory of its own, its stderr kept.
struct Service {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    dir: PathBuf,
}

impl Service {
    fn start(vars: &[(&str, &str)]) -> Service {
        let dir = std::env::temp_dir().join(format!("xero-sync-attacks-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let hash = backend::crypto::hash_password(PASSWORD).expect("hash");
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("XERO_SYNC_ADDR", "127.0.0.1:0")
            .env("XERO_SYNC_DATA_DIR", &dir)
            .env("XERO_SYNC_DATABASE_URL", format!("sqlite://{}/x.db?mode=rwc", dir.display()))
            .env("XERO_SYNC_ADMIN_PASSWORD_HASH", hash)
            .env("XERO_CLIENT_ID", "client")
            .env("XERO_CLIENT_SECRET", "secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start xero-sync");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&strip_colours(&line));
                log.push('\n');
            }
        });
        let mut banner = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut banner).expect("banner");
        let url = banner
            .strip_prefix("xero-sync is running on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no banner: {banner}"))
            .to_owned();
        Service { child, url, log, dir }
    }

    fn address(&self) -> &str {
        self.url.strip_prefix("http://").expect("http")
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A `/proc/<pid>/status` field in KiB (`VmRSS`: resident now; `VmHWM`: the peak so far).
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {status}"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Without the terminal colour codes a logger might add.
fn strip_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A client whose connections come from `local` (any 127.x address reaches the service on loopback).
fn client_from(local: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn login(service: &Service, http: &reqwest::Client, password: &str) -> reqwest::Response {
    http.post(format!("{}/admin/login", service.url)).form(&[("password", password)]).send().await.expect("login")
}

fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(needle)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_runs_at_most_the_throttles_checks_in_bounded_memory() {
    let service = Service::start(&[]);
    let health = reqwest::get(format!("{}/health", service.url)).await.expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    let resident_before = service.memory_kib("VmRSS");

    let attacker = client_from(Ipv4Addr::LOCALHOST);
    let burst = (0..100).map(|i| {
        let (service, attacker) = (&service, &attacker);
        async move { login(service, attacker, &format!("guess-{i}")).await.status() }
    });
    let statuses = futures::future::join_all(burst).await;
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((refused, throttled), (MAX_FAILURES, 100 - MAX_FAILURES), "{statuses:?}");

    // The bound: at most two argon2 checks' memory at once, plus 32 MiB for everything else the burst
    // touches (100 connections, their tasks and buffers, allocator slack). Unthrottled, the 100 checks
    // would have wanted 100 × 19 MiB.
    let peak = service.memory_kib("VmHWM");
    let bound = CONCURRENT_CHECKS * ARGON2_KIB + 32 * 1024;
    let grew = peak.saturating_sub(resident_before);
    eprintln!("resident before {resident_before} KiB, peak after {peak} KiB: grew {grew} KiB (bound {bound} KiB)");
    assert!(grew <= bound, "the burst took the process from {resident_before} KiB to a peak of {peak} KiB");

    // Each check that ran is one log line naming the client, never the password.
    let admin = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let accepted = login(&service, &admin, PASSWORD).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER, "another client's right password logs in");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = service.log();
    let failed = lines_with(&log, "admin login failed");
    assert_eq!(failed.len(), MAX_FAILURES, "{log}");
    assert!(failed.iter().all(|line| line.contains("client=127.0.0.1")), "{log}");
    assert!(!log.contains("guess-") && !log.contains(PASSWORD), "a password reached the log: {log}");
    assert_eq!(lines_with(&log, "admin logins from this address are paused").len(), 1, "one line per lock: {log}");
    assert!(lines_with(&log, "admin logged in").iter().any(|line| line.contains("client=127.0.0.2")), "{log}");
}

/// What one attacking socket does until the service closes it.
#[derive(Debug, Clone, Copy)]
enum Attack {
    /// Sends a request head a header line at a time, never ending it.
    SlowHeader,
    /// Connects and sends nothing.
    Idle,
    /// Sends a whole head announcing a body, then the body a byte at a time.
    SlowBody,
    /// Asks for a large file and never reads it.
    SlowRead,
}

/// Runs `attack` on a new connection; returns how long the service took to close it.
async fn attack(address: String, attack: Attack, give_up: Duration) -> Result<Duration, String> {
    let mut stream = TcpStream::connect(&address).await.map_err(|e| format!("connect: {e}"))?;
    let opened = Instant::now();
    let head = match attack {
        Attack::SlowHeader => format!("GET /health HTTP/1.1\r\nHost: {address}\r\n"),
        Attack::Idle => String::new(),
        Attack::SlowBody => format!(
            "POST /api/session HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: \
             1000\r\n\r\n{{"
        ),
        Attack::SlowRead => format!("GET /widget/big.bin HTTP/1.1\r\nHost: {address}\r\n\r\n"),
    };
    stream.write_all(head.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
    if let Attack::SlowRead = attack {
        // Read nothing while the service's buffers fill; later, drain: a closed connection ends short of
        // the whole file, an open one would go on (and keep the socket).
        tokio::time::sleep(give_up / 2).await;
        let mut received = 0usize;
        let mut buffer = vec![0; 1 << 16];
        let drained = tokio::time::timeout(give_up, async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        return match drained {
            Ok(()) if received < BIG_FILE => Ok(opened.elapsed()),
            Ok(()) => Err(format!(
                "the connection outlived a client reading nothing: the whole file arrived ({received} bytes)"
            )),
            Err(_) => Err(format!("still open after {:?}", opened.elapsed())),
        };
    }
    let mut buffer = [0u8; 1024];
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Ok(opened.elapsed()),
                Ok(_) => {} // an answer (the slow body's 400); the close follows
            },
            _ = tick.tick() => {
                let trickle: &[u8] = match attack {
                    Attack::SlowHeader => b"X-Slow: 1\r\n",
                    Attack::SlowBody => b" ",
                    Attack::Idle | Attack::SlowRead => b"",
                };
                if !trickle.is_empty() && stream.write_all(trickle).await.is_err() {
                    return Ok(opened.elapsed());
                }
                if opened.elapsed() > give_up {
                    return Err(format!("{attack:?} still open after {:?}", opened.elapsed()));
                }
            }
        }
    }
}

const BIG_FILE: usize = 48 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_within_the_timeouts_and_health_keeps_answering() {
    // Short limits for the test, and a cap below the attack's size so that it is reached.
    let widget = std::env::temp_dir().join(format!("xero-sync-attacks-widget-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&widget).expect("widget dir");
    std::fs::write(widget.join("big.bin"), vec![b'x'; BIG_FILE]).expect("big file");
    let widget_dir = widget.display().to_string();
    let service = Service::start(&[
        ("XERO_SYNC_HEADER_TIMEOUT_SECS", "1"),
        ("XERO_SYNC_IDLE_TIMEOUT_SECS", "1"),
        ("XERO_SYNC_BODY_TIMEOUT_SECS", "1"),
        ("XERO_SYNC_MAX_CONNECTIONS", "200"),
        ("XERO_SYNC_WIDGET_DIR", &widget_dir),
    ]);
    let address = service.address().to_owned();
    // Every connection, the ones waiting for a place included, is closed within the header or idle
    // timeout of being accepted, so within two timeouts of opening, plus a margin for a busy machine.
    let give_up = Duration::from_secs(6);

    let plan = [(Attack::SlowHeader, 120), (Attack::Idle, 120), (Attack::SlowBody, 40), (Attack::SlowRead, 20)];
    let mut attackers = Vec::new();
    for (kind, count) in plan {
        for _ in 0..count {
            attackers.push((kind, tokio::spawn(attack(address.clone(), kind, give_up))));
        }
    }
    // Meanwhile /health is asked every quarter second on a new connection, and must always answer.
    let health = tokio::spawn({
        let url = format!("{}/health", service.url);
        async move {
            let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
            let mut answers = Vec::new();
            for _ in 0..16 {
                let asked = Instant::now();
                let answer = tokio::time::timeout(Duration::from_secs(5), http.get(&url).send()).await;
                let ok = matches!(&answer, Ok(Ok(response)) if response.status() == StatusCode::OK);
                answers.push((ok, asked.elapsed()));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            answers
        }
    });

    let mut closed_after = Vec::new();
    for (kind, attacker) in attackers {
        match attacker.await.expect("attacker") {
            Ok(after) => closed_after.push((kind, after)),
            Err(failure) => panic!("{kind:?}: {failure}"),
        }
    }
    let health = health.await.expect("health");
    let slowest = closed_after.iter().map(|(_, after)| *after).max().unwrap_or_default();
    let fastest = closed_after.iter().map(|(_, after)| *after).min().unwrap_or_default();
    let worst_health = health.iter().map(|(_, took)| *took).max().unwrap_or_default();
    eprintln!("300 connections closed after {fastest:?} to {slowest:?}; /health answered within {worst_health:?}");
    assert!(fastest >= Duration::from_millis(800), "closed before any timeout: {fastest:?}");
    assert!(health.iter().all(|(ok, _)| *ok), "/health failed during the attack: {health:?}");
    // At worst a /health connection waits for a place (one timeout) and is then answered at once.
    assert!(worst_health < Duration::from_secs(3), "{health:?}");
    let log = service.log();
    let cap_lines = lines_with(&log, "connection cap reached").len();
    assert!((1..=5).contains(&cap_lines), "logged when reached, not per connection: {cap_lines} lines in {log}");
    assert!(!log.contains("cannot accept connections"), "{log}");
    std::fs::remove_dir_all(&widget).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_api_keys_are_logged_without_the_key_and_throttled_per_address() {
    let service = Service::start(&[]);
    // The admin creates the API key, as README's set-up says.
    let admin = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let login = login(&service, &admin, PASSWORD).await;
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let dashboard = admin.get(format!("{}/admin", service.url)).header("cookie", &cookie).send().await.expect("admin");
    let page = dashboard.text().await.expect("page");
    let csrf = page.split(r#"name="csrf" value=""#).nth(1).and_then(|rest| rest.split('"').next()).expect("csrf");
    let created = admin
        .post(format!("{}/admin/api-key", service.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .expect("create key");
    let page = created.text().await.expect("page");
    let key = page.split(r#"id="api-key">"#).nth(1).and_then(|rest| rest.split('<').next()).expect("key").to_owned();

    let prober = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let session = |key: String| {
        let (http, url) = (prober.clone(), format!("{}/api/session", service.url));
        async move {
            let body = serde_json::json!({"record_id": "4876876000000624001", "user": "Pat"});
            http.post(url).header("x-api-key", key).json(&body).send().await.expect("session").status()
        }
    };
    let mut statuses = Vec::new();
    for i in 0..WRONG_KEYS_PER_MINUTE + 5 {
        statuses.push(session(format!("wrong-key-{i:04}")).await);
    }
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((refused, throttled), (WRONG_KEYS_PER_MINUTE, 5), "{statuses:?}");
    assert_eq!(session(key.clone()).await, StatusCode::OK, "the right key still works from that address");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = service.log();
    let wrong = lines_with(&log, "widget session refused: wrong API key");
    assert_eq!(wrong.iter().filter(|line| line.contains("client=127.0.0.3")).count(), WRONG_KEYS_PER_MINUTE, "{log}");
    assert_eq!(lines_with(&log, "this address gets 429 for a while").len(), 1, "one line per lock: {log}");
    assert!(!log.contains("wrong-key-") && !log.contains(&key), "a key reached the log: {log}");
}
