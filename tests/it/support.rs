//! `TestApp`: the real server as a child process on `127.0.0.1:0` with a temp data directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The shared fixtures (read-only, next to the repository).
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(path)
}

pub fn fixture_bytes(path: &str) -> Vec<u8> {
    std::fs::read(fixture(path)).unwrap_or_else(|error| panic!("reading fixture {path}: {error}"))
}

/// The project's own sample data.
pub fn sample(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample_data")
        .join(path)
}

/// The data files of `sample_data/` (its README and generator script left out), sorted.
pub fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample(""))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "json" || ext == "ndjson")
        })
        .collect();
    files.sort();
    files
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::blocking::Client,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(&[], &[])
    }

    /// Starts the server with extra `serve` arguments and environment variables.
    pub fn spawn_with(args: &[&str], envs: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut app = TestApp {
            base: String::new(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            dir,
            child: None,
            extra_args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            envs: envs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        app.start();
        app
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_llm-ledger"));
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("serve")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .args(&self.extra_args)
            .env("LEDGER_LOG", "warn")
            .env_remove("LEDGER_BIND")
            .env_remove("LEDGER_CONFIG")
            .env_remove("LEDGER_API_KEYS")
            .env_remove("LEDGER_INSECURE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawning llm-ledger serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let address = loop {
            assert!(
                Instant::now() < deadline,
                "the server did not report its address in time"
            );
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(address) = line.strip_prefix("llm-ledger listening on ") {
                        break address.trim().to_owned();
                    }
                }
                Some(Err(error)) => panic!("reading server output: {error}"),
                None => panic!("the server exited before listening"),
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.base = address;
        self.child = Some(child);
    }

    /// Stops the server with SIGTERM and waits for it (graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// Kills the server with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaping the killed server");
        }
    }

    /// Sets an environment variable for the next start (see [`TestApp::restart`]).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.envs.retain(|(existing, _)| existing != key);
        self.envs.push((key.to_owned(), value.to_owned()));
    }

    /// Starts the server again on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// The extra `serve` arguments the next (re)start uses.
    pub fn extra_args_mut(&mut self) -> &mut Vec<String> {
        &mut self.extra_args
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Posts a body to `/v1/ingest` with a query string and returns status and JSON.
    pub fn ingest(&self, query: &str, body: Vec<u8>) -> (u16, Value) {
        self.ingest_with(query, body, &[("content-type", "application/x-ndjson")])
    }

    pub fn ingest_with(&self, query: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url(&format!("/v1/ingest{query}")))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().expect("POST /v1/ingest");
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    pub fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().expect("GET");
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    pub fn get_text(&self, path: &str) -> (u16, String, String) {
        let response = self.client.get(self.url(path)).send().expect("GET");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().unwrap())
    }

    /// Every stored record, via `GET /v1/export`, keyed by event id.
    pub fn exported(&self) -> Vec<Value> {
        let (status, _, text) = self.get_text("/v1/export");
        assert_eq!(status, 200, "{text}");
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    pub fn spend(&self, query: &str) -> Value {
        let (status, json) = self.get_json(&format!("/v1/reports/spend?{query}"));
        assert_eq!(status, 200, "{json}");
        json
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd_bytes(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

/// A minimal valid canonical record.
pub fn canonical(event_id: &str, ts: &str, model: &str, input: u64, output: u64) -> String {
    serde_json::json!({
        "event_id": event_id, "ts": ts, "team": "search", "provider": "openai",
        "model": model, "input_tokens": input, "output_tokens": output
    })
    .to_string()
}

/// A decimal string rounded half-to-even to 12 places (null stays null).
pub fn round12(value: &Value) -> Value {
    match value.as_str() {
        None => value.clone(),
        Some(text) => {
            let decimal: rust_decimal::Decimal = text.parse().unwrap();
            Value::String(
                decimal
                    .round_dp_with_strategy(12, rust_decimal::RoundingStrategy::MidpointNearestEven)
                    .to_string(),
            )
        }
    }
}

/// Compares decimal strings as values (`"0.0"` = `"0"`).
pub fn same_decimal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::String(a), Value::String(b)) => {
            let a: rust_decimal::Decimal = a.parse().unwrap();
            let b: rust_decimal::Decimal = b.parse().unwrap();
            a == b
        }
        _ => false,
    }
}

/// The fields of the fixtures' expected rows (`shared/fixtures/README.md`).
pub const EXPECTED_FIELDS: &[&str] = &[
    "event_id",
    "source",
    "ts",
    "team",
    "project",
    "user_id",
    "api_key_id",
    "tags",
    "provider",
    "model_requested",
    "model",
    "route",
    "fallback_from",
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "reported_cost_usd",
    "latency_ms",
    "ttft_ms",
    "status_code",
    "error_type",
    "cache_hit",
    "request_count",
];

fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .into()
}

/// Asserts that `actual` (exported rows) holds exactly the rows of an expected-rows file, in
/// the fixture's comparison rules: instants as instants, money as decimals, durations within
/// 0.001 ms, tags as maps.
pub fn assert_rows_match(expected_file: &str, actual: &[Value]) {
    let text = std::fs::read_to_string(fixture(expected_file)).unwrap();
    let expected: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), actual.len(), "row count of {expected_file}");
    for want in &expected {
        let key = (
            want["source"].as_str().unwrap(),
            want["event_id"].as_str().unwrap(),
        );
        let got = actual
            .iter()
            .find(|row| (row["source"].as_str().unwrap(), row["event_id"].as_str().unwrap()) == key)
            .unwrap_or_else(|| panic!("{expected_file}: no stored row for {key:?}"));
        for field in EXPECTED_FIELDS {
            let (w, g) = (&want[*field], &got[*field]);
            let same = match *field {
                "ts" => instant(w) == instant(g),
                // Stored money is DECIMAL(38,12): a gateway's float noise below 1e-12 USD
                // (`0.07722000000000001`) is rounded half-to-even on the way in.
                "reported_cost_usd" => same_decimal(&round12(w), g),
                "latency_ms" | "ttft_ms" => match (w.as_f64(), g.as_f64()) {
                    (Some(a), Some(b)) => (a - b).abs() < 0.001,
                    (None, None) => w.is_null() && g.is_null(),
                    _ => false,
                },
                _ => w == g,
            };
            assert!(
                same,
                "{expected_file} {key:?} field `{field}`: expected {w}, stored {g}"
            );
        }
    }
}

/// The slot of a price id (`layer:provider/model@effective_from`), after checking that the id
/// ends in the eight hex digits of its rates digest.
pub fn slot_of(price_id: &Value) -> &str {
    let text = price_id
        .as_str()
        .unwrap_or_else(|| panic!("not a price id: {price_id}"));
    let (slot, digest) = text
        .rsplit_once('#')
        .unwrap_or_else(|| panic!("no rates digest: {text}"));
    assert!(
        digest.len() == 8 && digest.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "{text}"
    );
    slot
}
