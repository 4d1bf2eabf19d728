//! Reading request bodies under a size limit without cutting the client off.
//!
//! Answering 413 while the client is still uploading and then closing the connection makes most
//! clients see a reset instead of the answer (HTTP/1.1 clients that send the whole request before
//! reading; HTTP/2 streams reset before the client reads). So an oversized body is read on and
//! discarded, up to [`DRAIN_LIMIT`] bytes and [`DRAIN_TIME`], before the 413 goes out; only a
//! body larger still gets its answer on a closing connection.

use crate::acme::{Error, Result};
use axum::body::Body;
use futures::StreamExt;
use std::time::Duration;

/// Most bytes read and thrown away after the limit, so the client can finish sending and read
/// the 413 (a few megabytes cost little; an unbounded drain would be a free upload sink).
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// Longest time spent draining one oversized body.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The body, if it is at most `limit` bytes; else a 413 `malformed` problem naming the limit,
/// after draining what the client is still sending (within the bounds above).
pub async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>> {
    let mut stream = body.into_data_stream();
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Error::malformed(format!("reading the request body: {e}")))?;
        if data.len() + chunk.len() > limit {
            let mut seen = data.len() + chunk.len();
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while seen <= DRAIN_LIMIT {
                    match stream.next().await {
                        Some(Ok(c)) => seen += c.len(),
                        _ => break,
                    }
                }
            })
            .await;
            return Err(too_large(limit));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn too_large(limit: usize) -> Error {
    Error::malformed(format!(
        "the request body is larger than this server's limit of {limit} bytes \
         (server.max_body_bytes); ACME requests are small: check what the client sends"
    ))
    .with_status(413)
}
