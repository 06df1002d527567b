//! What a sandboxed query may say, decided on DuckDB's own parse tree.
//!
//! `queries/sql_ast.sql` has DuckDB parse the text (`json_serialize_sql`, which refuses every
//! statement that is not a SELECT) and flatten the tree (`json_tree`, iterative, so any nesting
//! depth is fine). [`Tree`] rebuilds it from those rows and [`Policy::check`] visits every object
//! in it, wherever it sits (WITH bodies, subqueries in expressions, PIVOT sources, lambdas):
//!
//! - exactly one statement, and a SELECT (also `WITH`, `FROM …`, `VALUES`, `DESCRIBE`,
//!   `SUMMARIZE`: DuckDB parses them as SELECTs);
//! - every node with a `type` is on an allowlist: query nodes that only read (a DuckDB 2 parse of
//!   `WITH d AS (DELETE … RETURNING *) SELECT …` is a SELECT with a DELETE node inside), table
//!   references, result modifiers; anything unknown is refused;
//! - every expression `class` is a known one;
//! - tables are the documented views ([`VIEWS`]) or a WITH name, unqualified; a WITH name may not
//!   hide an existing table or view (a WITH body sees the table of the same name, not itself);
//! - table functions are on a short allowlist ([`TABLE_FUNCTIONS`]): no file readers, no
//!   `query()`, no metadata;
//! - scalar functions that read or change server state are refused ([`DENIED_FUNCTIONS`]), and
//!   no function is called through a schema.
//!
//! This is one layer of several: the connection is also in a read-only transaction, the database
//! has external access disabled and its configuration locked (see `sql::session`).

use std::collections::{HashMap, HashSet};

use super::SqlError;

/// The views a query may read (temporary views on every sandbox connection; see
/// `queries/sql_views.sql`).
pub const VIEWS: &[&str] = &[
    "events",
    "rollup_hourly",
    "rollup_daily",
    "focus_lines",
    "prices",
    "contracts",
    "budgets",
];

/// Table functions a query may call in FROM: they compute, and touch nothing else.
pub const TABLE_FUNCTIONS: &[&str] = &["range", "generate_series", "unnest", "json_each", "json_tree"];

/// Scalar functions (and built-in macros) a query may not call, with the reason.
pub const DENIED_FUNCTIONS: &[(&str, &str)] = &[
    ("current_setting", "it reads the server's settings"),
    ("getvariable", "it reads session variables"),
    ("getenv", "it reads the server's environment"),
    ("nextval", "it changes a sequence"),
    ("setval", "it changes a sequence"),
    ("currval", "it reads a sequence"),
    ("sleep_ms", "it only holds a connection"),
    ("pg_sleep", "it only holds a connection"),
    ("write_log", "it writes to the server's log"),
    (
        "stats",
        "it reads the statistics of whole tables, not of the rows the query may see",
    ),
    (
        "json_serialize_plan",
        "it plans SQL given as a string, which cannot be checked",
    ),
    (
        "json_execute_serialized_sql",
        "it runs SQL given as a string, which cannot be checked",
    ),
    // Built-in macros whose bodies call metadata table functions.
    ("pg_get_viewdef", "it reads the catalog through a table function"),
    (
        "pg_get_constraintdef",
        "it reads the catalog through a table function",
    ),
    ("format_type", "it reads the catalog through a table function"),
    ("get_block_size", "it reads the catalog through a table function"),
];

/// Node `type`s that may appear (besides BASE_TABLE, TABLE_FUNCTION and SHOW_REF, which are
/// checked, and `*_TYPE_INFO` of casts).
const SAFE_NODE_TYPES: &[&str] = &[
    // Query nodes that only read.
    "SELECT_NODE",
    "SET_OPERATION_NODE",
    "RECURSIVE_CTE_NODE",
    "CTE_NODE",
    // Table references that read nothing by name.
    "SUBQUERY",
    "JOIN",
    "EXPRESSION_LIST",
    "EMPTY",
    "PIVOT",
    // Result modifiers and ORDER BY items.
    "ORDER_MODIFIER",
    "LIMIT_MODIFIER",
    "LIMIT_PERCENT_MODIFIER",
    "LEGACY_LIMIT_PERCENT_MODIFIER",
    "DISTINCT_MODIFIER",
    "ORDER_DEFAULT",
    "ASCENDING",
    "DESCENDING",
];

/// Parsed expression classes (DuckDB's `ExpressionClass`); functions among them are checked.
const EXPRESSION_CLASSES: &[&str] = &[
    "AGGREGATE",
    "CASE",
    "CAST",
    "COLUMN_REF",
    "COMPARISON",
    "CONJUNCTION",
    "CONSTANT",
    "DEFAULT",
    "FUNCTION",
    "OPERATOR",
    "STAR",
    "SUBQUERY",
    "WINDOW",
    "PARAMETER",
    "COLLATE",
    "LAMBDA",
    "POSITIONAL_REFERENCE",
    "BETWEEN",
    "LAMBDA_REF",
    "TYPE",
];

/// The message of `json_serialize_sql` for a statement that is not a SELECT.
const NOT_SELECT: &str = "Only SELECT statements can be serialized to json!";

/// The statements a sandbox query may be, for messages.
pub const ALLOWED_STATEMENTS: &str = "SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE or EXPLAIN";

/// One row of `queries/sql_ast.sql`: a node of the JSON parse tree.
#[derive(Debug, Clone)]
pub struct TreeRow {
    pub id: u64,
    pub parent: Option<u64>,
    /// Member name in the parent object, or the index in the parent array.
    pub key: Option<String>,
    /// `OBJECT`, `ARRAY`, `VARCHAR`, `BOOLEAN`, `UBIGINT`, `NULL`, …
    pub json_type: String,
    /// A scalar's value as text; `None` for objects, arrays and null.
    pub text: Option<String>,
}

#[derive(Debug)]
struct Node {
    key: Option<String>,
    json_type: String,
    text: Option<String>,
    children: Vec<usize>,
}

/// The parse tree, rebuilt from its rows; node 0 is the root.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Rebuilds the tree. `None` when the rows are not one tree (a defect, treated as a refusal).
    pub fn from_rows(rows: Vec<TreeRow>) -> Option<Tree> {
        let mut index: HashMap<u64, usize> = HashMap::with_capacity(rows.len());
        let mut parents = Vec::with_capacity(rows.len());
        let mut nodes = Vec::with_capacity(rows.len());
        for (position, row) in rows.into_iter().enumerate() {
            index.insert(row.id, position);
            parents.push(row.parent);
            nodes.push(Node {
                key: row.key,
                json_type: row.json_type,
                text: row.text,
                children: Vec::new(),
            });
        }
        let mut roots = 0;
        for (position, parent) in parents.iter().enumerate() {
            match parent {
                None if position == 0 => roots += 1,
                None => return None,
                Some(parent) => {
                    let parent = *index.get(parent)?;
                    nodes[parent].children.push(position);
                }
            }
        }
        (roots == 1).then_some(Tree { nodes })
    }

    fn is_object(&self, node: usize) -> bool {
        self.nodes[node].json_type == "OBJECT"
    }

    fn member(&self, object: usize, key: &str) -> Option<usize> {
        self.nodes[object]
            .children
            .iter()
            .copied()
            .find(|child| self.nodes[*child].key.as_deref() == Some(key))
    }

    /// The text of a scalar member (`None` when absent, null, or an object or array).
    fn text(&self, object: usize, key: &str) -> Option<&str> {
        self.member(object, key)
            .and_then(|member| self.nodes[member].text.as_deref())
    }

    fn children(&self, node: usize) -> &[usize] {
        &self.nodes[node].children
    }

    /// Every object in the subtree of `top`, `top` included.
    fn objects_under(&self, top: usize) -> Vec<usize> {
        let mut stack = vec![top];
        let mut objects = Vec::new();
        while let Some(node) = stack.pop() {
            if self.is_object(node) {
                objects.push(node);
            }
            stack.extend(self.children(node).iter().copied());
        }
        objects
    }
}

/// What DuckDB's parser made of the text.
enum Parsed {
    Statements(Vec<usize>),
    NotSelect,
    Error(String),
}

fn parsed(tree: &Tree) -> Parsed {
    if tree.text(0, "error") == Some("true") {
        let message = tree
            .text(0, "error_message")
            .unwrap_or("the SQL could not be parsed");
        if message == NOT_SELECT {
            return Parsed::NotSelect;
        }
        return Parsed::Error(message.to_owned());
    }
    match tree.member(0, "statements") {
        Some(list) => Parsed::Statements(tree.children(list).to_vec()),
        None => Parsed::Error("the SQL could not be parsed".to_owned()),
    }
}

fn refuse(construct: impl Into<String>, reason: impl Into<String>) -> SqlError {
    SqlError::NotAllowed {
        construct: construct.into(),
        reason: reason.into(),
    }
}

/// The rules, with the names a WITH clause may not reuse.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Every table and view name the sandbox connection can resolve, lower-cased.
    catalog_names: HashSet<String>,
}

impl Policy {
    pub fn new(catalog_names: HashSet<String>) -> Policy {
        Policy { catalog_names }
    }

    /// Checks a parse tree.
    ///
    /// `first_keyword` names the statement in the message when it is not a SELECT.
    ///
    /// # Errors
    /// [`SqlError::Invalid`] with DuckDB's message when the text does not parse;
    /// [`SqlError::NotAllowed`] naming the first construct that is not allowed and why.
    pub fn check(&self, tree: &Tree, first_keyword: Option<&str>) -> Result<(), SqlError> {
        let statement = match parsed(tree) {
            Parsed::Error(message) => return Err(SqlError::Invalid(message)),
            Parsed::NotSelect => {
                let word = first_keyword.map(str::to_ascii_uppercase);
                return Err(match word.as_deref() {
                    Some(
                        "SELECT" | "WITH" | "FROM" | "VALUES" | "TABLE" | "DESCRIBE" | "SUMMARIZE" | "SHOW",
                    ) => refuse(
                        "a statement other than one SELECT",
                        format!(
                            "only one read-only statement is allowed ({ALLOWED_STATEMENTS}); a `;` starts another statement, and a PIVOT without an IN list needs more than one (name its values with IN (…))"
                        ),
                    ),
                    Some(word) => refuse(
                        format!("`{word}` statement"),
                        format!("only one read-only statement is allowed ({ALLOWED_STATEMENTS})"),
                    ),
                    None => refuse(
                        "a statement other than SELECT",
                        format!("only one read-only statement is allowed ({ALLOWED_STATEMENTS})"),
                    ),
                });
            }
            Parsed::Statements(statements) => match statements.as_slice() {
                [one] => *one,
                [] => return Err(SqlError::Invalid("the SQL has no statement".to_owned())),
                more => {
                    return Err(refuse(
                        format!("{} statements", more.len()),
                        "send exactly one statement per query",
                    ));
                }
            },
        };
        let objects = tree.objects_under(statement);
        let with_names = self.with_names(tree, &objects)?;
        for object in objects {
            self.check_object(tree, object, &with_names)?;
        }
        Ok(())
    }

    /// The names WITH clauses define, each checked: a plain identifier that hides no table or
    /// view (so a reference to it can only mean the WITH query, wherever it appears).
    fn with_names(&self, tree: &Tree, objects: &[usize]) -> Result<HashSet<String>, SqlError> {
        let mut names = HashSet::new();
        for object in objects {
            let mut found: Vec<&str> = Vec::new();
            if let Some(map) = tree
                .member(*object, "cte_map")
                .and_then(|cte| tree.member(cte, "map"))
            {
                found.extend(
                    tree.children(map)
                        .iter()
                        .filter_map(|entry| tree.text(*entry, "key")),
                );
            }
            found.extend(tree.text(*object, "cte_name"));
            found.extend(tree.text(*object, "ctename"));
            for name in found {
                let plain = !name.is_empty()
                    && name
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
                    && !name.as_bytes()[0].is_ascii_digit();
                if !plain {
                    return Err(refuse(
                        format!("WITH name `{name}`"),
                        "a WITH name must be a plain identifier (letters, digits, underscores)",
                    ));
                }
                let lower = name.to_ascii_lowercase();
                if self.catalog_names.contains(&lower) {
                    return Err(refuse(
                        format!("WITH name `{name}`"),
                        "it is the name of a table or view; pick another name",
                    ));
                }
                names.insert(lower);
            }
        }
        Ok(names)
    }

    fn check_object(&self, tree: &Tree, object: usize, with_names: &HashSet<String>) -> Result<(), SqlError> {
        if let Some(class) = tree.text(object, "class") {
            if !EXPRESSION_CLASSES.contains(&class) {
                return Err(refuse(
                    format!("expression `{class}`"),
                    "it is not supported in ad-hoc SQL",
                ));
            }
            if let Some(name) = tree.text(object, "function_name") {
                check_function(tree, object, name)?;
            }
            return Ok(());
        }
        let Some(kind) = tree.text(object, "type") else {
            return Ok(());
        };
        match kind {
            "BASE_TABLE" => check_table(tree, object, with_names),
            "TABLE_FUNCTION" => check_table_function(tree, object),
            "SHOW_REF" => check_show(tree, object),
            "DELETE_QUERY_NODE" | "UPDATE_QUERY_NODE" | "INSERT_QUERY_NODE" | "MERGE_QUERY_NODE" => {
                Err(refuse(
                    format!("`{}`", kind.trim_end_matches("_QUERY_NODE")),
                    "queries are read-only",
                ))
            }
            "COPY_QUERY_NODE" => Err(refuse("`COPY`", "queries cannot read or write files")),
            kind if SAFE_NODE_TYPES.contains(&kind) || kind.ends_with("_TYPE_INFO") => Ok(()),
            other => Err(refuse(format!("`{other}`"), "it is not supported in ad-hoc SQL")),
        }
    }
}

fn qualified(tree: &Tree, object: usize, keys: [&str; 2]) -> bool {
    keys.iter()
        .any(|key| tree.text(object, key).is_some_and(|text| !text.is_empty()))
}

fn check_table(tree: &Tree, object: usize, with_names: &HashSet<String>) -> Result<(), SqlError> {
    let name = tree.text(object, "table_name").unwrap_or_default();
    if qualified(tree, object, ["schema_name", "catalog_name"]) {
        return Err(refuse(
            format!("table reference `{name}` with a schema or database"),
            format!("name a view alone: {}", VIEWS.join(", ")),
        ));
    }
    let lower = name.to_ascii_lowercase();
    if VIEWS.contains(&lower.as_str()) || with_names.contains(&lower) {
        return Ok(());
    }
    if name.contains(['/', '.', '\\', ':']) {
        return Err(refuse(format!("`{name}`"), "queries cannot read files"));
    }
    Err(refuse(
        format!("table `{name}`"),
        format!("queries read the documented views only: {}", VIEWS.join(", ")),
    ))
}

fn check_table_function(tree: &Tree, object: usize) -> Result<(), SqlError> {
    let function = tree.member(object, "function");
    let name = function.and_then(|function| tree.text(function, "function_name"));
    let (Some(function), Some(name)) = (function, name) else {
        return Err(refuse(
            "a table expression in FROM",
            "it is not supported in ad-hoc SQL",
        ));
    };
    if tree.text(function, "class") != Some("FUNCTION") || qualified(tree, function, ["schema", "catalog"]) {
        return Err(refuse(
            format!("table function `{name}`"),
            "it must be called by its name alone",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if TABLE_FUNCTIONS.contains(&lower.as_str()) {
        return Ok(());
    }
    let reason = if lower.starts_with("read_")
        || lower.starts_with("parquet_")
        || lower.contains("csv")
        || matches!(lower.as_str(), "glob" | "sniff_csv")
    {
        "it reads files".to_owned()
    } else if matches!(
        lower.as_str(),
        "query" | "query_table" | "json_execute_serialized_sql"
    ) {
        "it runs SQL given as a string, which cannot be checked".to_owned()
    } else {
        format!("only {} may be called in FROM", TABLE_FUNCTIONS.join(", "))
    };
    Err(refuse(format!("table function `{name}`"), reason))
}

fn check_show(tree: &Tree, object: usize) -> Result<(), SqlError> {
    let show_type = tree.text(object, "show_type").unwrap_or_default();
    let has_query = tree
        .member(object, "query")
        .is_some_and(|query| tree.is_object(query));
    if matches!(show_type, "DESCRIBE" | "SUMMARY") && has_query {
        return Ok(());
    }
    Err(refuse(
        "SHOW or DESCRIBE without a view",
        format!("DESCRIBE a view by name; the views are {}", VIEWS.join(", ")),
    ))
}

fn check_function(tree: &Tree, object: usize, name: &str) -> Result<(), SqlError> {
    if qualified(tree, object, ["schema", "catalog"]) {
        return Err(refuse(
            format!("function `{name}` called through a schema"),
            "call functions by their name alone",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("__internal") {
        return Err(refuse(format!("function `{name}`"), "it is internal to DuckDB"));
    }
    match DENIED_FUNCTIONS.iter().find(|(denied, _)| *denied == lower) {
        Some((_, reason)) => Err(refuse(format!("function `{name}`"), *reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
