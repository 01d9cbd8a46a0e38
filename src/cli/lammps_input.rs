//! `crystalpot lammps-input`: the LAMMPS input lines that run a model with `pair_style
//! crystalpot`, so that nobody derives charges or kspace settings by hand.

use std::path::PathBuf;

use crystalpot::{elements, Calculator, Error, Result};

/// Prints the plugin, pair_style, pair_coeff, kspace and `set type … charge` lines for MODEL
/// with the given elements in atom-type order (type 1 first).
#[derive(clap::Args)]
pub struct Args {
    /// Model file.
    model: PathBuf,
    /// Element of each atom type, in type order.
    #[arg(required = true)]
    elements: Vec<String>,
    /// Real-space cutoff (Å) of the screened long-range sums.
    #[arg(long, default_value_t = 10.0)]
    cutoff: f64,
    /// Relative accuracy of the kspace style.
    #[arg(long, default_value_t = 1e-6)]
    accuracy: f64,
}

pub fn run(args: Args) -> Result<()> {
    let calc = Calculator::from_file(&args.model)?;
    let known = calc.info().elements;
    let mut numbers = Vec::new();
    for symbol in &args.elements {
        let z = elements::atomic_number(symbol)
            .filter(|_| known.contains(symbol))
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "element {symbol:?} is not in the model (it knows {})",
                    known.join(", ")
                ))
            })?;
        numbers.push(z);
    }
    if !(args.cutoff > 0.0 && args.accuracy > 0.0) {
        return Err(Error::InvalidInput(
            "--cutoff and --accuracy must be > 0".into(),
        ));
    }
    let model = args.model.display();
    println!("plugin load crystalpotplugin.so");
    let long = calc.local_model().and(calc.rank_one_long_range());
    let Some(long) = long else {
        println!("pair_style crystalpot {model}");
        println!("pair_coeff * * {}", args.elements.join(" "));
        println!(
            "# this model is evaluated whole on every rank (no kspace split): it does not scale"
        );
        return Ok(());
    };
    let has_long = !long.charges.is_empty() || !long.dispersion.is_empty();
    if has_long {
        println!("pair_style crystalpot {model} cutoff {}", args.cutoff);
    } else {
        println!("pair_style crystalpot {model}");
    }
    println!("pair_coeff * * {}", args.elements.join(" "));
    if !long.dispersion.is_empty() {
        println!("kspace_style pppm/disp {:e}", args.accuracy);
        println!("kspace_modify disp/auto yes");
    } else if !long.charges.is_empty() {
        println!("kspace_style pppm {:e}", args.accuracy);
    }
    if !long.charges.is_empty() {
        for (t, z) in numbers.iter().enumerate() {
            let q = long
                .charges
                .iter()
                .find(|(e, _)| e == z)
                .map_or(0.0, |(_, q)| *q);
            println!("set type {} charge {q:?}", t + 1);
        }
    }
    Ok(())
}
