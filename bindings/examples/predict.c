/* Predicts the properties of cubic SrTiO3 (perovskite, 5 atoms) with a crystalpot model that
 * knows Sr, Ti and O, e.g. the default PotNet model models/potnet.safetensors: prints the model
 * description, the energy (if the model has one) and every target the model predicts, in
 * cpot_model_info order.
 *
 *   predict_c MODEL
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crystalpot.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL\n", argv[0]);
        return 2;
    }
    cpot_model_t* model = cpot_model_load(argv[1]);
    if (model == NULL) {
        fprintf(stderr, "cannot load %s (status %d): %s\n", argv[1], cpot_last_status(),
                cpot_last_error());
        return 1;
    }
    int exit_code = 1;
    char* info = NULL;
    double* properties = NULL;
    uintptr_t info_size = 0;
    uintptr_t n_targets = 0;
    /* Ask for the size first, then fetch the description. */
    if (cpot_model_info(model, NULL, 0, &info_size) != CPOT_BUFFER_TOO_SMALL ||
        (info = malloc(info_size)) == NULL ||
        cpot_model_info(model, info, info_size, NULL) != CPOT_SUCCESS ||
        cpot_model_n_targets(model, &n_targets) != CPOT_SUCCESS) {
        fprintf(stderr, "cannot describe the model: %s\n", cpot_last_error());
        goto done;
    }
    printf("model: %s\n", info);

    const double a = 3.905; /* Angstrom: cubic cell of SrTiO3 */
    const double h = a / 2;
    const double lattice[9] = {a, 0, 0, 0, a, 0, 0, 0, a};
    const int32_t numbers[5] = {38, 22, 8, 8, 8}; /* Sr, Ti, O, O, O */
    const double positions[15] = {0, 0, 0, h, h, h, h, h, 0, h, 0, h, 0, h, h};
    cpot_system_t system = {5, lattice, numbers, positions, {true, true, true}};
    cpot_request_t request = {n_targets > 0 ? CPOT_PROPERTIES : 0, NULL};
    cpot_results_t results = {0};
    if (n_targets > 0) {
        properties = malloc(n_targets * sizeof(double));
        if (properties == NULL) {
            goto done;
        }
        results.properties = properties;
        results.n_properties = n_targets;
    }
    cpot_status_t status = cpot_compute(model, &system, &request, &results);
    if (status != CPOT_SUCCESS) {
        fprintf(stderr, "cpot_compute failed (status %d): %s\n", status, cpot_last_error());
        goto done;
    }
    /* A property model (PotNet) has no energy: its results.energy is a placeholder 0. */
    if (strstr(info, "\"energy\":true") != NULL) {
        printf("SrTiO3 energy: %.10f eV\n", results.energy);
    }
    for (uintptr_t t = 0; t < n_targets; ++t) {
        printf("SrTiO3 target %lu: %.8g\n", (unsigned long)t, properties[t]);
    }
    exit_code = 0;
done:
    free(properties);
    free(info);
    cpot_model_free(model);
    return exit_code;
}
