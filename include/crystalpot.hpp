/*
 * crystalpot C++ API: a header-only RAII wrapper over the C ABI of crystalpot.h.
 *
 * - crystalpot::Model owns a model handle (move-only; freed in the destructor).
 * - Every failure throws crystalpot::Error, which carries the C status code and the library's
 *   message; sizes are checked here before anything crosses the ABI.
 * - Inputs are std::vector / std::array; results come back in std::vector / std::array.
 * - Units and conventions are those of crystalpot.h (Angstrom, eV, eV/Angstrom, virial in eV,
 *   row-major matrices, lattice rows a, b, c, atom-major positions).
 *
 * Only the C ABI is linked (libcrystalpot, one Rust artifact); the library catches every
 * Rust panic and reports it as CPOT_INTERNAL_ERROR, so nothing aborts the host program.
 */
#ifndef CRYSTALPOT_HPP
#define CRYSTALPOT_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crystalpot.h"

namespace crystalpot {

/// A failed call: the C status code (CPOT_*) and the message naming the problem.
class Error : public std::runtime_error {
public:
    Error(cpot_status_t status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    cpot_status_t status() const noexcept { return status_; }

private:
    cpot_status_t status_;
};

namespace detail {
inline void check(cpot_status_t status) {
    if (status != CPOT_SUCCESS) {
        throw Error(status, cpot_last_error());
    }
}

inline void require(bool condition, const std::string& message) {
    if (!condition) {
        throw Error(CPOT_INVALID_ARGUMENT, message);
    }
}
}  // namespace detail

/// The library version ("0.1.0").
inline std::string version() { return cpot_version(); }

/// A periodic system: lattice rows a, b, c (Angstrom), atomic numbers, Cartesian positions
/// (3 per atom, Angstrom), periodicity (must be all true).
struct System {
    std::array<double, 9> lattice{};
    std::vector<int32_t> numbers;
    std::vector<double> positions;
    std::array<bool, 3> pbc{{true, true, true}};

    std::size_t size() const noexcept { return numbers.size(); }

    /// A C view of this system, valid while it lives; throws on inconsistent sizes.
    cpot_system_t view() const {
        detail::require(positions.size() == 3 * numbers.size(),
                        "System: " + std::to_string(numbers.size()) + " atomic numbers need " +
                            std::to_string(3 * numbers.size()) + " position values, got " +
                            std::to_string(positions.size()));
        cpot_system_t s{};
        s.n_atoms = numbers.size();
        s.lattice = lattice.data();
        s.numbers = numbers.data();
        s.positions = positions.data();
        for (int k = 0; k < 3; ++k) {
            s.pbc[k] = pbc[k];
        }
        return s;
    }
};

/// What to compute, as an OR of flags (the energy is always computed).
enum Flags : uint32_t {
    PerAtomEnergies = CPOT_PER_ATOM_ENERGIES,
    Forces = CPOT_FORCES,
    Virial = CPOT_VIRIAL,
    Properties = CPOT_PROPERTIES,
};

/// Results of one system; vectors are empty when their flag was not set.
struct Results {
    double energy = 0.0;             ///< eV
    double energy_error_bound = 0.0; ///< eV, rigorous
    std::vector<double> per_atom_energies;  ///< n_atoms, eV
    std::vector<double> forces;             ///< 3 * n_atoms, eV/Angstrom
    std::array<double, 9> virial{};         ///< eV, row-major (only with Virial)
    std::vector<double> properties;         ///< one per target (only with Properties)
};

/// A loaded model (move-only). Computing on one Model from several threads at once is
/// allowed; set_threads must not race with computations.
class Model {
public:
    /// Loads a model file (JSON physics model or PotNet safetensors).
    static Model load(const std::string& path) { return Model(cpot_model_load(path.c_str())); }

    /// Loads a model from the bytes of a model file.
    static Model from_bytes(const std::vector<uint8_t>& bytes) {
        return Model(cpot_model_load_bytes(bytes.data(), bytes.size()));
    }

    Model(Model&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Model& operator=(Model&& other) noexcept {
        std::swap(handle_, other.handle_);
        return *this;
    }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;
    ~Model() { cpot_model_free(handle_); }

    /// The JSON description (kind, name, energy, targets, elements, cutoff).
    std::string info_json() const {
        uintptr_t needed = 0;
        cpot_status_t status = cpot_model_info(handle_, nullptr, 0, &needed);
        if (status != CPOT_BUFFER_TOO_SMALL) {
            detail::check(status);
        }
        std::string text(needed, '\0');
        detail::check(cpot_model_info(handle_, &text[0], text.size(), &needed));
        text.resize(needed - 1);
        return text;
    }

    /// Number of properties the model predicts.
    std::size_t n_targets() const {
        uintptr_t n = 0;
        detail::check(cpot_model_n_targets(handle_, &n));
        return n;
    }

    /// Threads used by this model's computations (0 = all cores).
    void set_threads(std::size_t threads) {
        detail::check(cpot_model_set_threads(handle_, threads));
    }

    /// Computes one system. `energy_atoms` (empty = all atoms) selects the atoms whose energy
    /// is computed; forces and virial are then the derivatives of that partial energy with
    /// respect to every atom.
    Results compute(const System& system, uint32_t flags = Forces | Virial,
                    const std::vector<bool>& energy_atoms = {}) const {
        cpot_system_t view = system.view();
        std::vector<uint8_t> mask(energy_atoms.begin(), energy_atoms.end());
        detail::require(mask.empty() || mask.size() == system.size(),
                        "energy_atoms has " + std::to_string(mask.size()) + " entries for " +
                            std::to_string(system.size()) + " atoms");
        flags = effective(flags);
        cpot_request_t request{flags, mask.empty() ? nullptr : mask.data()};
        Results results;
        cpot_results_t out = prepare(results, system.size(), flags);
        detail::check(cpot_compute(handle_, &view, &request, &out));
        finish(results, out);
        return results;
    }

    /// Computes share `index` (from 0) of `count` shares of the work on one system (for MPI
    /// ranks that all hold the whole system): the energies, per-atom energies, forces and
    /// virials of all shares add up to those of compute(). See cpot_compute_share.
    Results compute_share(const System& system, std::size_t index, std::size_t count,
                          uint32_t flags = Forces | Virial) const {
        cpot_system_t view = system.view();
        flags = effective(flags);
        cpot_request_t request{flags, nullptr};
        Results results;
        cpot_results_t out = prepare(results, system.size(), flags);
        detail::check(cpot_compute_share(handle_, &view, &request, index, count, &out));
        finish(results, out);
        return results;
    }

    /// Computes several systems with the same flags.
    std::vector<Results> compute_batch(const std::vector<System>& systems,
                                       uint32_t flags = Forces | Virial) const {
        std::vector<cpot_system_t> views;
        views.reserve(systems.size());
        for (const System& s : systems) {
            views.push_back(s.view());
        }
        flags = effective(flags);
        std::vector<Results> results(systems.size());
        std::vector<cpot_results_t> out;
        out.reserve(systems.size());
        for (std::size_t k = 0; k < systems.size(); ++k) {
            out.push_back(prepare(results[k], systems[k].size(), flags));
        }
        cpot_request_t request{flags, nullptr};
        detail::check(
            cpot_compute_batch(handle_, views.data(), views.size(), &request, out.data()));
        for (std::size_t k = 0; k < systems.size(); ++k) {
            finish(results[k], out[k]);
        }
        return results;
    }

    /// The C handle, for calls the wrapper does not cover (owned by this Model).
    cpot_model_t* get() const noexcept { return handle_; }

private:
    explicit Model(cpot_model_t* handle) : handle_(handle) {
        if (handle_ == nullptr) {
            throw Error(cpot_last_status(), cpot_last_error());
        }
    }

    /// `flags` without Properties for a model that predicts none (the C ABI wants a buffer
    /// for every flag that is set).
    uint32_t effective(uint32_t flags) const {
        return (flags & Properties) && n_targets() == 0 ? flags & ~uint32_t(Properties) : flags;
    }

    cpot_results_t prepare(Results& r, std::size_t n, uint32_t flags) const {
        cpot_results_t out{};
        if (flags & PerAtomEnergies) {
            r.per_atom_energies.assign(n, 0.0);
            out.per_atom_energies = r.per_atom_energies.data();
        }
        if (flags & Forces) {
            r.forces.assign(3 * n, 0.0);
            out.forces = r.forces.data();
        }
        if (flags & Virial) {
            out.virial = r.virial.data();
        }
        if (flags & Properties) {
            r.properties.assign(n_targets(), 0.0);
            out.properties = r.properties.data();
            out.n_properties = r.properties.size();
        }
        return out;
    }

    static void finish(Results& r, const cpot_results_t& out) {
        r.energy = out.energy;
        r.energy_error_bound = out.energy_error_bound;
    }

    cpot_model_t* handle_;
};

/// N x N lattice-sum matrices (row-major) with their rigorous error bounds.
struct LatticeSums {
    std::vector<double> coulomb;  ///< 1/Angstrom
    std::vector<double> london;   ///< 1/Angstrom^6
    std::vector<double> pauli;    ///< exp(-alpha r), dimensionless
    std::array<double, 3> error_bounds{};
};

/// Complete lattice sums of every atom pair (see cpot_lattice_sums).
inline LatticeSums lattice_sums(const System& system, double tolerance, bool relative = true,
                                double pauli_alpha = 3.0, bool pauli_include_self = false) {
    cpot_system_t view = system.view();
    const std::size_t n2 = system.size() * system.size();
    LatticeSums sums{std::vector<double>(n2), std::vector<double>(n2), std::vector<double>(n2),
                     {}};
    detail::check(cpot_lattice_sums(&view, tolerance, relative ? 1 : 0, pauli_alpha,
                                    pauli_include_self ? 1 : 0, sums.coulomb.data(),
                                    sums.london.data(), sums.pauli.data(),
                                    sums.error_bounds.data()));
    return sums;
}

/// Per-atom potential phi_i = sum_j w_j S_p(i, j) and the energy E = 1/2 sum_i w_i phi_i.
struct LatticePotential {
    std::vector<double> phi;
    double phi_error_bound = 0.0;
    double energy = 0.0;
    std::vector<double> forces;       ///< 3 * n_atoms (only with derivatives)
    std::array<double, 9> virial{};   ///< row-major (only with derivatives)
};

/// See cpot_lattice_potential; `tolerance` is absolute per unit of the largest |weight|.
inline LatticePotential lattice_potential(const System& system, double p,
                                          const std::vector<double>& weights, double tolerance,
                                          bool derivatives = false) {
    cpot_system_t view = system.view();
    detail::require(weights.size() == system.size(),
                    "lattice_potential: " + std::to_string(weights.size()) + " weights for " +
                        std::to_string(system.size()) + " atoms");
    LatticePotential out;
    out.phi.resize(system.size());
    if (derivatives) {
        out.forces.resize(3 * system.size());
    }
    detail::check(cpot_lattice_potential(&view, p, weights.data(), tolerance, out.phi.data(),
                                         &out.phi_error_bound, &out.energy,
                                         derivatives ? out.forces.data() : nullptr,
                                         derivatives ? out.virial.data() : nullptr));
    return out;
}

}  // namespace crystalpot

#endif  // CRYSTALPOT_HPP
