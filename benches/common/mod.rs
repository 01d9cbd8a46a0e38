//! Structures shared by the benchmarks.

// Each bench uses a subset of these.
#![allow(dead_code)]

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use crystalpot::{Lattice, Structure, Vec3};

/// Rock-salt NaCl with n³ conventional cells (8 n³ atoms), slightly rattled.
pub fn rocksalt(n: usize) -> Structure {
    let frac = [
        [0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.0, 0.0, 0.5],
        [0.0, 0.5, 0.0],
    ];
    rattled_cubic(5.64, vec![11, 11, 11, 11, 17, 17, 17, 17], &frac, n)
}

/// Diamond Si with n³ conventional cells (8 n³ atoms), slightly rattled.
pub fn diamond_si(n: usize) -> Structure {
    let frac = [
        [0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5],
        [0.5, 0.5, 0.0],
        [0.25, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.75, 0.25, 0.75],
        [0.75, 0.75, 0.25],
    ];
    rattled_cubic(5.43, vec![14; 8], &frac, n)
}

/// n³ cubic cells of side `a` (Å) with sites `frac`, every atom moved by a deterministic
/// offset of up to 0.05 Å per axis.
fn rattled_cubic(a: f64, numbers: Vec<u8>, frac: &[[f64; 3]], n: usize) -> Structure {
    let lattice = Lattice::from_rows([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
    let frac: Vec<Vec3> = frac.iter().map(|f| Vec3::new(f[0], f[1], f[2])).collect();
    let cell = Structure::from_fractional(lattice, numbers, &frac, [true; 3]).unwrap();
    let big = cell.supercell([n, n, n]).unwrap();
    let positions = big
        .positions()
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x + Vec3::new(
                (i as f64 * 0.37).sin(),
                (i as f64 * 0.71).cos(),
                (i as f64 * 1.3).sin(),
            ) * 0.05
        })
        .collect();
    Structure::new(*big.lattice(), big.numbers().to_vec(), positions, [true; 3]).unwrap()
}

/// Criterion measurement by the CPU time of the whole process (all threads, on Linux), not
/// wall time: on a shared machine wall time mostly measures the other processes. With one
/// thread on an idle machine the two agree.
pub struct CpuTime;

#[cfg(target_os = "linux")]
fn process_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        seconds: i64,
        nanoseconds: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: clock_gettime writes one timespec (two C longs on 64-bit Linux) to a valid pointer.
    let status = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(t.seconds as u64, t.nanoseconds as u32)
}

/// Elsewhere: wall time since the first call.
#[cfg(not(target_os = "linux"))]
fn process_cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        process_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    /// Nanoseconds, shown like wall time.
    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}
