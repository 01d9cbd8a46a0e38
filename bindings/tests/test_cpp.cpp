// Tests of the crystalpot C++ API: RAII, exceptions with status and message, and four
// threads computing at once (separate handles and one shared handle) giving bit-for-bit the
// results of one thread. Run under valgrind by tests/run-c.sh.
//
//   test_cpp MODEL_DIR
#include <cmath>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "crystalpot.hpp"

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
    if (!condition) {
        std::cerr << "check failed: " << what << "\n";
        ++failures;
    }
}

/// Runs `body`, which must throw crystalpot::Error with `status` and a message containing
/// `needle`.
template <class F>
void expect_error(F body, cpot_status_t status, const std::string& needle, const std::string& what) {
    try {
        body();
        check(false, what + ": no exception");
    } catch (const crystalpot::Error& e) {
        check(e.status() == status, what + ": status " + std::to_string(e.status()) + ", expected " +
                                        std::to_string(status) + " (" + e.what() + ")");
        check(std::string(e.what()).find(needle) != std::string::npos,
              what + ": message \"" + e.what() + "\" lacks \"" + needle + "\"");
    }
}

/// A rattled 2x2x2 rock-salt supercell: 64 atoms.
crystalpot::System rocksalt64() {
    const double a = 5.64;
    const double frac[8][3] = {{0, 0, 0},   {0, .5, .5}, {.5, 0, .5}, {.5, .5, 0},
                               {.5, 0, 0},  {0, .5, 0},  {0, 0, .5},  {.5, .5, .5}};
    crystalpot::System s;
    s.lattice = {2 * a, 0, 0, 0, 2 * a, 0, 0, 0, 2 * a};
    for (int x = 0; x < 2; ++x)
        for (int y = 0; y < 2; ++y)
            for (int z = 0; z < 2; ++z)
                for (int i = 0; i < 8; ++i) {
                    const double cell[3] = {double(x), double(y), double(z)};
                    const std::size_t n = s.numbers.size();
                    s.numbers.push_back(i < 4 ? 11 : 17);
                    for (int k = 0; k < 3; ++k)
                        s.positions.push_back(a * (cell[k] + frac[i][k]) +
                                              0.04 * std::sin(1.3 * n + 2.1 * k));
                }
    return s;
}

bool identical(const crystalpot::Results& a, const crystalpot::Results& b) {
    return a.energy == b.energy && a.forces == b.forces && a.virial == b.virial &&
           a.per_atom_energies == b.per_atom_energies;
}

const uint32_t kAll = crystalpot::PerAtomEnergies | crystalpot::Forces | crystalpot::Virial;

void test_threads(const std::string& model_path) {
    const crystalpot::System system = rocksalt64();
    // One pool thread per handle makes every computation's summation order fixed, so any
    // difference between concurrent and lone runs would be shared state, not rounding.
    crystalpot::Model lone = crystalpot::Model::load(model_path);
    lone.set_threads(1);
    const crystalpot::Results reference = lone.compute(system, kAll);
    check(reference.forces.size() == 3 * 64, "64 atoms of forces");

    std::vector<int> same(4, 0);
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            try {
                crystalpot::Model own = crystalpot::Model::load(model_path);
                own.set_threads(1);
                for (int repeat = 0; repeat < 2; ++repeat) {
                    same[t] += identical(own.compute(system, kAll), reference);
                }
            } catch (const std::exception& e) {
                std::cerr << "thread " << t << ": " << e.what() << "\n";
            }
        });
    }
    for (auto& w : workers) w.join();
    for (int t = 0; t < 4; ++t)
        check(same[t] == 2, "separate handle in thread " + std::to_string(t) + " differs");

    // One handle shared by four threads (documented as allowed).
    workers.clear();
    std::vector<int> shared_same(4, 0);
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            try {
                shared_same[t] = identical(lone.compute(system, kAll), reference);
            } catch (const std::exception& e) {
                std::cerr << "shared thread " << t << ": " << e.what() << "\n";
            }
        });
    }
    for (auto& w : workers) w.join();
    for (int t = 0; t < 4; ++t)
        check(shared_same[t] == 1, "shared handle in thread " + std::to_string(t) + " differs");

    // A two-thread pool changes only the summation order: agreement to rounding (1e-12 of
    // the largest force; the sums have ~1e5 terms of relative rounding 1e-16).
    crystalpot::Model two = crystalpot::Model::load(model_path);
    two.set_threads(2);
    const crystalpot::Results r2 = two.compute(system, kAll);
    double fmax = 0, diff = 0;
    for (std::size_t i = 0; i < r2.forces.size(); ++i) {
        fmax = std::max(fmax, std::abs(reference.forces[i]));
        diff = std::max(diff, std::abs(r2.forces[i] - reference.forces[i]));
    }
    check(std::abs(r2.energy - reference.energy) < 1e-12 * std::abs(reference.energy),
          "two threads: energy");
    check(diff < 1e-12 * fmax, "two threads: forces differ by " + std::to_string(diff));
}

void test_api(const std::string& model_path) {
    crystalpot::Model model = crystalpot::Model::load(model_path);
    check(model.info_json().find("\"kind\":\"rigid-ion\"") != std::string::npos, model.info_json());
    check(model.n_targets() == 0, "no targets");
    crystalpot::System s = rocksalt64();

    // Energy of subsets with forces on all atoms: disjoint halves add up.
    std::vector<bool> even(64), odd(64);
    for (int i = 0; i < 64; ++i) (i % 2 ? odd : even)[i] = true;
    const auto full = model.compute(s, crystalpot::Forces);
    const auto a = model.compute(s, crystalpot::Forces, even);
    const auto b = model.compute(s, crystalpot::Forces, odd);
    check(std::abs(a.energy + b.energy - full.energy) < 1e-12 * std::abs(full.energy),
          "subset energies add up");
    // Shares of the work add up as well.
    const auto s0 = model.compute_share(s, 0, 2, crystalpot::Forces);
    const auto s1 = model.compute_share(s, 1, 2, crystalpot::Forces);
    check(std::abs(s0.energy + s1.energy - full.energy) < 1e-12 * std::abs(full.energy),
          "share energies add up");
    // Properties of a model without targets: the wrapper asks for none.
    check(model.compute(s, crystalpot::Properties).properties.empty(), "no properties");

    // Batches equal single computations.
    crystalpot::System small = s;
    small.lattice = {5.64, 0, 0, 0, 5.64, 0, 0, 0, 5.64};
    small.numbers.resize(8);
    small.positions.resize(24);
    const auto batch = model.compute_batch({s, small}, crystalpot::Forces);
    check(batch.size() == 2 && batch[0].energy == full.energy &&
              batch[1].energy == model.compute(small).energy,
          "batch");

    // Lattice sums through the wrapper.
    const auto sums = crystalpot::lattice_sums(small, 1e-10);
    check(sums.coulomb.size() == 64 && sums.error_bounds[0] > 0, "lattice sums");
    std::vector<double> q(8);
    for (int i = 0; i < 8; ++i) q[i] = i < 4 ? 1.0 : -1.0;
    const auto pot = crystalpot::lattice_potential(small, 1.0, q, 1e-10, true);
    check(pot.forces.size() == 24 && pot.phi_error_bound > 0, "lattice potential");

    // Errors carry status and message.
    expect_error([] { crystalpot::Model::load("/nonexistent.json"); }, CPOT_IO_ERROR,
                 "/nonexistent.json", "missing model file");
    expect_error([] { crystalpot::Model::from_bytes({'{', '"'}); }, CPOT_MODEL_ERROR,
                 "not a valid physics model file", "truncated model bytes");
    crystalpot::System mismatch = s;
    mismatch.positions.pop_back();
    expect_error([&] { model.compute(mismatch); }, CPOT_INVALID_ARGUMENT,
                 "64 atomic numbers need 192 position values, got 191", "atom count mismatch");
    expect_error([&] { model.compute(s, crystalpot::Forces, std::vector<bool>(3)); },
                 CPOT_INVALID_ARGUMENT, "energy_atoms has 3 entries for 64 atoms", "mask size");
    crystalpot::System nan = s;
    nan.positions[7] = std::nan("");
    expect_error([&] { model.compute(nan); }, CPOT_INVALID_ARGUMENT,
                 "atom 2 has a NaN or infinite coordinate", "NaN position");
    crystalpot::System flat = s;
    flat.lattice = {1, 0, 0, 0, 1, 0, 0, 0, 0};
    expect_error([&] { model.compute(flat); }, CPOT_INVALID_STRUCTURE, "singular lattice",
                 "zero-volume cell");
    crystalpot::System oxygen = s;
    oxygen.numbers[10] = 8;
    expect_error([&] { model.compute(oxygen); }, CPOT_MODEL_ERROR, "element O is not in the model",
                 "element not in the model");
    expect_error([&] { crystalpot::lattice_potential(small, 1.0, {1.0}, 1e-8); },
                 CPOT_INVALID_ARGUMENT, "1 weights for 8 atoms", "weights size");
    expect_error([&] { model.set_threads(100000); }, CPOT_INVALID_ARGUMENT, "more than",
                 "absurd thread count");

    // Moving transfers ownership; the moved-from handle is released once.
    crystalpot::Model moved = std::move(model);
    check(moved.get() != nullptr && model.get() == nullptr, "move");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " MODEL_DIR\n";
        return 2;
    }
    const std::string path = std::string(argv[1]) + "/nacl-rigid-ion.json";
    try {
        test_api(path);
        test_threads(path);
    } catch (const crystalpot::Error& e) {
        std::cerr << "unexpected error (status " << e.status() << "): " << e.what() << "\n";
        return 1;
    }
    if (failures) {
        std::cerr << failures << " check(s) failed\n";
        return 1;
    }
    std::cout << "C++ API tests passed\n";
    return 0;
}
