/* pair_style crystalpot: crystalpot models as a LAMMPS pair style, through crystalpot's C ABI.
   Models with a neighbour-list form live inside LAMMPS's domain decomposition (full
   neighbour list, ghosts, kspace for the long range); the others are gathered on every rank. */

#ifndef LMP_PAIR_CRYSTALPOT_H
#define LMP_PAIR_CRYSTALPOT_H

#include "pair.h"

#include <cstdint>
#include <string>
#include <vector>

struct cpot_model_t;
struct cpot_pairs_t;

namespace LAMMPS_NS {

class PairCrystalpot : public Pair {
 public:
  PairCrystalpot(class LAMMPS *);
  ~PairCrystalpot() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void *extract(const char *, int &) override;

 private:
  cpot_model_t *model = nullptr;
  std::string model_file;
  /// Element symbols the model accepts (from cpot_model_info).
  std::vector<std::string> model_elements;
  /// Atomic number of each LAMMPS atom type (index 0 unused).
  std::vector<int32_t> type_number;
  /// LAMMPS energy unit per eV (1 for metal, kcal/mol per eV for real).
  double energy_factor = 1.0;

  // ---- decomposed path (models with a neighbour-list form and a rank-1 long range) ----
  /// Whether the model runs inside the domain decomposition.
  bool decomposed = false;
  /// Range of the model's local part and of the real-space screened sums (Å); the pair
  /// cutoff is the larger.
  double cut_local = 0.0, cut_coul = 0.0;
  bool cut_coul_given = false;
  /// CPOT_LONG_RANGE_* bits of the model, and LAMMPS's ewald_order (1<<1 Coulomb, 1<<6
  /// dispersion) and mixing rule, for the kspace styles.
  uint32_t long_range_parts = 0;
  int ewald_order = 0, ewald_mix = GEOMETRIC;
  /// Model charge (e) and dispersion amplitude c (sqrt(energy unit * Å^6)) of each type.
  std::vector<double> type_charge, type_dispersion;
  /// c_i c_j per type pair, what kspace styles read as "B" (energy unit * Å^6).
  double **dispersion_b = nullptr;
  double model_coulomb_constant = 0.0;

  /// Pair models (rigid-ion): the pair coefficients for the atom types, evaluated on a half
  /// list in place (cpot_pairs_compute); NULL for other models (cpot_local_compute on a full
  /// list).
  cpot_pairs_t *pairs = nullptr;

  // Buffers of one block of centres for cpot_local_compute.
  std::vector<uintptr_t> offsets;
  std::vector<int32_t> centre_numbers, neighbor_numbers;
  std::vector<int> centre_index, neighbor_index;
  std::vector<double> vectors, gradients, centre_energies, centre_virials;

  void query_local_form(bool whole);
  void init_decomposed();
  void check_charges();
  void compute_decomposed();
  void compute_pairs();
  void screened_pair(int i, int j, double rsq, const double del[3]);
  void local_block(int first, int last, int nlocal);

  // ---- gathered path (every rank holds all atoms) ----
  std::vector<int> counts, displs;
  /// This rank's atoms and all atoms as gathered: tag, type, x, y, z per atom.
  std::vector<double> mine, all_atoms;
  std::vector<double> positions;
  /// This rank's share of the forces (3 n) and per-atom energies (n), then their sums.
  std::vector<double> summed;
  std::vector<int32_t> numbers;
  /// Position in the tag-ordered system of each gathered atom.
  std::vector<int> slot;

  void load_model(const std::string &path);
  void gather_system(double lattice[9]);
  void compute_gathered();
};

}    // namespace LAMMPS_NS

#endif
