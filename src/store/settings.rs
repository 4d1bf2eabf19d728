//! Values every replica must agree on, generated once by whichever replica starts first.

use super::{Result, Store};

impl Store {
    /// Returns the stored value of `name`, storing `candidate` first if none exists. Concurrent
    /// callers all get the same value.
    pub async fn setting_or_init(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        let q = self
            .db
            .query(
                "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(candidate);
        self.db.execute(q).await?;
        let q = self
            .db
            .query("SELECT value FROM settings WHERE name = $1")
            .bind(name);
        self.db.fetch_one(q).await?.get("value")
    }
}
