/* Tests of the crystalpot C ABI against physics (Madelung constants, finite differences) and
 * of its handling of bad input. Run under valgrind by tests/run-c.sh.
 *
 *   test_capi MODEL_DIR SCRATCH_DIR     (MODEL_DIR holds nacl-rigid-ion.json)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crystalpot.h"

static int failures = 0;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            ++failures;                                                   \
        }                                                                 \
    } while (0)

/* The call must fail with `status` and a message containing `needle`. */
static void expect_failure(cpot_status_t got, cpot_status_t status, const char* needle,
                           const char* what) {
    const char* message = cpot_last_error();
    CHECK(got == status, "%s: status %d, expected %d (%s)", what, got, status, message);
    CHECK(strstr(message, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, message,
          needle);
}

#define MADELUNG_NACL 1.747564594633182
#define COULOMB_CONSTANT 14.39964547842567
#define N 8

/* Rock salt, conventional cell, lattice constant a, atom 0 moved by `shift`, cell strained by
 * (1 + eps) with eps symmetric. */
typedef struct {
    double lattice[9];
    int32_t numbers[N];
    double positions[3 * N];
} crystal_t;

static void rocksalt(crystal_t* c, double a, const double shift[3], const double eps[9]) {
    static const double frac[N][3] = {{0, 0, 0},   {0, .5, .5}, {.5, 0, .5}, {.5, .5, 0},
                                      {.5, 0, 0},  {0, .5, 0},  {0, 0, .5},  {.5, .5, .5}};
    static const int32_t z[N] = {11, 11, 11, 11, 17, 17, 17, 17};
    double f[9];
    for (int r = 0; r < 3; ++r) {
        for (int k = 0; k < 3; ++k) {
            f[3 * r + k] = (r == k) + (eps ? eps[3 * r + k] : 0.0);
        }
    }
    /* x -> F x for every lattice row and position (F symmetric). */
    for (int r = 0; r < 3; ++r) {
        for (int k = 0; k < 3; ++k) {
            c->lattice[3 * r + k] = a * f[3 * k + r];
        }
    }
    for (int i = 0; i < N; ++i) {
        double x[3];
        for (int k = 0; k < 3; ++k) {
            x[k] = a * frac[i][k] + (i == 0 && shift ? shift[k] : 0.0) + 0.03 * sin(i + 2.0 * k);
        }
        for (int k = 0; k < 3; ++k) {
            c->positions[3 * i + k] = f[3 * k] * x[0] + f[3 * k + 1] * x[1] + f[3 * k + 2] * x[2];
        }
        c->numbers[i] = z[i];
    }
}

static cpot_system_t system_of(const crystal_t* c) {
    cpot_system_t s = {N, c->lattice, c->numbers, c->positions, {true, true, true}};
    return s;
}

static double energy_of(const cpot_model_t* model, const crystal_t* c, const uint8_t* mask) {
    cpot_system_t s = system_of(c);
    cpot_request_t request = {0, mask};
    cpot_results_t r = {0};
    cpot_status_t status = cpot_compute(model, &s, &request, &r);
    CHECK(status == CPOT_SUCCESS, "energy: %s", cpot_last_error());
    return r.energy;
}

static char* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char* data = malloc((size_t)n + 1);
    *size = fread(data, 1, (size_t)n, f);
    data[*size] = 0;
    fclose(f);
    return data;
}

static void test_version_and_info(const cpot_model_t* model) {
    CHECK(strcmp(cpot_version(), CRYSTALPOT_EXPECTED_VERSION) == 0, "version %s", cpot_version());
    /* The header's version macros name the library it runs against. */
    char from_macros[64];
    snprintf(from_macros, sizeof from_macros, "%d.%d.%d", CRYSTALPOT_VERSION_MAJOR,
             CRYSTALPOT_VERSION_MINOR, CRYSTALPOT_VERSION_PATCH);
    CHECK(strcmp(cpot_version(), from_macros) == 0, "macros %s, library %s", from_macros,
          cpot_version());
    CHECK(strcmp(cpot_version(), CRYSTALPOT_VERSION) == 0, "CRYSTALPOT_VERSION %s", CRYSTALPOT_VERSION);
    uintptr_t needed = 0;
    char small[4];
    expect_failure(cpot_model_info(model, small, sizeof small, &needed), CPOT_BUFFER_TOO_SMALL,
                   "needs", "small info buffer");
    CHECK(needed > 20, "needed %lu", (unsigned long)needed);
    char* info = malloc(needed);
    CHECK(cpot_model_info(model, info, needed, NULL) == CPOT_SUCCESS, "%s", cpot_last_error());
    CHECK(strlen(info) + 1 == needed, "info length");
    CHECK(strstr(info, "\"kind\":\"rigid-ion\"") && strstr(info, "\"elements\":[\"Na\",\"Cl\"]"),
          "info %s", info);
    free(info);
    uintptr_t n_targets = 99;
    CHECK(cpot_model_n_targets(model, &n_targets) == CPOT_SUCCESS && n_targets == 0, "targets");
}

/* A Coulomb-only model loaded from bytes gives -M k_e / r0 per ion pair. */
static void test_madelung_energy(void) {
    const char* json = "{\"kind\": \"rigid-ion\", \"charges\": {\"Na\": 1, \"Cl\": -1}, "
                       "\"tolerance\": 1e-12}";
    cpot_model_t* model = cpot_model_load_bytes((const uint8_t*)json, strlen(json));
    CHECK(model != NULL, "%s", cpot_last_error());
    crystal_t c;
    rocksalt(&c, 5.64, NULL, NULL);
    for (int i = 0; i < 3 * N; ++i) c.positions[i] = round(c.positions[i] / 2.82) * 2.82;
    double e = energy_of(model, &c, NULL);
    double expected = -4.0 * MADELUNG_NACL * COULOMB_CONSTANT / 2.82;
    CHECK(fabs(e / expected - 1.0) < 1e-11, "energy %.15g vs %.15g", e, expected);
    cpot_model_free(model);
}

/* Forces and virial through the ABI are minus the finite-difference gradient of the energy
 * (central differences, h = 1e-5: error ~h^2 E''' + eps E / h, far below 1e-6 of the force). */
static void test_forces_and_virial(const cpot_model_t* model, const uint8_t* mask) {
    crystal_t c;
    rocksalt(&c, 5.64, NULL, NULL);
    cpot_system_t s = system_of(&c);
    cpot_request_t request = {CPOT_FORCES | CPOT_VIRIAL | CPOT_PER_ATOM_ENERGIES, mask};
    double forces[3 * N], virial[9], per_atom[N];
    cpot_results_t r = {0};
    r.forces = forces;
    r.virial = virial;
    r.per_atom_energies = per_atom;
    CHECK(cpot_compute(model, &s, &request, &r) == CPOT_SUCCESS, "%s", cpot_last_error());
    double sum = 0, fmax = 0;
    for (int i = 0; i < N; ++i) sum += per_atom[i];
    CHECK(fabs(sum - r.energy) < 1e-9 * fabs(r.energy), "per-atom sum %.12g vs %.12g", sum,
          r.energy);
    for (int i = 0; i < 3 * N; ++i) fmax = fmax > fabs(forces[i]) ? fmax : fabs(forces[i]);
    const double h = 1e-5;
    for (int k = 0; k < 3; ++k) {
        double plus[3] = {0}, minus[3] = {0};
        plus[k] = h;
        minus[k] = -h;
        crystal_t cp, cm;
        rocksalt(&cp, 5.64, plus, NULL);
        rocksalt(&cm, 5.64, minus, NULL);
        double fd = -(energy_of(model, &cp, mask) - energy_of(model, &cm, mask)) / (2 * h);
        CHECK(fabs(fd - forces[k]) < 1e-6 * fmax, "force[0][%d] %.10g vs fd %.10g", k, forces[k],
              fd);
    }
    double wmax = 0;
    for (int i = 0; i < 9; ++i) wmax = wmax > fabs(virial[i]) ? wmax : fabs(virial[i]);
    /* W_ab = -dE/d eps_ab, eps symmetric: check a diagonal and an off-diagonal entry. */
    const int entries[2][2] = {{1, 1}, {0, 2}};
    for (int e = 0; e < 2; ++e) {
        int a = entries[e][0], b = entries[e][1];
        double ep[9] = {0}, em[9] = {0};
        ep[3 * a + b] += h / 2;
        ep[3 * b + a] += h / 2;
        em[3 * a + b] -= h / 2;
        em[3 * b + a] -= h / 2;
        crystal_t cp, cm;
        rocksalt(&cp, 5.64, NULL, ep);
        rocksalt(&cm, 5.64, NULL, em);
        double fd = -(energy_of(model, &cp, mask) - energy_of(model, &cm, mask)) / (2 * h);
        double w = 0.5 * (virial[3 * a + b] + virial[3 * b + a]);
        CHECK(fabs(fd - w) < 1e-6 * wmax, "virial[%d][%d] %.10g vs fd %.10g", a, b, w, fd);
    }
}

/* Disjoint energy masks, or the shares of the work of cpot_compute_share, add up to the full
   energy and forces. */
static void test_parts_add_up(const cpot_model_t* model, int shares) {
    crystal_t c;
    rocksalt(&c, 5.64, NULL, NULL);
    cpot_system_t s = system_of(&c);
    double full_f[3 * N], part_f[3 * N], sum_f[3 * N] = {0};
    cpot_request_t all = {CPOT_FORCES, NULL};
    cpot_results_t full = {0};
    full.forces = full_f;
    CHECK(cpot_compute(model, &s, &all, &full) == CPOT_SUCCESS, "%s", cpot_last_error());
    double energy = 0, fmax = 0;
    for (int part = 0; part < 3; ++part) {
        uint8_t mask[N];
        for (int i = 0; i < N; ++i) mask[i] = (i % 3 == part);
        cpot_request_t request = {CPOT_FORCES, shares ? NULL : mask};
        cpot_results_t r = {0};
        r.forces = part_f;
        cpot_status_t status = shares ? cpot_compute_share(model, &s, &request, part, 3, &r)
                                      : cpot_compute(model, &s, &request, &r);
        CHECK(status == CPOT_SUCCESS, "%s", cpot_last_error());
        energy += r.energy;
        for (int i = 0; i < 3 * N; ++i) {
            sum_f[i] += part_f[i];
            fmax = fmax > fabs(part_f[i]) ? fmax : fabs(part_f[i]);
        }
    }
    /* Same truncation for every piece (see the Rust tests): only rounding differs. */
    CHECK(fabs(energy - full.energy) < 1e-12 * fabs(full.energy), "sum of parts %.15g vs %.15g",
          energy, full.energy);
    for (int i = 0; i < 3 * N; ++i) {
        CHECK(fabs(sum_f[i] - full_f[i]) < 1e-12 * fmax, "force %d", i);
    }
    if (shares) {
        cpot_results_t r = {0};
        r.forces = part_f;
        expect_failure(cpot_compute_share(model, &s, &all, 3, 3, &r), CPOT_INVALID_ARGUMENT,
                       "share index 3 of 3", "share index out of range");
    }
}

static void test_batch(const cpot_model_t* model) {
    crystal_t c[2];
    const double shift[3] = {0.02, -0.01, 0.03};
    rocksalt(&c[0], 5.64, NULL, NULL);
    rocksalt(&c[1], 5.70, shift, NULL);
    cpot_system_t s[2] = {system_of(&c[0]), system_of(&c[1])};
    double f[2][3 * N];
    cpot_results_t r[2];
    memset(r, 0, sizeof r);
    r[0].forces = f[0];
    r[1].forces = f[1];
    cpot_request_t request = {CPOT_FORCES, NULL};
    CHECK(cpot_compute_batch(model, s, 2, &request, r) == CPOT_SUCCESS, "%s", cpot_last_error());
    for (int k = 0; k < 2; ++k) {
        double single = energy_of(model, &c[k], NULL);
        CHECK(r[k].energy == single, "batch %d: %.15g vs %.15g", k, r[k].energy, single);
    }
    /* A bad system in a batch is named by its index. */
    s[1].n_atoms = 0;
    expect_failure(cpot_compute_batch(model, s, 2, &request, r), CPOT_INVALID_ARGUMENT,
                   "system 1: system->n_atoms is 0", "batch with an empty system");
}

/* Madelung constant from the Coulomb matrix; per-atom potential gives the same energy. */
static void test_lattice_sums(void) {
    crystal_t c;
    rocksalt(&c, 5.64, NULL, NULL);
    for (int i = 0; i < 3 * N; ++i) c.positions[i] = round(c.positions[i] / 2.82) * 2.82;
    cpot_system_t s = system_of(&c);
    double coulomb[N * N], london[N * N], pauli[N * N], bounds[3];
    CHECK(cpot_lattice_sums(&s, 1e-12, 1, 3.0, 0, coulomb, london, pauli, bounds) == CPOT_SUCCESS,
          "%s", cpot_last_error());
    double q[N], e = 0;
    for (int i = 0; i < N; ++i) q[i] = c.numbers[i] == 11 ? 1.0 : -1.0;
    for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j) e += 0.5 * q[i] * q[j] * coulomb[N * i + j];
    double m = -e / 4.0 * 2.82;
    CHECK(fabs(m / MADELUNG_NACL - 1) < 1e-11, "Madelung %.15g", m);
    CHECK(bounds[0] > 0 && bounds[0] < 1e-11 && bounds[1] > 0 && bounds[2] > 0, "bounds");
    CHECK(fabs(coulomb[1] - coulomb[N]) <= 2 * bounds[0], "symmetric");

    double phi[N], phi_bound, energy, forces[3 * N], virial[9];
    CHECK(cpot_lattice_potential(&s, 1.0, q, 1e-12, phi, &phi_bound, &energy, forces, virial) ==
              CPOT_SUCCESS,
          "%s", cpot_last_error());
    CHECK(fabs(energy - e) < 1e-11 * fabs(e), "potential energy %.15g vs %.15g", energy, e);
    for (int i = 0; i < 3 * N; ++i) CHECK(fabs(forces[i]) < 1e-10, "ideal-lattice force %d", i);
    /* E is homogeneous of degree -1 in the coordinates, so trace W = E; cubic: W = E/3 1. */
    CHECK(fabs(virial[0] + virial[4] + virial[8] - energy) < 1e-10 * fabs(energy) &&
              fabs(virial[0] - virial[8]) < 1e-10 * fabs(energy) && fabs(virial[1]) < 1e-10,
          "virial %.15g %.15g %.15g vs E %.15g", virial[0], virial[4], virial[8], energy);
    /* Only what is asked for. */
    CHECK(cpot_lattice_sums(&s, 1e-10, 0, 3.0, 1, NULL, NULL, pauli, bounds) == CPOT_SUCCESS &&
              bounds[0] == 0 && bounds[2] > 0,
          "pauli only");
}

static void test_bad_input(const cpot_model_t* model, const char* model_dir,
                           const char* scratch) {
    crystal_t c;
    rocksalt(&c, 5.64, NULL, NULL);
    cpot_system_t s = system_of(&c);
    cpot_request_t request = {CPOT_FORCES, NULL};
    double forces[3 * N];
    cpot_results_t r = {0};
    r.forces = forces;

    expect_failure(cpot_compute(NULL, &s, &request, &r), CPOT_INVALID_ARGUMENT, "model is NULL",
                   "NULL model");
    expect_failure(cpot_compute(model, NULL, &request, &r), CPOT_INVALID_ARGUMENT,
                   "system is NULL", "NULL system");
    expect_failure(cpot_compute(model, &s, NULL, &r), CPOT_INVALID_ARGUMENT, "request is NULL",
                   "NULL request");
    expect_failure(cpot_compute(model, &s, &request, NULL), CPOT_INVALID_ARGUMENT,
                   "results is NULL", "NULL results");
    cpot_results_t no_forces = {0};
    expect_failure(cpot_compute(model, &s, &request, &no_forces), CPOT_INVALID_ARGUMENT,
                   "results->forces (its flag is set) is NULL", "flag without buffer");
    cpot_request_t bad_flags = {64, NULL};
    expect_failure(cpot_compute(model, &s, &bad_flags, &r), CPOT_INVALID_ARGUMENT,
                   "unknown bits 0x40", "unknown flag");
    cpot_request_t properties = {CPOT_PROPERTIES, NULL};
    double p;
    cpot_results_t small = {0};
    small.properties = &p;
    CHECK(cpot_compute(model, &s, &properties, &small) == CPOT_SUCCESS,
          "a model without targets fills no properties: %s", cpot_last_error());

    cpot_system_t t = s;
    t.positions = NULL;
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_ARGUMENT,
                   "system->positions is NULL", "NULL positions");
    t = s;
    t.n_atoms = 0;
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_ARGUMENT,
                   "system->n_atoms is 0", "no atoms");
    t = s;
    t.n_atoms = (uintptr_t)-1 / 2;
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_ARGUMENT,
                   "cannot be a buffer", "absurd atom count");

    crystal_t bad = c;
    bad.positions[3 * 5 + 1] = NAN;
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_ARGUMENT,
                   "atom 5 has a NaN or infinite coordinate", "NaN position");
    bad = c;
    bad.lattice[4] = INFINITY;
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_ARGUMENT,
                   "system->lattice contains a NaN or infinite value", "infinite lattice");
    bad = c;
    for (int k = 0; k < 3; ++k) bad.lattice[6 + k] = bad.lattice[k]; /* c = a */
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_STRUCTURE,
                   "singular lattice", "zero-volume cell");
    bad = c;
    bad.lattice[8] = -bad.lattice[8];
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_STRUCTURE, "left-handed",
                   "left-handed cell");
    bad = c;
    for (int k = 0; k < 3; ++k) bad.positions[3 + k] = bad.positions[k];
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_STRUCTURE, "",
                   "coincident atoms");
    bad = c;
    bad.numbers[2] = 300;
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_STRUCTURE,
                   "atom 2 has atomic number 300", "atomic number out of range");
    bad = c;
    bad.numbers[3] = 8;
    t = system_of(&bad);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_MODEL_ERROR,
                   "element O is not in the model", "element not in the model");
    t = s;
    t.pbc[2] = false;
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_STRUCTURE,
                   "non-periodic directions are not supported", "non-periodic system");

    expect_failure(cpot_lattice_sums(&s, -1.0, 0, 3.0, 0, forces, NULL, NULL, NULL),
                   CPOT_INVALID_ARGUMENT, "tolerance", "negative tolerance");
    expect_failure(cpot_lattice_sums(&s, 1e-30, 1, 3.0, 0, forces, NULL, NULL, NULL),
                   CPOT_TOLERANCE_ERROR, "tolerance", "unreachable tolerance");
    expect_failure(cpot_lattice_potential(&s, 1.0, NULL, 1e-8, NULL, NULL, NULL, NULL, NULL),
                   CPOT_INVALID_ARGUMENT, "weights is NULL", "NULL weights");
    expect_failure(cpot_model_set_threads(NULL, 2), CPOT_INVALID_ARGUMENT, "model is NULL",
                   "threads of NULL");
    expect_failure(cpot_model_info(NULL, NULL, 0, NULL), CPOT_INVALID_ARGUMENT, "model is NULL",
                   "info of NULL");

    /* Model files: missing, truncated (from a path and from bytes), NULL. */
    CHECK(cpot_model_load("/nonexistent/model.json") == NULL, "missing file");
    CHECK(cpot_last_status() == CPOT_IO_ERROR, "missing file status %d", cpot_last_status());
    CHECK(strstr(cpot_last_error(), "/nonexistent/model.json") != NULL, "%s", cpot_last_error());

    char path[4096];
    snprintf(path, sizeof path, "%s/nacl-rigid-ion.json", model_dir);
    size_t size = 0;
    char* text = read_file(path, &size);
    CHECK(text != NULL && size > 100, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/truncated.json", scratch);
    FILE* f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    fwrite(text, 1, size / 2, f);
    fclose(f);
    CHECK(cpot_model_load(path) == NULL, "truncated file");
    CHECK(cpot_last_status() == CPOT_MODEL_ERROR, "truncated status %d", cpot_last_status());
    CHECK(strstr(cpot_last_error(), "truncated.json") &&
              strstr(cpot_last_error(), "not a valid physics model file"),
          "%s", cpot_last_error());
    CHECK(cpot_model_load_bytes((const uint8_t*)text, size / 2) == NULL, "truncated bytes");
    CHECK(cpot_last_status() == CPOT_MODEL_ERROR, "truncated bytes status");
    CHECK(cpot_model_load_bytes((const uint8_t*)"\x00\x01garbage", 9) == NULL, "garbage bytes");
    CHECK(strstr(cpot_last_error(), "not a crystalpot model file"), "%s", cpot_last_error());
    free(text);
    CHECK(cpot_model_load(NULL) == NULL && cpot_last_status() == CPOT_INVALID_ARGUMENT,
          "NULL path");
    CHECK(cpot_model_load_bytes(NULL, 3) == NULL && strstr(cpot_last_error(), "data is NULL"),
          "NULL bytes");
    cpot_model_free(NULL);
}

/* Issue 21: misuse of handles, non-finite results, the minimum distance, a flipped byte. */
static void test_reliability(const char* model_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/nacl-rigid-ion.json", model_dir);
    crystal_t c;
    rocksalt(&c, 5.64, NULL, NULL);
    cpot_system_t s = system_of(&c);
    cpot_request_t request = {0, NULL};
    cpot_results_t r = {0};

    /* Use after free and double free: CPOT_INVALID_ARGUMENT, no crash (valgrind-clean). */
    cpot_model_t* gone = cpot_model_load(path);
    CHECK(gone != NULL, "%s", cpot_last_error());
    cpot_model_free(gone);
    expect_failure(cpot_compute(gone, &s, &request, &r), CPOT_INVALID_ARGUMENT,
                   "not a live handle", "compute after free");
    cpot_model_free(gone);
    CHECK(cpot_last_status() == CPOT_INVALID_ARGUMENT && strstr(cpot_last_error(), "freed twice"),
          "double free: %s", cpot_last_error());

    /* Weights of 1e300: a clear error, not status 0 with -inf. */
    double w[N], phi[N], energy = 0;
    for (int i = 0; i < N; ++i) w[i] = (i < 4 ? 1e300 : -1e300);
    expect_failure(cpot_lattice_potential(&s, 1.0, w, 1e-10, phi, NULL, &energy, NULL, NULL),
                   CPOT_INVALID_ARGUMENT, "non-finite result", "weights 1e300");

    /* Atoms 0.1 Å apart are named; the threshold is an option of the handle. */
    cpot_model_t* model = cpot_model_load(path);
    CHECK(model != NULL, "%s", cpot_last_error());
    crystal_t close = c;
    for (int k = 0; k < 3; ++k) close.positions[3 * 4 + k] = close.positions[k] + (k == 0 ? 0.1 : 0);
    cpot_system_t t = system_of(&close);
    expect_failure(cpot_compute(model, &t, &request, &r), CPOT_INVALID_STRUCTURE,
                   "atoms 0 (Na) and 4 (Cl) are 0.1000 Å apart", "close pair");
    expect_failure(cpot_model_set_min_distance(model, -1.0), CPOT_INVALID_ARGUMENT,
                   "min_distance", "negative min_distance");
    CHECK(cpot_model_set_min_distance(model, 0.05) == CPOT_SUCCESS, "%s", cpot_last_error());
    CHECK(cpot_compute(model, &t, &request, &r) == CPOT_SUCCESS, "close pair with 0.05 Å: %s",
          cpot_last_error());
    CHECK(r.energy > 0 && isfinite(r.energy), "close-pair energy %g", r.energy);
    cpot_model_free(model);

    /* Z = -11: the message has its prefix. */
    crystal_t bad = c;
    bad.numbers[0] = -11;
    cpot_system_t u = system_of(&bad);
    cpot_model_t* m2 = cpot_model_load(path);
    expect_failure(cpot_compute(m2, &u, &request, &r), CPOT_INVALID_STRUCTURE,
                   "invalid structure: system->numbers: atom 0 has atomic number -11", "Z = -11");
    cpot_model_free(m2);

    /* A flipped byte in a shipped model's weights is refused at load. */
    snprintf(path, sizeof path, "%s/linear-mlearn-Si.safetensors", model_dir);
    size_t size = 0;
    char* bytes = read_file(path, &size);
    CHECK(bytes != NULL && size > 1000, "cannot read %s", path);
    bytes[size - 100] ^= 0x04;
    CHECK(cpot_model_load_bytes((const uint8_t*)bytes, size) == NULL, "flipped byte loaded");
    CHECK(cpot_last_status() == CPOT_MODEL_ERROR && strstr(cpot_last_error(), "checksum"),
          "flipped byte: %s", cpot_last_error());
    free(bytes);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL_DIR SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/nacl-rigid-ion.json", argv[1]);
    cpot_model_t* model = cpot_model_load(path);
    if (model == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", path, cpot_last_error());
        return 1;
    }
    CHECK(strcmp(cpot_last_error(), "") == 0, "no error yet: %s", cpot_last_error());
    test_version_and_info(model);
    test_madelung_energy();
    test_forces_and_virial(model, NULL);
    const uint8_t mask[N] = {1, 0, 0, 1, 0, 1, 1, 0};
    test_forces_and_virial(model, mask);
    test_parts_add_up(model, 0);
    test_parts_add_up(model, 1);
    test_batch(model);
    test_lattice_sums();
    test_bad_input(model, argv[1], argv[2]);
    test_reliability(argv[1]);
    cpot_model_free(model);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C ABI tests passed\n");
    return 0;
}
