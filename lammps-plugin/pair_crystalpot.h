/* pair_style crystalpot: crystalpot models (complete periodic lattice sums, PotNet) as a
   LAMMPS pair style, through crystalpot's C ABI. */

#ifndef LMP_PAIR_CRYSTALPOT_H
#define LMP_PAIR_CRYSTALPOT_H

#include "pair.h"

#include <cstdint>
#include <string>
#include <vector>

struct cpot_model_t;

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

 private:
  cpot_model_t *model = nullptr;
  std::string model_file;
  /// Element symbols the model accepts (from cpot_model_info).
  std::vector<std::string> model_elements;
  /// Atomic number of each LAMMPS atom type (index 0 unused).
  std::vector<int32_t> type_number;
  /// LAMMPS energy unit per eV (1 for metal, kcal/mol per eV for real).
  double energy_factor = 1.0;

  // Buffers reused from step to step (all atoms, in tag order).
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
};

}    // namespace LAMMPS_NS

#endif
