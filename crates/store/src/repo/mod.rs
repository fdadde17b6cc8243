//! Repositories: typed reads and writes, one module per aggregate.

pub mod audit;
pub mod customers;
pub mod documents;
pub mod entities;
pub mod export;
pub mod finance;
pub mod identity;
pub mod imports;
pub mod jobs;
pub mod outbox;
pub mod payments;
pub mod portal;
pub mod queues;
pub mod settlements;
pub mod staff;
pub mod staff_files;

use sqlx::any::AnyArguments;
use sqlx::Arguments;

/// A value to bind, with its SQL type kept for NULLs (PostgreSQL needs
/// typed NULLs).
#[derive(Debug, Clone)]
pub enum SqlValue {
    /// A 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (sealed values, blind indexes).
    Blob(Vec<u8>),
    /// NULL in an integer column.
    NullInt,
    /// NULL in a text column.
    NullText,
    /// NULL in a bytes column.
    NullBlob,
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}
impl From<Option<i64>> for SqlValue {
    fn from(v: Option<i64>) -> Self {
        v.map_or(SqlValue::NullInt, SqlValue::Int)
    }
}
impl From<Option<String>> for SqlValue {
    fn from(v: Option<String>) -> Self {
        v.map_or(SqlValue::NullText, SqlValue::Text)
    }
}
impl From<Option<Vec<u8>>> for SqlValue {
    fn from(v: Option<Vec<u8>>) -> Self {
        v.map_or(SqlValue::NullBlob, SqlValue::Blob)
    }
}

fn add(args: &mut AnyArguments<'_>, value: SqlValue) -> Result<(), sqlx::error::BoxDynError> {
    match value {
        SqlValue::Int(v) => args.add(v),
        SqlValue::Text(v) => args.add(v),
        SqlValue::Blob(v) => args.add(v),
        SqlValue::NullInt => args.add(None::<i64>),
        SqlValue::NullText => args.add(None::<String>),
        SqlValue::NullBlob => args.add(None::<Vec<u8>>),
    }
}

/// Largest number of bound parameters per statement (below SQLite's
/// 32,766 and PostgreSQL's 65,535).
const MAX_PARAMS: usize = 30_000;

/// Multi-row `INSERT` for one table: rows are buffered and written as few
/// statements as the parameter limit allows. Used for single rows too, so
/// that every insert goes through one builder.
#[derive(Debug)]
pub struct Insert {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<SqlValue>,
    /// `(columns)` of a unique key whose conflicts are ignored.
    ignore_conflicts_on: Option<&'static str>,
}

impl Insert {
    /// An insert into `table` of the named columns.
    pub fn new(table: &'static str, columns: &'static [&'static str]) -> Insert {
        Insert {
            table,
            columns,
            values: Vec::new(),
            ignore_conflicts_on: None,
        }
    }

    /// Rows whose `key` (a parenthesised column list of a unique index)
    /// is already stored are skipped (`ON CONFLICT … DO NOTHING`, on both
    /// engines); [`Insert::execute`] then counts only the rows stored.
    pub fn ignore_conflicts(mut self, key: &'static str) -> Insert {
        self.ignore_conflicts_on = Some(key);
        self
    }

    /// Adds a row; its values must follow the column order.
    pub fn row(&mut self, values: Vec<SqlValue>) -> &mut Insert {
        debug_assert_eq!(
            values.len(),
            self.columns.len(),
            "row width for {}",
            self.table
        );
        self.values.extend(values);
        self
    }

    /// Number of buffered rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    /// Whether no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Writes every buffered row within the transaction and empties the buffer.
    pub async fn execute(&mut self, tx: &mut sqlx::AnyConnection) -> crate::error::Result<u64> {
        let width = self.columns.len();
        let rows_per_statement = (MAX_PARAMS / width).max(1);
        // SQLite looks up a named parameter (`$7`) by a linear scan, which
        // makes binding a large multi-row statement quadratic; anonymous
        // `?` placeholders bind in constant time. PostgreSQL needs `$n`.
        let anonymous = tx.backend_name().eq_ignore_ascii_case("sqlite");
        let mut values = std::mem::take(&mut self.values).into_iter();
        let mut rows_left = values.len() / width;
        let mut written = 0;
        while rows_left > 0 {
            let rows = rows_left.min(rows_per_statement);
            rows_left -= rows;
            // Arguments are built with their final capacity: binding one by
            // one through `Query::bind` reallocates and moves the query for
            // every value, which dominated bulk loads (measured with perf).
            let mut args = AnyArguments::default();
            args.reserve(rows * width, 0);
            for value in values.by_ref().take(rows * width) {
                add(&mut args, value).map_err(sqlx::Error::Encode)?;
            }
            let sql = self.statement(rows, anonymous);
            written += sqlx::query_with(&sql, args)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        Ok(written)
    }

    fn statement(&self, rows: usize, anonymous: bool) -> String {
        let width = self.columns.len();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.table,
            self.columns.join(", ")
        );
        sql.reserve(rows * width * 6);
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push(',');
                }
                if anonymous {
                    sql.push('?');
                } else {
                    n += 1;
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
            sql.push(')');
        }
        if let Some(key) = self.ignore_conflicts_on {
            sql.push_str(" ON CONFLICT ");
            sql.push_str(key);
            sql.push_str(" DO NOTHING");
        }
        sql
    }
}
