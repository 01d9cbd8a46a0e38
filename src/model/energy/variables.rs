//! Gradient variables of the energy network for training (`crate::train::energy`).

use candle_core::Var;

use super::network::StructureTensors;

/// The variables of one evaluation: what the energy is differentiated with respect to.
pub(crate) struct Variables {
    pub positions: Var,
    pub strain: Var,
    pub phi: Vec<Var>,
}

/// Replaces positions, strain and Φ by variables so that backward yields their gradients.
pub(crate) fn with_variables(
    mut t: StructureTensors,
) -> candle_core::Result<(StructureTensors, Variables)> {
    let positions = Var::from_tensor(&t.positions)?;
    let strain = Var::from_tensor(&t.strain)?;
    let phi = t
        .phi
        .iter()
        .map(Var::from_tensor)
        .collect::<candle_core::Result<Vec<_>>>()?;
    t.positions = positions.as_tensor().clone();
    t.strain = strain.as_tensor().clone();
    t.phi = phi.iter().map(|v| v.as_tensor().clone()).collect();
    Ok((
        t,
        Variables {
            positions,
            strain,
            phi,
        },
    ))
}
