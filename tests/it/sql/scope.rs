//! Team scopes: every view with one team's rows, the tables out of reach.

use serde_json::{Value, json};

use super::*;
use crate::support::*;

/// A team scope shows every view with that team's rows only, and the tables not at all.
#[test]
fn a_team_scope_sees_only_its_team() {
    use llm_ledger::sql::{Sandbox, SqlError};

    let dir = tempfile::tempdir().unwrap();
    let (config, ledger) = open_in_process(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = std::fs::read(sample("canonical.ndjson")).unwrap();
    assert_eq!(ingest_in_process(&ledger, &runtime, body), 12);
    for (id, team) in [("b-search", "search"), ("b-growth", "growth")] {
        let spec = json!({"name": id, "amount_usd": "100", "period": "month", "scope": {"team": team}});
        runtime
            .block_on(ledger.writer.put_budget(id.to_owned(), spec.to_string()))
            .unwrap();
    }
    let sandbox = Sandbox::open(&ledger.readers, config.sql).unwrap();
    let limits = sandbox.limits().lowered(None, None);
    let run = |sql: &str, scope: Option<&str>| {
        let admission = sandbox.admit().unwrap();
        sandbox
            .run(&admission, sql, limits, scope)
            .map(|output| output.rows_json())
    };
    let teams = |view: &str, scope: Option<&str>| -> Vec<Value> {
        run(&format!("SELECT DISTINCT team FROM {view} ORDER BY team"), scope)
            .unwrap()
            .into_iter()
            .map(|row| row["team"].clone())
            .collect()
    };
    let everyone = teams("events", None);
    assert!(everyone.len() >= 3, "{everyone:?}");
    // Interleaved, so that pooled connections switch scopes.
    for _ in 0..2 {
        for view in [
            "events",
            "rollup_hourly",
            "rollup_daily",
            "focus_lines",
            "budgets",
        ] {
            assert_eq!(teams(view, Some("search")), [json!("search")], "{view}");
            assert_eq!(teams(view, Some("growth")), [json!("growth")], "{view}");
            assert!(teams(view, None).len() >= 2, "{view}");
        }
    }
    assert_eq!(teams("events", Some("nobody")), Vec::<Value>::new());
    let scoped_count = run("SELECT count(*) AS n FROM events", Some("search")).unwrap()[0]["n"].clone();
    let direct = everyone.iter().filter(|team| *team == "search").count();
    assert_eq!(direct, 1);
    assert_eq!(
        scoped_count,
        run("SELECT count(*) AS n FROM events WHERE team = 'search'", None).unwrap()[0]["n"]
    );
    // Prices are not team data; the tables stay out of reach.
    run("SELECT * FROM prices", Some("search")).unwrap();
    for escape in [
        "SELECT * FROM usage_events",
        "SELECT * FROM ledger.main.rollup_hourly",
        "SELECT getvariable('ledger_team_scope')",
        "SET VARIABLE ledger_team_scope = 'growth'",
        "SELECT * FROM query_table('usage_events')",
        // Whole-table statistics and plan estimates describe every team's rows.
        "SELECT stats(project) FROM events",
        "SELECT stats(cost_usd) AS s FROM events",
        "EXPLAIN SELECT * FROM events WHERE project = 'x'",
        "SELECT * FROM duckdb_tables()",
        "SELECT * FROM information_schema.tables",
    ] {
        assert!(
            matches!(run(escape, Some("search")), Err(SqlError::NotAllowed { .. })),
            "{escape}"
        );
    }
    assert_eq!(teams("events", Some("search")), [json!("search")]);
    // Unscoped, EXPLAIN is allowed; stats() is refused for everyone.
    run("EXPLAIN SELECT * FROM events", None).unwrap();
    assert!(matches!(
        run("SELECT stats(team) FROM events", None),
        Err(SqlError::NotAllowed { .. })
    ));
}
