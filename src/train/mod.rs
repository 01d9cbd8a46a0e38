//! Training PotNet models: data sources, splits, metrics.

pub mod dataset;
pub mod energy;
pub mod metrics;
pub mod optim;
pub mod plots;
pub mod potnet;
pub mod split;
