use crystalpot::lattice::per_atom::{channel_sums_with, Channels, Method, SumOptions};
use crystalpot::{Lattice, Structure, Vec3};
fn rocksalt(n: usize) -> Structure {
    let frac = [[0.0,0.0,0.0],[0.0,0.5,0.5],[0.5,0.0,0.5],[0.5,0.5,0.0],[0.5,0.0,0.0],[0.5,0.5,0.5],[0.0,0.0,0.5],[0.0,0.5,0.0]];
    let a = 5.64; let l = a * n as f64;
    let lat = Lattice::from_rows([[l,0.0,0.0],[0.0,l,0.0],[0.0,0.0,l]]).unwrap();
    let mut pos = vec![]; let mut z = vec![];
    let mut k = 0u64;
    for i in 0..n { for j in 0..n { for m in 0..n { for (t,f) in frac.iter().enumerate() {
        k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let r = |s: u64| ((s >> 33) as f64 / (1u64<<31) as f64 - 0.5) * 0.2;
        pos.push(Vec3::new((i as f64 + f[0]) * a + r(k), (j as f64 + f[1]) * a + r(k.rotate_left(17)), (m as f64 + f[2]) * a + r(k.rotate_left(35))));
        z.push(if t < 4 { 11 } else { 17 });
    }}}}
    Structure::new(lat, z, pos, [true;3]).unwrap()
}
fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(11);
    let s = rocksalt(n);
    let q: Vec<f64> = s.numbers().iter().map(|&z| if z == 11 { 1.0 } else { -1.0 }).collect();
    let ch = Channels::single(q, 1.0);
    let o = SumOptions { tolerance: 1e-5, derivatives: true, method: Method::Pme, pme_parameters: None };
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let r = channel_sums_with(&s, 1.0, &ch, &o).unwrap();
        eprintln!("N={} total {:.3} s {:?} E={}", s.len(), t.elapsed().as_secs_f64(), r.method, r.energy);
    }
}
