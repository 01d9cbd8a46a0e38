//! Chemical elements: symbols and atomic numbers.

/// Element symbols indexed by atomic number minus one (Z = 1..=118).
const SYMBOLS: [&str; 118] = [
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
    "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
    "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb",
    "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl",
    "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk",
    "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh",
    "Fl", "Mc", "Lv", "Ts", "Og",
];

/// The largest atomic number known to crystalpot.
pub const MAX_ATOMIC_NUMBER: u8 = 118;

/// Atomic number of an element symbol. Case-insensitive on the first letter only as
/// written in files ("Na", "NA" and "na" are accepted); anything else returns `None`.
pub fn atomic_number(symbol: &str) -> Option<u8> {
    let mut chars = symbol.chars();
    let first = chars.next()?.to_ascii_uppercase();
    let rest: String = chars.map(|c| c.to_ascii_lowercase()).collect();
    let canonical = format!("{first}{rest}");
    SYMBOLS
        .iter()
        .position(|s| *s == canonical)
        .map(|i| i as u8 + 1)
}

/// Symbol of atomic number `z`, or `None` outside 1..=118.
pub fn symbol(z: u8) -> Option<&'static str> {
    SYMBOLS.get(usize::from(z).checked_sub(1)?).copied()
}

/// The first symbol that occurs twice in `symbols`, if any: model files list each element
/// once (a repeated one would give two embedding rows the same key).
pub fn first_duplicate(symbols: &[String]) -> Option<&str> {
    symbols
        .iter()
        .enumerate()
        .find(|(i, s)| symbols[..*i].contains(s))
        .map(|(_, s)| s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_round_trip() {
        for z in 1..=MAX_ATOMIC_NUMBER {
            assert_eq!(atomic_number(symbol(z).unwrap()), Some(z));
        }
        assert_eq!(atomic_number("NA"), Some(11));
        assert_eq!(atomic_number("og"), Some(118));
        assert_eq!(atomic_number("Xx"), None);
        assert_eq!(atomic_number(""), None);
        assert_eq!(symbol(0), None);
        assert_eq!(symbol(119), None);
    }
}
