//! Statements as the store writes them, once for both backends: the SQL spelling each backend needs
//! ([`Dialect`]), a statement with its arguments ([`Query`]) and a result row ([`DbRow`]). Running
//! them is `store::db`'s business.

use super::{Result, StoreError};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, ColumnIndex, Decode, Encode, Postgres, Sqlite, Type};

/// Which SQL spelling a statement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// Locks the selected rows until the transaction ends. SQLite needs none: its write
    /// transactions start `IMMEDIATE`, which already excludes every other writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Postgres => "FOR UPDATE",
            Self::Sqlite => "",
        }
    }

    /// Picks the spelling for this backend.
    pub fn pick<'a>(self, postgres: &'a str, sqlite: &'a str) -> &'a str {
        match self {
            Self::Postgres => postgres,
            Self::Sqlite => sqlite,
        }
    }
}

/// `($1, $2, …), (…), …`: placeholders for `rows` rows of `cols` values, so several rows go in one
/// statement (one round-trip).
pub fn placeholders(rows: usize, cols: usize) -> String {
    placeholders_from(1, rows, cols)
}

/// [`placeholders`] numbered from `$first`, for a statement with other arguments before them.
pub fn placeholders_from(first: usize, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..cols)
                .map(|c| format!("${}", first + r * cols + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` for `LIKE '%' || $n || '%' ESCAPE '\'`: its `%`, `_` and `\` match themselves (a
/// name such as `_acme.example` is searched as typed).
pub fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A value both backends can bind.
pub trait Bindable<'q>:
    'q + Send + Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite>
{
}
impl<'q, T> Bindable<'q> for T where
    T: 'q + Send + Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite>
{
}

/// A value both backends can decode.
pub trait Decodable:
    for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}
impl<T> Decodable for T where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}

/// The arguments of a statement, in the encoding of its backend.
pub(super) enum Args<'q> {
    Postgres(PgArguments),
    Sqlite(SqliteArguments<'q>),
}

/// One statement with its arguments, built for a given backend by [`Db::query`] or [`Tx::query`].
pub struct Query<'q> {
    pub(super) sql: &'q str,
    pub(super) args: Args<'q>,
    /// The first bind that failed to encode; reported when the query runs.
    error: Option<String>,
}

impl<'q> Query<'q> {
    pub(super) fn new(dialect: Dialect, sql: &'q str) -> Self {
        let args = match dialect {
            Dialect::Postgres => Args::Postgres(PgArguments::default()),
            Dialect::Sqlite => Args::Sqlite(SqliteArguments::default()),
        };
        Self {
            sql,
            args,
            error: None,
        }
    }

    /// Adds the next `$n` argument.
    pub fn bind<T: Bindable<'q>>(mut self, value: T) -> Self {
        let added = match &mut self.args {
            Args::Postgres(a) => a.add(value),
            Args::Sqlite(a) => a.add(value),
        };
        if let Err(e) = added {
            self.error.get_or_insert_with(|| e.to_string());
        }
        self
    }

    /// Fails if an argument could not be encoded.
    pub(super) fn check(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(StoreError::Corrupt(format!(
                "cannot encode an argument: {e}"
            ))),
            None => Ok(()),
        }
    }
}

/// A result row of either backend.
pub enum DbRow {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

impl DbRow {
    /// The value of a column, by name or position.
    pub fn get<T, I>(&self, index: I) -> Result<T>
    where
        T: Decodable,
        I: ColumnIndex<PgRow> + ColumnIndex<SqliteRow>,
    {
        use sqlx::Row;
        Ok(match self {
            Self::Postgres(r) => r.try_get(index)?,
            Self::Sqlite(r) => r.try_get(index)?,
        })
    }
}
