-- sql_ast: the parse tree DuckDB's own parser makes of one piece of ad-hoc SQL, one row per
-- node. json_serialize_sql parses the text with this connection's parser and serialises the
-- statements (for any statement that is not a SELECT it returns an error document instead);
-- json_tree walks the document iteratively, so a query nested however deeply comes out whole.
-- `sql::policy::Tree` rebuilds the tree from these rows and `Policy::check` judges it. Nothing
-- of the text is bound or run here.
--
-- Parameters (positional: named parameters are not accepted inside a table function's
-- arguments):
--   ?  VARCHAR  the SQL text
--
-- Result columns: id UBIGINT (the node), parent UBIGINT (NULL for the root), key VARCHAR (the
--   member name in the parent object, or the index in the parent array), json_type VARCHAR
--   (OBJECT, ARRAY, VARCHAR, BOOLEAN, UBIGINT, NULL, …), text VARCHAR (a scalar's value; NULL
--   for objects, arrays and null). Parents come before their children.
SELECT id, parent, key, type AS json_type, atom ->> '$' AS text
FROM json_tree(json_serialize_sql(?::VARCHAR))
ORDER BY id
