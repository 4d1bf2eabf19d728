//! How authorizations and challenges are stored: their columns, how rows are read back, and
//! the inserts an order needs (shared by both spellings of `create_order`).

use super::query::Query;
use super::DbRow;
use super::{parse_status, Result};
use crate::model::{Authorization, AuthzStatus, Challenge, ChallengeStatus, Identifier};

/// The authorization's columns (as `authz_from_row` reads them) and its challenges' under `c_` names.
pub(super) const AUTHZ_JOINED_COLUMNS: &str =
    "a.id, a.account_id, a.identifier_type, a.identifier_value, \
     a.wildcard, a.status, a.expires_at, a.validated_at, c.id AS c_id, c.type AS c_type, \
     c.token AS c_token, c.status AS c_status, c.validated_at AS c_validated_at, \
     c.error AS c_error, c.validation_record AS c_validation_record";
pub(super) const CHALLENGE_COLUMNS: &str =
    "id, authz_id, type, token, status, validated_at, error, validation_record";

pub(super) fn authz_from_row(row: &DbRow) -> Result<Authorization> {
    let status: String = row.get("status")?;
    Ok(Authorization {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        identifier: Identifier {
            kind: row.get("identifier_type")?,
            value: row.get("identifier_value")?,
        },
        wildcard: row.get("wildcard")?,
        status: parse_status(&status, AuthzStatus::parse, "authorization")?,
        expires_at: row.get("expires_at")?,
        validated_at: row.get("validated_at")?,
        challenges: Vec::new(),
    })
}

pub(super) fn challenge_from_row(row: &DbRow) -> Result<Challenge> {
    let status: String = row.get("status")?;
    Ok(Challenge {
        id: row.get("id")?,
        authz_id: row.get("authz_id")?,
        kind: row.get("type")?,
        token: row.get("token")?,
        status: parse_status(&status, ChallengeStatus::parse, "challenge")?,
        validated_at: row.get("validated_at")?,
        error: row.get("error")?,
        validation_record: row.get("validation_record")?,
    })
}

/// The challenge in a row of the joined authorization query; `None` for an authorization without
/// challenges.
pub(super) fn joined_challenge(row: &DbRow) -> Result<Option<Challenge>> {
    let Some(id) = row.get::<Option<String>, _>("c_id")? else {
        return Ok(None);
    };
    let status: String = row.get("c_status")?;
    Ok(Some(Challenge {
        id,
        authz_id: row.get("id")?,
        kind: row.get("c_type")?,
        token: row.get("c_token")?,
        status: parse_status(&status, ChallengeStatus::parse, "challenge")?,
        validated_at: row.get("c_validated_at")?,
        error: row.get("c_error")?,
        validation_record: row.get("c_validation_record")?,
    }))
}

/// Columns of a new authorization, in the order [`bind_authorizations`] binds them (8).
pub(super) const AUTHZ_INSERT_COLUMNS: &str = "id, account_id, identifier_type, identifier_value, \
     wildcard, status, expires_at, validated_at";
/// Columns of a new challenge, in the order [`bind_challenges`] binds them (6).
pub(super) const CHALLENGE_INSERT_COLUMNS: &str = "id, authz_id, type, token, status, position";

/// A challenge to insert: its position in its authorization, itself, its authorization's id.
pub(super) type ChallengeRow<'a> = (usize, &'a Challenge, &'a str);

/// Binds the rows of new authorizations (see [`AUTHZ_INSERT_COLUMNS`]).
pub(super) fn bind_authorizations<'q>(mut q: Query<'q>, authzs: &[&'q Authorization]) -> Query<'q> {
    for a in authzs {
        q = q
            .bind(&a.id)
            .bind(&a.account_id)
            .bind(&a.identifier.kind)
            .bind(&a.identifier.value)
            .bind(a.wildcard)
            .bind(a.status.as_str())
            .bind(a.expires_at)
            .bind(a.validated_at);
    }
    q
}

/// Every challenge of these authorizations, in insert order.
pub(super) fn challenge_rows<'a>(authzs: &[&'a Authorization]) -> Vec<ChallengeRow<'a>> {
    authzs
        .iter()
        .flat_map(|a| {
            a.challenges
                .iter()
                .enumerate()
                .map(|(position, c)| (position, c, a.id.as_str()))
        })
        .collect()
}

/// Binds the rows of new challenges (see [`CHALLENGE_INSERT_COLUMNS`]).
pub(super) fn bind_challenges<'q>(mut q: Query<'q>, rows: &[ChallengeRow<'q>]) -> Query<'q> {
    for (position, c, authz_id) in rows {
        q = q
            .bind(&c.id)
            .bind(*authz_id)
            .bind(&c.kind)
            .bind(&c.token)
            .bind(c.status.as_str())
            .bind(*position as i32);
    }
    q
}
