//! The PotNet local graph against the reference fixtures (jarvis-tools 2022.9.16 edges):
//! same edges, same order, same vectors and the same float32 lengths for every structure.

mod common;

use common::{fixture as load, floats as f64s, indices as usizes, structure, vec3s};
use crystalpot::neighbors::potnet_graph;
use crystalpot::Vec3;

#[test]
fn local_edges_match_reference_in_order() {
    let sums = load("lattice_sums.json");
    let outputs = load("potnet_outputs.json");
    let structures = sums["structures"].as_array().expect("structures");
    let expected = outputs["structures"].as_array().expect("structures");
    assert_eq!(structures.len(), expected.len());
    assert!(!structures.is_empty());

    let mut failures = Vec::new();
    for (s, out) in structures.iter().zip(expected) {
        let id = s["id"].as_str().unwrap_or("?");
        assert_eq!(
            out["id"], s["id"],
            "the two fixture files list the same structures"
        );
        let edges = &out["local_edges"];
        let graph = potnet_graph(&structure(s), 4.0, 16).expect("graph");
        let (u, v, r) = (
            usizes(&edges["u"]),
            usizes(&edges["v"]),
            vec3s(&edges["r_vec"]),
        );
        let d32: Vec<f32> = f64s(&edges["distance_f32"])
            .iter()
            .map(|&x| x as f32)
            .collect();

        let ordered = graph.u == u && graph.v == v;
        let max_dr = if ordered {
            graph
                .r_vec
                .iter()
                .zip(&r)
                .map(|(a, b)| (a - b).amax())
                .fold(0.0, f64::max)
        } else {
            f64::INFINITY
        };
        let f32_mismatches = if ordered {
            graph
                .distances_f32()
                .iter()
                .zip(&d32)
                .filter(|(a, b)| a != b)
                .count()
        } else {
            usize::MAX
        };
        let cutoff_ok =
            (graph.final_search_cutoff - edges["final_search_cutoff"].as_f64().unwrap()).abs()
                < 1e-9;
        // Multiset comparison, to tell an order problem from an edge-set problem.
        let key = |a: usize, b: usize, x: &Vec3| {
            (a, b, [x.x, x.y, x.z].map(|c| (c * 1e6).round() as i64))
        };
        let mut mine: Vec<_> = (0..graph.num_edges())
            .map(|k| key(graph.u[k], graph.v[k], &graph.r_vec[k]))
            .collect();
        let mut theirs: Vec<_> = (0..u.len()).map(|k| key(u[k], v[k], &r[k])).collect();
        mine.sort();
        theirs.sort();
        let verdict = if ordered && max_dr < 1e-12 && f32_mismatches == 0 && cutoff_ok {
            "exact order"
        } else if mine == theirs {
            "multiset only"
        } else {
            "MISMATCH"
        };
        println!(
            "{id:34} edges {:4}/{:4}  {verdict:13} max|dr| {max_dr:.1e}  f32 length mismatches {f32_mismatches}  search radius {}",
            graph.num_edges(),
            u.len(),
            graph.final_search_cutoff
        );
        if verdict != "exact order" {
            failures.push(id.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "local edges differ from the reference for {failures:?}"
    );
}
