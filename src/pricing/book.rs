//! [`PriceBook`]: the catalog layers a running ledger prices with, and the current snapshot.
//!
//! Pricing reads a snapshot (`Arc<Catalog>`) without locking it for the duration of a batch;
//! adding prices builds a new snapshot and swaps it in.

use std::sync::{Arc, RwLock};

use super::{Catalog, Layer, PriceEntry, PriceSpec, PricingError, build_catalog};

/// The layered price catalog of a running ledger.
pub struct PriceBook {
    shipped: Vec<PriceSpec>,
    file: Vec<PriceSpec>,
    user: RwLock<Vec<PriceSpec>>,
    current: RwLock<Arc<Catalog>>,
}

impl PriceBook {
    /// Builds the book from its three layers.
    ///
    /// # Errors
    /// The first invalid spec of any layer.
    pub fn new(
        shipped: Vec<PriceSpec>,
        file: Vec<PriceSpec>,
        user: Vec<PriceSpec>,
    ) -> Result<PriceBook, PricingError> {
        let catalog = build_catalog(vec![
            (Layer::Shipped, shipped.clone()),
            (Layer::File, file.clone()),
            (Layer::User, user.clone()),
        ])?;
        Ok(PriceBook {
            shipped,
            file,
            user: RwLock::new(user),
            current: RwLock::new(catalog),
        })
    }

    /// The catalog to price with now.
    pub fn current(&self) -> Arc<Catalog> {
        Arc::clone(&self.current.read().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// Validates user specs into entries without adding them.
    ///
    /// # Errors
    /// The first invalid spec.
    pub fn validate_user(specs: &[PriceSpec]) -> Result<Vec<PriceEntry>, PricingError> {
        specs
            .iter()
            .cloned()
            .map(|spec| PriceEntry::from_spec(Layer::User, spec))
            .collect()
    }

    /// Adds user specs (an entry with the same price id replaces the old one) and swaps in the
    /// new snapshot. Call after the specs are stored.
    ///
    /// # Errors
    /// The first invalid spec; the book is then unchanged.
    pub fn add_user(&self, entries: &[PriceEntry]) -> Result<(), PricingError> {
        let mut user = self.user.write().unwrap_or_else(|poison| poison.into_inner());
        let mut next = user.clone();
        for entry in entries {
            next.retain(|existing| {
                PriceEntry::from_spec(Layer::User, existing.clone())
                    .map(|old| old.price_id != entry.price_id)
                    .unwrap_or(false)
            });
            next.push(entry.spec.clone());
        }
        let catalog = build_catalog(vec![
            (Layer::Shipped, self.shipped.clone()),
            (Layer::File, self.file.clone()),
            (Layer::User, next.clone()),
        ])?;
        *user = next;
        *self.current.write().unwrap_or_else(|poison| poison.into_inner()) = catalog;
        Ok(())
    }
}
