//! Structure file formats: POSCAR/CONTCAR, CIF and extended XYZ.

pub mod cif;
pub mod extxyz;
pub mod poscar;
