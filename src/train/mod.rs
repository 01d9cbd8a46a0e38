//! Training PotNet models: data sources, splits, metrics.

pub mod dataset;
pub mod metrics;
pub mod plots;
pub mod split;
