//! The live catalog: products as the engine reads them (JSON, checked by the caller before
//! they get here), versioned. Invariants: every change (a replace or a patch) is one
//! transaction that takes the next catalog version; a product row carries the version of
//! its last change, which is its ETag; a fresh database is seeded once, never again (a
//! merchant who empties the catalog keeps it empty).

use sqlx::Row;

use super::{Store, StoreError};

/// One stored product.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogProduct {
    pub sku: String,
    pub doc: serde_json::Value,
    pub version: u64,
    pub updated_at: i64,
}

/// What a replace did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CatalogChange {
    pub version: u64,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

impl Store {
    /// The catalog's version (0 before anything was stored).
    pub async fn catalog_version(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT version FROM catalog_state WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("version")? as u64)
    }

    /// Stores `products` as version 1 if this database was never seeded; returns whether it did.
    pub async fn seed_catalog(&self, products: &[(String, serde_json::Value)], now: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lock = if self.postgres() { " FOR UPDATE" } else { "" };
        let seeded: i64 = sqlx::query(&format!("SELECT seeded FROM catalog_state WHERE id = 1{lock}"))
            .fetch_one(&mut *tx)
            .await?
            .try_get("seeded")?;
        if seeded != 0 {
            return Ok(false);
        }
        let next = Self::next_catalog_version(&mut tx, self.postgres()).await? as i64;
        for (sku, doc) in products {
            sqlx::query(
                "INSERT INTO catalog (sku, doc, version, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sku) DO NOTHING",
            )
            .bind(sku)
            .bind(doc.to_string())
            .bind(next)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE catalog_state SET seeded = 1 WHERE id = 1").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the whole catalog with `products` (SKUs unique) in one transaction: rows that
    /// differ or are new take the next version, missing SKUs are removed.
    pub async fn replace_catalog(
        &self,
        products: &[(String, serde_json::Value)],
        now: i64,
    ) -> Result<CatalogChange, StoreError> {
        let mut tx = self.pool.begin().await?;
        let next = Self::next_catalog_version(&mut tx, self.postgres()).await?;
        let current: std::collections::BTreeMap<String, String> = sqlx::query("SELECT sku, doc FROM catalog")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("sku")?, r.try_get("doc")?)))
            .collect::<Result<_, StoreError>>()?;
        let mut change = CatalogChange { version: next, ..CatalogChange::default() };
        for (sku, doc) in products {
            let text = doc.to_string();
            match current.get(sku) {
                Some(old) if *old == text => {
                    change.unchanged += 1;
                    continue;
                }
                Some(_) => change.changed += 1,
                None => change.added += 1,
            }
            sqlx::query(
                "INSERT INTO catalog (sku, doc, version, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sku) DO UPDATE SET doc = excluded.doc, version = excluded.version, \
                 updated_at = excluded.updated_at",
            )
            .bind(sku)
            .bind(text)
            .bind(next as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let keep: std::collections::BTreeSet<&str> = products.iter().map(|(s, _)| s.as_str()).collect();
        for sku in current.keys().filter(|s| !keep.contains(s.as_str())) {
            sqlx::query("DELETE FROM catalog WHERE sku = $1").bind(sku).execute(&mut *tx).await?;
            change.removed += 1;
        }
        tx.commit().await?;
        Ok(change)
    }

    /// Writes one product's new JSON if its stored version is still `expected` (the version
    /// the caller read and merged into); `Err(Stale(now))` if it changed meanwhile.
    pub async fn patch_product(
        &self,
        sku: &str,
        doc: &serde_json::Value,
        expected: u64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let next = Self::next_catalog_version(&mut tx, self.postgres()).await?;
        let updated =
            sqlx::query("UPDATE catalog SET doc = $1, version = $2, updated_at = $3 WHERE sku = $4 AND version = $5")
                .bind(doc.to_string())
                .bind(next as i64)
                .bind(now)
                .bind(sku)
                .bind(expected as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            let current =
                sqlx::query("SELECT version FROM catalog WHERE sku = $1").bind(sku).fetch_optional(&mut *tx).await?;
            return Err(match current {
                Some(r) => StoreError::Stale(r.try_get::<i64, _>("version")? as u64),
                None => StoreError::UnknownSku(sku.to_string()),
            });
        }
        tx.commit().await?;
        Ok(next)
    }

    /// Takes the next catalog version (PostgreSQL: the state row locked until the commit, so
    /// concurrent changes take turns and versions never repeat).
    async fn next_catalog_version(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        postgres: bool,
    ) -> Result<u64, StoreError> {
        let lock = if postgres { " FOR UPDATE" } else { "" };
        let version: i64 = sqlx::query(&format!("SELECT version FROM catalog_state WHERE id = 1{lock}"))
            .fetch_one(&mut **tx)
            .await?
            .try_get("version")?;
        sqlx::query("UPDATE catalog_state SET version = $1 WHERE id = 1").bind(version + 1).execute(&mut **tx).await?;
        Ok(version as u64 + 1)
    }

    fn catalog_row(r: &sqlx::any::AnyRow) -> Result<CatalogProduct, StoreError> {
        let text: String = r.try_get("doc")?;
        Ok(CatalogProduct {
            sku: r.try_get("sku")?,
            doc: serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("catalog row: {e}")))?,
            version: r.try_get::<i64, _>("version")? as u64,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub async fn product(&self, sku: &str) -> Result<Option<CatalogProduct>, StoreError> {
        let row = sqlx::query("SELECT sku, doc, version, updated_at FROM catalog WHERE sku = $1")
            .bind(sku)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::catalog_row).transpose()
    }

    /// Every product, by SKU.
    pub async fn products(&self) -> Result<Vec<CatalogProduct>, StoreError> {
        let rows =
            sqlx::query("SELECT sku, doc, version, updated_at FROM catalog ORDER BY sku").fetch_all(&self.pool).await?;
        rows.iter().map(Self::catalog_row).collect()
    }
}
