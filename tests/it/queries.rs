//! Every SQL file in `queries/` prepares against a freshly migrated schema, so a typo fails here
//! rather than in a user's request.

#[test]
fn every_query_prepares_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        llm_ledger::store::Store::open(dir.path(), &llm_ledger::store::StoreOptions::default()).unwrap();
    // The writer's SQL reads its temp staging tables.
    store
        .readers
        .with_conn(llm_ledger::store::writer::create_staging)
        .unwrap();
    let queries = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut checked = 0;
    // duckdb-rs runs every statement of a multi-statement text but the last when preparing it:
    // the sandbox's view and lockdown files (which shadow tables with temp views and lock the
    // configuration) go last, so they cannot affect the others.
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(queries)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort_by_key(|path| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        (name.starts_with("sql_"), name)
    });
    for path in paths {
        if path.extension().is_some_and(|ext| ext == "sql") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Rollup templates are prepared for each rollup.
            let variants: Vec<String> = if text.contains("{rollup}") {
                [("rollup_hourly", "hour"), ("rollup_daily", "day")]
                    .iter()
                    .map(|(rollup, unit)| text.replace("{rollup}", rollup).replace("{unit}", unit))
                    .collect()
            } else {
                vec![text]
            };
            for sql in variants {
                store
                    .readers
                    .with_conn(|conn| {
                        conn.prepare(&sql)
                            .map(|_| ())
                            .map_err(|e| llm_ledger::store::StoreError::Db {
                                context: "prepare",
                                source: e,
                            })
                    })
                    .unwrap_or_else(|error| panic!("{}: {error:?}", path.display()));
                checked += 1;
            }
        }
    }
    assert!(checked >= 2);
}
