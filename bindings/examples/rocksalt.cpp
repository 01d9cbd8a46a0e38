// Energy, forces and pressure of rock salt (NaCl, 8-atom conventional cell) with the
// rigid-ion physics model, through the crystalpot C++ API.
//
//   rocksalt_cpp [MODEL]     (default models/nacl-rigid-ion.json, run from the repository root)
#include <cstdio>
#include <iostream>

#include "crystalpot.hpp"

int main(int argc, char** argv) {
    try {
        const std::string path = argc > 1 ? argv[1] : "models/nacl-rigid-ion.json";
        const crystalpot::Model model = crystalpot::Model::load(path);

        const double a = 5.64;  // Angstrom
        crystalpot::System nacl;
        nacl.lattice = {a, 0, 0, 0, a, 0, 0, 0, a};
        nacl.numbers = {11, 11, 11, 11, 17, 17, 17, 17};
        const double fractional[8][3] = {{0, 0, 0},   {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0},
                                         {0.5, 0, 0}, {0, 0.5, 0},   {0, 0, 0.5},   {0.5, 0.5, 0.5}};
        for (const auto& f : fractional) {
            for (double x : f) {
                nacl.positions.push_back(a * x);
            }
        }
        nacl.positions[0] += 0.05;  // move one Na off its site so that the forces are not zero

        const crystalpot::Results r = model.compute(nacl, crystalpot::Forces | crystalpot::Virial);
        const double volume = a * a * a;
        const double pressure_gpa =
            (r.virial[0] + r.virial[4] + r.virial[8]) / (3.0 * volume) * 160.21766208;
        std::printf("crystalpot %s, NaCl rigid-ion\n", crystalpot::version().c_str());
        std::printf("energy   %.10f eV (%.10f eV per NaCl, bound %.1e eV)\n", r.energy,
                    r.energy / 4.0, r.energy_error_bound);
        std::printf("pressure %.6f GPa\n", pressure_gpa);
        for (std::size_t i = 0; i < nacl.size(); ++i) {
            std::printf("force %zu (Z=%d) % .8f % .8f % .8f eV/A\n", i, nacl.numbers[i],
                        r.forces[3 * i], r.forces[3 * i + 1], r.forces[3 * i + 2]);
        }
    } catch (const crystalpot::Error& e) {
        std::cerr << "crystalpot error (status " << e.status() << "): " << e.what() << "\n";
        return 1;
    }
    return 0;
}
