//! Repositories: typed reads and writes, one module per aggregate.

pub mod customers;
pub mod entities;
pub mod finance;
pub mod jobs;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

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

fn bind<'q>(query: Query<'q, Any, AnyArguments<'q>>, value: SqlValue) -> Query<'q, Any, AnyArguments<'q>> {
    match value {
        SqlValue::Int(v) => query.bind(v),
        SqlValue::Text(v) => query.bind(v),
        SqlValue::Blob(v) => query.bind(v),
        SqlValue::NullInt => query.bind(None::<i64>),
        SqlValue::NullText => query.bind(None::<String>),
        SqlValue::NullBlob => query.bind(None::<Vec<u8>>),
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
}

impl Insert {
    /// An insert into `table` of the named columns.
    pub fn new(table: &'static str, columns: &'static [&'static str]) -> Insert {
        Insert { table, columns, values: Vec::new() }
    }

    /// Adds a row; its values must follow the column order.
    pub fn row(&mut self, values: Vec<SqlValue>) -> &mut Insert {
        debug_assert_eq!(values.len(), self.columns.len(), "row width for {}", self.table);
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
        let values = std::mem::take(&mut self.values);
        let mut written = 0;
        let mut rows = values.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<SqlValue> = rows.by_ref().take(rows_per_statement * width).collect();
            let sql = self.statement(chunk.len() / width);
            let mut query = sqlx::query(&sql);
            for value in chunk {
                query = bind(query, value);
            }
            written += query.execute(&mut *tx).await?.rows_affected();
        }
        Ok(written)
    }

    fn statement(&self, rows: usize) -> String {
        let width = self.columns.len();
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns.join(", "));
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
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
            }
            sql.push(')');
        }
        sql
    }
}
