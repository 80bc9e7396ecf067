//! The origin's database: SQLite (file, WAL, synchronous FULL) by default, PostgreSQL for
//! scale, one code path through sqlx's `Any` driver (queries use `$n` placeholders, which
//! both accept). Invariant: a write returns only after its transaction committed.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use edgeprice_core::feedback::{self, FeedbackEvent};

use crate::push::Delivery;

mod catalog;
mod ingest;
mod rollup;

pub use catalog::{CatalogChange, CatalogProduct};
pub use rollup::{GroupSums, PriceSums, Rollup};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("policy version {0} is not newer than the published ones")]
    NotNewer(u64),
    #[error("policy version {0} was never published")]
    UnknownVersion(u64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A product changed since the version the caller read (its version now).
    #[error("the product changed meanwhile (now version {0})")]
    Stale(u64),
    #[error("no product {0}")]
    UnknownSku(String),
    /// A task running a store operation to its end panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
    /// A stored row no longer reads as the event it was (it was checked on arrival).
    #[error("stored feedback is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// PostgreSQL's native pool beside the Any one, for what the Any driver cannot do
    /// (feedback by `COPY`); `None` on SQLite.
    pg: Option<sqlx::PgPool>,
}

/// Sums over the decisions of one (policy version, arm).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArmSums {
    pub policy_version: u64,
    pub arm: String,
    pub decisions: u64,
    pub purchases: u64,
    pub revenue: f64,
    pub revenue_sq: f64,
    pub profit: f64,
    pub profit_sq: f64,
}

/// A stored bundle.
pub struct StoredBundle {
    pub version: u64,
    pub bytes: Vec<u8>,
}

impl Store {
    /// Connects (`sqlite://path?mode=rwc` or `postgres://...`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        if sqlite {
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        } else {
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
        }
        let pg = match sqlite {
            true => None,
            false => Some(sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(url).await?),
        };
        Ok(Self { pool, pg })
    }

    /// Whether the database is PostgreSQL (row locks and statistics differ from SQLite's).
    fn postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The pool, for a caller that streams a query (the CSV export).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Stores a verified bundle and makes it live, if its version is above every published
    /// one (checked in the same statement as the insert).
    pub async fn publish(
        &self,
        version: u64,
        key_id: &str,
        created: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_policy_change().await?;
        let inserted = sqlx::query(
            "INSERT INTO bundles (version, key_id, created, bytes, published_at) \
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM bundles WHERE version >= $1)",
        )
        .bind(version as i64)
        .bind(key_id)
        .bind(created)
        .bind(bytes)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::NotNewer(version));
        }
        Self::make_live(tx, "publish", version, now).await
    }

    /// Makes an earlier version live again, recorded as a new event.
    pub async fn rollback(&self, version: u64, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_policy_change().await?;
        let exists = sqlx::query("SELECT version FROM bundles WHERE version = $1")
            .bind(version as i64)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(StoreError::UnknownVersion(version));
        }
        Self::make_live(tx, "rollback", version, now).await
    }

    /// A transaction for a publish or rollback. PostgreSQL runs transactions concurrently
    /// (READ COMMITTED): two publishes could each see no newer version and both insert, the
    /// lower one committing last. Locking the bundles table (readers still read) until the
    /// commit makes policy changes take turns. SQLite needs no lock: the pool has one
    /// connection, so writes are serial.
    async fn begin_policy_change(&self) -> Result<sqlx::Transaction<'_, sqlx::Any>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.postgres() {
            sqlx::query("LOCK TABLE bundles IN EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Records one push attempt (`push`).
    pub async fn record_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO push_deliveries (message_id, url, event, policy_version, attempt, status, error, delivered, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&d.message_id)
        .bind(&d.url)
        .bind(&d.event)
        .bind(d.policy_version as i64)
        .bind(i64::from(d.attempt))
        .bind(i64::from(d.status))
        .bind(d.error.as_deref())
        .bind(i64::from(d.delivered))
        .bind(d.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest `limit` push attempts, newest first.
    pub async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, url, event, policy_version, attempt, status, error, delivered, at \
             FROM push_deliveries ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Delivery {
                    message_id: r.try_get("message_id")?,
                    url: r.try_get("url")?,
                    event: r.try_get("event")?,
                    policy_version: r.try_get::<i64, _>("policy_version")? as u64,
                    attempt: r.try_get::<i64, _>("attempt")? as u32,
                    status: r.try_get::<i64, _>("status")? as u16,
                    error: r.try_get("error")?,
                    delivered: r.try_get::<i64, _>("delivered")? != 0,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Records the event that makes `version` live, and commits the transaction.
    async fn make_live(
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        kind: &str,
        version: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO policy_events (kind, version, at) VALUES ($1, $2, $3)")
            .bind(kind)
            .bind(version as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    fn bundle_of(row: AnyRow) -> Result<StoredBundle, StoreError> {
        let version: i64 = row.try_get("version")?;
        Ok(StoredBundle { version: version as u64, bytes: row.try_get("bytes")? })
    }

    /// The live bundle: the version of the latest publish or rollback event.
    pub async fn live(&self) -> Result<Option<StoredBundle>, StoreError> {
        let row = sqlx::query(
            "SELECT b.version AS version, b.bytes AS bytes FROM bundles b \
             WHERE b.version = (SELECT version FROM policy_events ORDER BY id DESC LIMIT 1)",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(Self::bundle_of).transpose()
    }

    pub async fn bundle(&self, version: u64) -> Result<Option<StoredBundle>, StoreError> {
        let row = sqlx::query("SELECT version, bytes FROM bundles WHERE version = $1")
            .bind(version as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Self::bundle_of).transpose()
    }

    /// The latest `limit` publish and rollback events, newest first: (kind, version, at).
    pub async fn history(&self, limit: u32) -> Result<Vec<(String, u64, i64)>, StoreError> {
        let rows = sqlx::query("SELECT kind, version, at FROM policy_events ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get::<i64, _>("version")? as u64, r.try_get("at")?)))
            .collect()
    }

    /// Highest published version (the floor for the next publish).
    pub async fn max_version(&self) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT MAX(version) AS v FROM bundles").fetch_one(&self.pool).await?;
        let v: Option<i64> = row.try_get("v")?;
        Ok(v.map(|v| v as u64))
    }

    /// Every stored feedback event in the format the edge sent it (for evaluation and
    /// retraining), in event id order (deterministic, whatever the arrival order).
    pub async fn feedback_events(&self) -> Result<Vec<FeedbackEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, kind, decision_id, session_id, sku, policy_version, arm, price, cost, propensity, \
             features, purchased, revenue, at, list_price, uniform_price, purchase_probability, personalized, reasons, \
             jurisdiction, disclosed FROM feedback ORDER BY event_id",
        )
        .persistent(false)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let features: Option<String> = r.try_get("features")?;
                let mut e = serde_json::json!({
                    "event_id": r.try_get::<String, _>("event_id")?,
                    "type": r.try_get::<String, _>("kind")?,
                    "decision_id": r.try_get::<String, _>("decision_id")?,
                    "session_id": r.try_get::<Option<String>, _>("session_id")?,
                    "sku": r.try_get::<Option<String>, _>("sku")?,
                    "policy_version": r.try_get::<Option<i64>, _>("policy_version")?,
                    "arm": r.try_get::<Option<String>, _>("arm")?,
                    "price": r.try_get::<Option<f64>, _>("price")?,
                    "cost": r.try_get::<Option<f64>, _>("cost")?,
                    "propensity": r.try_get::<Option<f64>, _>("propensity")?,
                    "features": features.and_then(|f| serde_json::from_str::<serde_json::Value>(&f).ok()),
                    "revenue": r.try_get::<Option<f64>, _>("revenue")?,
                    "time": r.try_get::<i64, _>("at")?,
                    "list_price": r.try_get::<Option<f64>, _>("list_price")?,
                    "uniform_price": r.try_get::<Option<f64>, _>("uniform_price")?,
                    "purchase_probability": r.try_get::<Option<f64>, _>("purchase_probability")?,
                    "personalized": r.try_get::<Option<i64>, _>("personalized")?.map(|p| p != 0),
                    "reasons": r.try_get::<Option<String>, _>("reasons")?
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()),
                    "jurisdiction": r.try_get::<Option<String>, _>("jurisdiction")?,
                    "disclosed": r.try_get::<Option<i64>, _>("disclosed")?.map(|p| p != 0),
                });
                if let Some(p) = r.try_get::<Option<i64>, _>("purchased")? {
                    e["purchased"] = serde_json::Value::Bool(p != 0);
                }
                // Every stored row passed these checks when it arrived.
                let e = serde_json::Value::Object(
                    e.as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
                feedback::from_value(e).map_err(|(code, m)| StoreError::Corrupt(format!("{code}: {m}")))
            })
            .collect()
    }

    /// Number of stored feedback events (for tests and metrics).
    pub async fn feedback_count(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM feedback").fetch_one(&self.pool).await?;
        let n: i64 = row.try_get("n")?;
        Ok(n as u64)
    }
}
