//! Complete lattice sums of 1/r^p and exp(-alpha r) over every periodic image.

pub mod potnet;
