//! API keys and tenancy: every route asks for its role, a team-scoped read key sees only its
//! team in every report, export, listing and SQL result, keys live in the configuration as
//! hashes, a network address without keys is refused, and a flood gets `503 writer_busy` with
//! `Retry-After` without losing what was acknowledged.

use std::process::{Command, Stdio};

use llm_ledger::api::{Access, ROUTE_ACCESS};
use llm_ledger::auth::{Role, entry_for};
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

use crate::support::*;

const INGEST: &str = "llk_ingest-key-000000000001";
const SEARCH_READER: &str = "llk_search-reader-00000001";
const READER: &str = "llk_global-reader-00000001";
const ADMIN: &str = "llk_admin-key-0000000000001";

/// A ledger with four keys: the two readers and the admin given as hashes, the ingest key as
/// the secret itself (hashed when the configuration is read).
fn keyed_app() -> TestApp {
    let keys = [
        format!("ingest={INGEST}"),
        entry_for(SEARCH_READER, Role::Read, Some("search")),
        entry_for(READER, Role::Read, None),
        entry_for(ADMIN, Role::Admin, None),
    ]
    .join(",");
    assert!(!keys.contains(SEARCH_READER) && !keys.contains(ADMIN));
    TestApp::spawn_with(&[], &[("LEDGER_API_KEYS", &keys)])
}

fn with_key(request: RequestBuilder, key: &str) -> RequestBuilder {
    request.header("Authorization", format!("Bearer {key}"))
}

fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let response = with_key(app.client.get(app.url(path)), key).send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn post(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = with_key(app.client.post(app.url(path)), key)
        .json(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// A request for a route, with a body it accepts, to tell "refused" from "let in".
fn request(app: &TestApp, method: &str, path: &str) -> RequestBuilder {
    let path = path.replace("{name}", "spend").replace("{id}", "probe");
    let url = app.url(&path);
    match method {
        "get" => app.client.get(url),
        "delete" => app.client.delete(url),
        "put" => app
            .client
            .put(url)
            .json(&json!({"name": "probe", "amount_usd": "1", "period": "month",
                                                   "scope": {"team": "search"}})),
        _ => {
            let body = match path.as_str() {
                "/v1/sql" => json!({"sql": "SELECT 1 AS one"}),
                "/v1/admin/reprice" => json!({"from": "2026-01-01", "to": "2026-01-02"}),
                "/v1/prices" => {
                    json!({"provider": "openai", "model": "probe-model", "effective_from": "2026-01-01",
                                       "input_per_mtok": "1", "output_per_mtok": "1"})
                }
                "/v1/contracts" => json!({"name": "probe", "provider": "openai", "discount_percent": "1",
                                          "effective_from": "2026-01-01"}),
                "/v1/ingest" => json!({"event_id": "probe", "ts": "2026-11-23T10:00:00Z", "team": "search",
                                       "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "output_tokens": 1}),
                _ => json!({}),
            };
            app.client.post(url).json(&body)
        }
    }
}

#[test]
fn every_route_asks_for_its_role() {
    let app = keyed_app();
    let key_of = |role: Role| match role {
        Role::Ingest => INGEST,
        Role::Read => READER,
        Role::Admin => ADMIN,
    };
    for (method, path, access) in ROUTE_ACCESS {
        let anonymous = request(&app, method, path).send().unwrap();
        match access {
            Access::Public => {
                assert!(
                    anonymous.status().is_success(),
                    "{method} {path}: {}",
                    anonymous.status()
                );
                continue;
            }
            Access::Key(role) => {
                assert_eq!(anonymous.status().as_u16(), 401, "{method} {path}");
                assert_eq!(
                    anonymous.headers()["www-authenticate"].to_str().unwrap(),
                    "Bearer realm=\"llm-ledger\""
                );
                let body: Value = anonymous.json().unwrap();
                assert_eq!(body["error"]["code"], "unauthorized", "{method} {path}");
                let allowed = with_key(request(&app, method, path), key_of(*role))
                    .send()
                    .unwrap();
                assert!(
                    ![401, 403].contains(&allowed.status().as_u16()),
                    "{method} {path}: {}",
                    allowed.status()
                );
                let by_admin = with_key(request(&app, method, path), ADMIN).send().unwrap();
                assert!(
                    ![401, 403].contains(&by_admin.status().as_u16()),
                    "{method} {path}"
                );
                for other in [Role::Ingest, Role::Read]
                    .into_iter()
                    .filter(|other| other != role)
                {
                    let refused = with_key(request(&app, method, path), key_of(other))
                        .send()
                        .unwrap();
                    assert_eq!(
                        refused.status().as_u16(),
                        403,
                        "{method} {path} with a {other} key"
                    );
                    let body: Value = refused.json().unwrap();
                    assert_eq!(body["error"]["code"], "forbidden");
                    assert!(
                        body["error"]["message"]
                            .as_str()
                            .unwrap()
                            .contains(&format!("needs a `{role}` key"))
                    );
                }
            }
        }
    }
    // An unknown key, and the X-API-Key header.
    let unknown = with_key(
        app.client.get(app.url("/v1/prices")),
        "llk_not-a-key-000000000000",
    )
    .send()
    .unwrap();
    assert_eq!(unknown.status().as_u16(), 401);
    let header = app
        .client
        .get(app.url("/v1/prices"))
        .header("X-API-Key", READER)
        .send()
        .unwrap();
    assert_eq!(header.status().as_u16(), 200);
    // The document says which routes need which key.
    let (_, document) = get(&app, READER, "/openapi.json");
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    assert!(document["paths"]["/v1/ingest"]["post"]["security"].is_array());
    assert!(document["paths"]["/healthz"]["get"]["security"].is_null());
    assert!(document["paths"]["/v1/ingest"]["post"]["responses"]["401"].is_object());
}

#[test]
fn a_team_scoped_reader_sees_only_its_team_everywhere() {
    let app = keyed_app();
    let body = std::fs::read(sample("canonical.ndjson")).unwrap();
    let response = with_key(app.client.post(app.url("/v1/ingest")), INGEST)
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    for (id, team) in [("search-monthly", "search"), ("growth-monthly", "growth")] {
        let spec = json!({"name": id, "amount_usd": "100", "period": "month", "scope": {"team": team}});
        let response = with_key(app.client.put(app.url(&format!("/v1/budgets/{id}"))), ADMIN)
            .json(&spec)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let contract = json!({"name": "growth deal", "provider": "openai", "team": "growth", "discount_percent": "10",
                          "effective_from": "2026-01-01"});
    assert_eq!(post(&app, ADMIN, "/v1/contracts", &contract).0, 201);

    let range = "from=2026-11-23&to=2026-11-25";
    let teams = |key: &str, report: &str, extra: &str| -> Vec<Value> {
        let (status, body) = get(&app, key, &format!("/v1/reports/{report}?{range}{extra}"));
        assert_eq!(status, 200, "{report}: {body}");
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["team"].clone())
            .collect()
    };
    // Everyone's view has several teams; the scoped key's has one.
    assert!(teams(READER, "spend", "&group_by=team").len() >= 3);
    for (report, extra) in [
        ("spend", "&group_by=team"),
        ("spend", "&group_by=team,model&grain=events"),
        ("spend", "&group_by=team&bucket=hour"),
        ("latency", "&group_by=team"),
        ("model-mix", "&group_by=team"),
        ("errors", "&group_by=team"),
        ("cache-savings", "&group_by=team"),
        ("anomalies", "&group_by=team&baseline_days=2"),
    ] {
        let seen = teams(SEARCH_READER, report, extra);
        assert!(
            seen.iter().all(|team| team == "search"),
            "{report}{extra}: {seen:?}"
        );
    }
    let (_, all) = get(&app, READER, &format!("/v1/reports/spend?{range}&group_by=team"));
    let (_, mine) = get(&app, SEARCH_READER, &format!("/v1/reports/spend?{range}"));
    let search_row = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["team"] == "search")
        .unwrap()
        .clone();
    assert_eq!(
        mine["totals"]["cost_usd"], search_row["cost_usd"],
        "the totals are the team's"
    );
    assert_eq!(mine["totals"]["requests"], search_row["requests"]);
    // Reports without a team column are filtered too.
    let (_, unpriced) = get(&app, SEARCH_READER, &format!("/v1/reports/unpriced?{range}"));
    assert_eq!(
        unpriced["rows"],
        json!([]),
        "the unpriced model belongs to support-bot"
    );
    let (_, focus) = get(&app, SEARCH_READER, &format!("/v1/reports/focus?{range}"));
    assert!(
        focus["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["SubAccountId"] == "search")
    );
    let (_, budgets) = get(&app, SEARCH_READER, "/v1/reports/budgets?at=2026-11-24");
    let names: Vec<&str> = budgets["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["budget_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["search-monthly"]);
    // Asking for another team is refused, not silently emptied.
    let (status, refused) = get(
        &app,
        SEARCH_READER,
        &format!("/v1/reports/spend?{range}&team=growth"),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        get(
            &app,
            SEARCH_READER,
            &format!("/v1/reports/spend?{range}&team=search")
        )
        .0,
        200
    );

    // Listings.
    let (_, listed) = get(&app, SEARCH_READER, "/v1/budgets");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(get(&app, SEARCH_READER, "/v1/budgets/growth-monthly").0, 404);
    assert_eq!(get(&app, READER, "/v1/budgets").1.as_array().unwrap().len(), 2);
    let (_, contracts) = get(&app, SEARCH_READER, "/v1/contracts");
    assert_eq!(contracts, json!([]));
    assert_eq!(get(&app, READER, "/v1/contracts").1.as_array().unwrap().len(), 1);

    // Export.
    let (status, text) = get(&app, SEARCH_READER, &format!("/v1/export?{range}"));
    assert_eq!(status, 200);
    let lines: Vec<Value> = match text {
        Value::String(text) => text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
        one => vec![one],
    };
    assert_eq!(lines.len(), 3, "the three search records");
    assert!(lines.iter().all(|line| line["team"] == "search"));
    let (status, _) = get(&app, SEARCH_READER, &format!("/v1/export?{range}&team=growth"));
    assert_eq!(status, 403);
    let csv = with_key(
        app.client.get(app.url(&format!("/v1/export?{range}&format=csv"))),
        SEARCH_READER,
    )
    .send()
    .unwrap()
    .text()
    .unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and three rows: {csv}");

    // Ad-hoc SQL.
    let sql = |key: &str, text: &str| {
        let (status, body) = post(&app, key, "/v1/sql", &json!({"sql": text}));
        assert_eq!(status, 200, "{text}: {body}");
        body["rows"].clone()
    };
    let distinct = "SELECT DISTINCT team FROM events ORDER BY team";
    assert_eq!(sql(SEARCH_READER, distinct), json!([{"team": "search"}]));
    assert!(sql(READER, distinct).as_array().unwrap().len() >= 3);
    for view in ["rollup_hourly", "rollup_daily", "focus_lines"] {
        let rows = sql(
            SEARCH_READER,
            &format!("SELECT count(*) AS n FROM {view} WHERE team <> 'search'"),
        );
        assert_eq!(rows, json!([{"n": 0}]), "{view}");
    }
    // The scoped key cannot write or administer anything.
    assert_eq!(
        post(
            &app,
            SEARCH_READER,
            "/v1/admin/reprice",
            &json!({"from": "2026-11-23", "to": "2026-11-24"})
        )
        .0,
        403
    );
}

fn serve_on(bind: &str, extra: &[&str], envs: &[(&str, &str)]) -> std::process::Child {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_llm-ledger"));
    command
        .arg("--data-dir")
        .arg(dir.keep().join("data"))
        .args(["serve", "--bind", bind])
        .args(extra)
        .env("LEDGER_LOG", "warn")
        .env_remove("LEDGER_API_KEYS")
        .env_remove("LEDGER_INSECURE")
        .env_remove("LEDGER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

fn first_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
    line
}

#[test]
fn a_network_address_without_keys_is_refused_unless_insecure() {
    let refused = serve_on("0.0.0.0:0", &[], &[]).wait_with_output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without API keys"),
        "{stderr}"
    );
    assert!(stderr.contains("--insecure"), "{stderr}");

    for (extra, envs) in [
        (vec!["--insecure"], vec![]),
        (vec![], vec![("LEDGER_API_KEYS", format!("admin={ADMIN}"))]),
    ] {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(key, value)| (*key, value.as_str())).collect();
        let mut child = serve_on("0.0.0.0:0", &extra, &envs);
        let line = first_line(&mut child);
        assert!(
            line.starts_with("llm-ledger listening on http://0.0.0.0:"),
            "{extra:?}: {line}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // A bad key entry stops startup naming the entry.
    let bad = serve_on(
        "127.0.0.1:0",
        &[],
        &[("LEDGER_API_KEYS", "owner=llk_0123456789abcdef")],
    )
    .wait_with_output()
    .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("api_keys") && stderr.contains("unknown role `owner`"),
        "{stderr}"
    );
}

#[test]
fn keys_in_the_config_file_and_the_keys_command() {
    let output = Command::new(env!("CARGO_BIN_EXE_llm-ledger"))
        .args(["keys", "new", "--role", "read", "--team", "search"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let secret = stdout
        .lines()
        .find_map(|line| line.strip_prefix("key:   "))
        .unwrap()
        .to_owned();
    let entry = stdout
        .lines()
        .find_map(|line| line.strip_prefix("entry: "))
        .unwrap()
        .to_owned();
    assert_eq!(entry, entry_for(&secret, Role::Read, Some("search")));
    assert!(!entry.contains(&secret));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ledger.toml");
    std::fs::write(
        &config,
        format!(
            "api_keys = [\"{entry}\", \"{}\"]\n",
            entry_for(ADMIN, Role::Admin, None)
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(&[], &[("LEDGER_CONFIG", config.to_str().unwrap())]);
    assert_eq!(get(&app, &secret, "/v1/reports/spend").0, 200);
    assert_eq!(get(&app, &secret, "/v1/reports/spend?team=growth").0, 403);
    assert_eq!(post(&app, &secret, "/v1/prices", &json!({})).0, 403);
    assert_eq!(
        app.client
            .get(app.url("/v1/reports/spend"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    // Commands that talk to a server send the key they are given.
    let report = |key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_llm-ledger"));
        command
            .args(["report", "spend", "--server", &app.url(""), "--output", "json"])
            .env_remove("LEDGER_API_KEY");
        if let Some(key) = key {
            command.env("LEDGER_API_KEY", key);
        }
        command.output().unwrap()
    };
    let refused = report(None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    let answered = report(Some(&secret));
    assert!(
        answered.status.success(),
        "{}",
        String::from_utf8_lossy(&answered.stderr)
    );
}

#[test]
fn a_flood_gets_writer_busy_with_retry_after_and_loses_nothing_acknowledged() {
    let app = TestApp::spawn_with(&["--writer-queue", "1"], &[]);
    let batch = |round: usize, n: usize| {
        (0..2_000)
            .map(|i| {
                canonical(
                    &format!("flood-{round}-{n}-{i}"),
                    "2026-11-23T10:00:00Z",
                    "gpt-4o-mini",
                    100,
                    10,
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    };
    let mut accepted = 0u64;
    let mut busy = 0;
    let mut refused_bodies = Vec::new();
    for round in 0..6 {
        let results: Vec<(u16, Option<String>, Value, Vec<u8>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..12)
                .map(|n| {
                    let body = batch(round, n);
                    let app = &app;
                    scope.spawn(move || {
                        let response = app
                            .client
                            .post(app.url("/v1/ingest"))
                            .body(body.clone())
                            .send()
                            .unwrap();
                        let status = response.status().as_u16();
                        let retry = response
                            .headers()
                            .get("retry-after")
                            .map(|value| value.to_str().unwrap().to_owned());
                        (status, retry, response.json().unwrap(), body)
                    })
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        for (status, retry, body, sent) in results {
            match status {
                200 => accepted += body["accepted"].as_u64().unwrap(),
                503 => {
                    assert_eq!(body["error"]["code"], "writer_busy");
                    assert_eq!(retry.as_deref(), Some("1"));
                    busy += 1;
                    refused_bodies.push(sent);
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        if busy > 0 {
            break;
        }
    }
    assert!(busy > 0, "a one-request queue never filled");
    // Everything acknowledged is stored, and nothing refused was.
    let stored = |app: &TestApp| {
        app.spend("from=2026-11-23&to=2026-11-24")["totals"]["requests"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(stored(&app), accepted);
    // Retrying what was refused stores it.
    for body in refused_bodies {
        let (status, response) = app.ingest("", body);
        assert_eq!(status, 200, "{response}");
        accepted += response["accepted"].as_u64().unwrap();
    }
    assert_eq!(stored(&app), accepted);
}

#[test]
fn a_request_over_its_time_limit_is_a_504_and_a_retry_never_double_counts() {
    let mut app = TestApp::spawn_with(&["--request-timeout", "1ms"], &[]);
    let (status, body) = app.get_json("/v1/reports/spend?group_by=team,model&bucket=hour");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );
    let records: Vec<String> = (0..3_000)
        .map(|i| {
            canonical(
                &format!("slow-{i}"),
                "2026-11-23T10:00:00Z",
                "gpt-4o-mini",
                100,
                10,
            )
        })
        .collect();
    let (status, body) = app.ingest("", records.join("\n").into_bytes());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );
    // The writer may still have committed the batch; sending it again stores each record once.
    app.extra_args_mut().clear();
    app.restart();
    let (status, body) = app.ingest("", records.join("\n").into_bytes());
    assert_eq!(status, 200, "{body}");
    let stored = app.spend("from=2026-11-23&to=2026-11-24")["totals"]["requests"]
        .as_u64()
        .unwrap();
    assert_eq!(stored, 3_000);
    assert_eq!(
        body["accepted"].as_u64().unwrap() + body["duplicates"].as_u64().unwrap(),
        3_000
    );
}
