/* Energy, forces and pressure of rock salt (NaCl, 8-atom conventional cell) with the
 * rigid-ion physics model, through the crystalpot C ABI.
 *
 *   rocksalt_c [MODEL]     (default models/nacl-rigid-ion.json, run from the repository root)
 */
#include <stdio.h>

#include "crystalpot.h"

#define N_ATOMS 8

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "models/nacl-rigid-ion.json";
    cpot_model_t* model = cpot_model_load(path);
    if (model == NULL) {
        fprintf(stderr, "cannot load the model: %s\n", cpot_last_error());
        return 1;
    }

    const double a = 5.64; /* Angstrom */
    const double lattice[9] = {a, 0, 0, 0, a, 0, 0, 0, a};
    const int32_t numbers[N_ATOMS] = {11, 11, 11, 11, 17, 17, 17, 17};
    const double fractional[N_ATOMS][3] = {{0, 0, 0},     {0, 0.5, 0.5}, {0.5, 0, 0.5},
                                           {0.5, 0.5, 0}, {0.5, 0, 0},   {0, 0.5, 0},
                                           {0, 0, 0.5},   {0.5, 0.5, 0.5}};
    double positions[3 * N_ATOMS];
    for (int i = 0; i < N_ATOMS; ++i) {
        for (int k = 0; k < 3; ++k) {
            positions[3 * i + k] = a * fractional[i][k];
        }
    }
    positions[0] += 0.05; /* move one Na off its site so that the forces are not zero */

    cpot_system_t system = {N_ATOMS, lattice, numbers, positions, {true, true, true}};
    cpot_request_t request = {CPOT_FORCES | CPOT_VIRIAL, NULL};
    double forces[3 * N_ATOMS];
    double virial[9];
    cpot_results_t results = {0};
    results.forces = forces;
    results.virial = virial;

    cpot_status_t status = cpot_compute(model, &system, &request, &results);
    if (status != CPOT_SUCCESS) {
        fprintf(stderr, "cpot_compute failed (status %d): %s\n", status, cpot_last_error());
        cpot_model_free(model);
        return 1;
    }
    const double volume = a * a * a;
    /* stress = -W / V (eV/A^3, positive under tension); pressure = -trace(stress) / 3 */
    const double pressure_gpa = (virial[0] + virial[4] + virial[8]) / (3.0 * volume) * 160.21766208;
    printf("crystalpot %s, NaCl rigid-ion\n", cpot_version());
    printf("energy   %.10f eV (%.10f eV per NaCl, bound %.1e eV)\n", results.energy,
           results.energy / 4.0, results.energy_error_bound);
    printf("pressure %.6f GPa\n", pressure_gpa);
    for (int i = 0; i < N_ATOMS; ++i) {
        printf("force %d (Z=%d) % .8f % .8f % .8f eV/A\n", i, numbers[i], forces[3 * i],
               forces[3 * i + 1], forces[3 * i + 2]);
    }
    cpot_model_free(model);
    return 0;
}
