//! [`PriceBook`]: the catalog layers a running ledger prices with, and the current snapshot.
//!
//! Pricing reads a snapshot (`Arc<Catalog>`) without holding a lock for the duration of a
//! batch; adding prices or contracts builds a new snapshot and swaps it in.

use std::sync::{Arc, RwLock};

use super::{Catalog, Contract, ContractSpec, Layer, PriceEntry, PriceSpec, PricingError, build_catalog};

/// The specs of every layer.
#[derive(Debug, Clone, Default)]
pub struct PriceLayers {
    /// Shipped with the binary.
    pub shipped: Vec<PriceSpec>,
    /// The operator's overrides file.
    pub file: Vec<PriceSpec>,
    /// Added through the API or imported (stored in the ledger).
    pub user: Vec<PriceSpec>,
    pub file_contracts: Vec<ContractSpec>,
    pub user_contracts: Vec<ContractSpec>,
}

impl PriceLayers {
    fn build(&self) -> Result<Arc<Catalog>, PricingError> {
        build_catalog(
            vec![
                (Layer::Shipped, self.shipped.clone()),
                (Layer::File, self.file.clone()),
                (Layer::User, self.user.clone()),
            ],
            vec![
                (Layer::File, self.file_contracts.clone()),
                (Layer::User, self.user_contracts.clone()),
            ],
        )
    }
}

/// The layered price catalog of a running ledger.
pub struct PriceBook {
    layers: RwLock<PriceLayers>,
    current: RwLock<Arc<Catalog>>,
}

impl PriceBook {
    /// Builds the book from its layers.
    ///
    /// # Errors
    /// The first invalid spec of any layer.
    pub fn new(layers: PriceLayers) -> Result<PriceBook, PricingError> {
        let catalog = layers.build()?;
        Ok(PriceBook {
            layers: RwLock::new(layers),
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

    /// Validates user contracts without adding them.
    ///
    /// # Errors
    /// The first invalid contract.
    pub fn validate_contracts(specs: &[ContractSpec]) -> Result<Vec<Contract>, PricingError> {
        specs
            .iter()
            .cloned()
            .map(|spec| Contract::from_spec(Layer::User, spec))
            .collect()
    }

    /// Adds user prices (an entry with the same price id replaces the old one) and swaps in the
    /// new snapshot. Call after the entries are stored.
    ///
    /// # Errors
    /// An invalid entry; the book is then unchanged.
    pub fn add_user(&self, entries: &[PriceEntry]) -> Result<(), PricingError> {
        self.update(|layers| {
            for entry in entries {
                layers.user.retain(|existing| {
                    PriceEntry::from_spec(Layer::User, existing.clone())
                        .map(|old| old.slot() != entry.slot())
                        .unwrap_or(false)
                });
                layers.user.push(entry.spec.clone());
            }
        })
    }

    /// Adds user contracts (one with the same id replaces the old one).
    ///
    /// # Errors
    /// An invalid contract; the book is then unchanged.
    pub fn add_contracts(&self, contracts: &[Contract]) -> Result<(), PricingError> {
        self.update(|layers| {
            for contract in contracts {
                layers.user_contracts.retain(|existing| {
                    Contract::from_spec(Layer::User, existing.clone())
                        .map(|old| old.contract_id != contract.contract_id)
                        .unwrap_or(false)
                });
                layers.user_contracts.push(contract.spec.clone());
            }
        })
    }

    fn update(&self, change: impl FnOnce(&mut PriceLayers)) -> Result<(), PricingError> {
        let mut layers = self.layers.write().unwrap_or_else(|poison| poison.into_inner());
        let mut next = layers.clone();
        change(&mut next);
        let catalog = next.build()?;
        *layers = next;
        *self.current.write().unwrap_or_else(|poison| poison.into_inner()) = catalog;
        Ok(())
    }
}
