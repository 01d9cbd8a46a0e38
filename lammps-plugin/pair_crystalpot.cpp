/* pair_style crystalpot MODEL_FILE [threads N]
   pair_coeff * * El1 El2 ...

   The complete lattice sums couple every atom with every periodic image of every other atom,
   so the usual cutoff-and-ghost-atom scheme does not apply. Each step every rank gathers all
   owned atoms (tags, types, positions) and builds the whole crystal in tag order. Rank r of
   P then computes share r of P of the work (cpot_compute_share: real-space terms of a block
   of atoms, a block of reciprocal vectors): the shares' energies, per-atom energies, forces
   and virials add up to the whole result. One MPI_Allreduce sums forces and per-atom
   energies, of which each rank keeps those of its owned atoms; the shares' energies and
   virials are summed by LAMMPS's own reduction of eng_vdwl and virial. Only owned atoms
   receive forces, so newton on and off are both correct, and no neighbour list is needed. */

#include "pair_crystalpot.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "json.h"
#include "memory.h"
#include "update.h"
#include "utils.h"

#include "crystalpot.h"

#include <algorithm>
#include <cstring>
#include <numeric>

using namespace LAMMPS_NS;

namespace {

/// kcal/mol per eV: e · N_A / 4184 J (CODATA 2018), for `units real`.
constexpr double KCAL_PER_MOL_PER_EV = 23.060547830619026;

/// Element symbols by atomic number (index 0 unused): pair_coeff names elements, the C ABI
/// takes atomic numbers.
const char *const SYMBOLS[] = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si",
    "P",  "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
    "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru",
    "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr",
    "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",
    "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac",
    "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf",
    "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

int atomic_number(const std::string &symbol)
{
  for (int z = 1; z < (int) (sizeof(SYMBOLS) / sizeof(SYMBOLS[0])); ++z)
    if (symbol == SYMBOLS[z]) return z;
  return 0;
}

}    // namespace

PairCrystalpot::PairCrystalpot(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  // The virial comes from crystalpot; f·r over owned and ghost atoms would miss the images.
  no_virial_fdotr_compute = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairCrystalpot::~PairCrystalpot()
{
  cpot_model_free(model);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairCrystalpot::settings(int narg, char **arg)
{
  if (narg < 1) utils::missing_cmd_args(FLERR, "pair_style crystalpot", error);

  const std::string units = update->unit_style;
  if (units == "metal")
    energy_factor = 1.0;
  else if (units == "real")
    energy_factor = KCAL_PER_MOL_PER_EV;
  else
    error->all(FLERR,
               "pair_style crystalpot supports units metal and real only, not units {}",
               units);

  long threads = 1;
  for (int i = 1; i < narg; i += 2) {
    const std::string keyword = arg[i];
    if (i + 1 >= narg)
      error->all(FLERR, "pair_style crystalpot: keyword {} needs a value", keyword);
    if (keyword == "threads") {
      threads = utils::inumeric(FLERR, arg[i + 1], false, lmp);
      if (threads < 0)
        error->all(FLERR, "pair_style crystalpot: threads must be >= 0 (0 = all cores), got {}",
                   threads);
    } else {
      error->all(FLERR, "pair_style crystalpot: unknown keyword {} (known: threads)", keyword);
    }
  }

  load_model(arg[0]);
  if (cpot_model_set_threads(model, (uintptr_t) threads) != CPOT_SUCCESS)
    error->all(FLERR, "pair_style crystalpot: {}", cpot_last_error());
}

void PairCrystalpot::load_model(const std::string &path)
{
  cpot_model_free(model);
  model = cpot_model_load(path.c_str());
  if (!model)
    error->all(FLERR, "pair_style crystalpot: cannot load model file {}: {}", path,
               cpot_last_error());
  model_file = path;

  uintptr_t needed = 0;
  cpot_model_info(model, nullptr, 0, &needed);
  std::vector<char> text(needed);
  if (cpot_model_info(model, text.data(), text.size(), nullptr) != CPOT_SUCCESS)
    error->all(FLERR, "pair_style crystalpot: {}", cpot_last_error());
  const auto info = json::parse(text.data());
  if (!info.value("energy", false))
    error->all(FLERR,
               "pair_style crystalpot: model {} ({}) predicts no energy, so it gives no forces",
               path, info.value("name", std::string("?")));
  model_elements = info.at("elements").get<std::vector<std::string>>();
}

void PairCrystalpot::coeff(int narg, char **arg)
{
  const int ntypes = atom->ntypes;
  if (narg != 2 + ntypes)
    error->all(FLERR,
               "pair_coeff * * for crystalpot needs one element per atom type: {} types, {} "
               "names given",
               ntypes, narg - 2);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for crystalpot must be: pair_coeff * * El1 El2 ...");

  if (!allocated) {
    allocated = 1;
    memory->create(setflag, ntypes + 1, ntypes + 1, "pair:setflag");
    memory->create(cutsq, ntypes + 1, ntypes + 1, "pair:cutsq");
  }
  type_number.assign(ntypes + 1, 0);
  std::vector<std::string> unknown;
  for (int t = 1; t <= ntypes; ++t) {
    const std::string symbol = arg[1 + t];
    if (std::find(model_elements.begin(), model_elements.end(), symbol) == model_elements.end())
      unknown.push_back(symbol);
    else
      type_number[t] = atomic_number(symbol);
  }
  if (!unknown.empty())
    error->all(FLERR, "pair_coeff: element(s) {} not in model {} (it knows {})",
               utils::join_words(unknown, ", "), model_file,
               utils::join_words(model_elements, ", "));
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
}

void PairCrystalpot::init_style()
{
  if (!domain->xperiodic || !domain->yperiodic || !domain->zperiodic)
    error->all(FLERR,
               "pair_style crystalpot requires a box periodic in x, y and z (boundary p p p): "
               "its lattice sums run over all periodic images");
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style crystalpot requires atom IDs");
  // Forces and per-atom energies of all atoms travel in one MPI buffer of 4 n doubles.
  if (atom->natoms > MAXSMALLINT / 4)
    error->all(FLERR, "pair_style crystalpot: too many atoms ({})", atom->natoms);
  // No neighbour list: every atom interacts with every image of every other one.
}

double PairCrystalpot::init_one(int, int)
{
  // Ghost atoms are not used. A nominal range keeps LAMMPS's communication and atom sorting
  // set up as usual (with 0 it warns that no ghost atoms will be generated).
  return 1.0;
}

void PairCrystalpot::gather_system(double lattice[9])
{
  const int nprocs = comm->nprocs;
  const int nlocal = atom->nlocal;
  counts.resize(nprocs);
  displs.resize(nprocs);
  MPI_Allgather(&nlocal, 1, MPI_INT, counts.data(), 1, MPI_INT, world);
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  displs[0] = 0;
  const int n = displs[nprocs - 1] + counts[nprocs - 1];
  if (n != atom->natoms)
    error->all(FLERR, "pair_style crystalpot: {} atoms owned but {} in the system (lost atoms?)",
               n, atom->natoms);

  // One collective for all atom data: tag, type, x, y, z per atom, as doubles (tags and
  // types are integers far below 2^53, so exact). Fewer collectives per step matter for small
  // systems, where latency dominates.
  constexpr int PACKED = 5;
  mine.resize(PACKED * (size_t) nlocal);
  for (int i = 0; i < nlocal; ++i) {
    double *m = &mine[PACKED * (size_t) i];
    m[0] = (double) atom->tag[i];
    m[1] = (double) atom->type[i];
    for (int k = 0; k < 3; ++k) m[2 + k] = atom->x[i][k];
  }
  std::vector<int> packed_counts(nprocs), packed_displs(nprocs);
  for (int p = 0; p < nprocs; ++p) {
    packed_counts[p] = PACKED * counts[p];
    packed_displs[p] = PACKED * displs[p];
  }
  all_atoms.resize(PACKED * (size_t) n);
  MPI_Allgatherv(mine.data(), PACKED * nlocal, MPI_DOUBLE, all_atoms.data(),
                 packed_counts.data(), packed_displs.data(), MPI_DOUBLE, world);
  const auto gathered = [this](int g) { return &all_atoms[PACKED * (size_t) g]; };

  // Tag order makes the system (and so every floating-point sum inside crystalpot) the same
  // whatever the domain decomposition.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&gathered](int a, int b) { return gathered(a)[0] < gathered(b)[0]; });
  slot.resize(n);
  positions.resize(3 * (size_t) n);
  numbers.resize(n);
  for (int s = 0; s < n; ++s) {
    const int g = order[s];
    slot[g] = s;
    for (int k = 0; k < 3; ++k) positions[3 * s + k] = gathered(g)[2 + k];
    numbers[s] = type_number[(int) gathered(g)[1]];
  }

  // LAMMPS's (restricted triclinic) box: a = (xprd,0,0), b = (xy,yprd,0), c = (xz,yz,zprd).
  const double rows[9] = {domain->xprd, 0.0,          0.0, domain->xy,  domain->yprd,
                          0.0,          domain->xz,   domain->yz,       domain->zprd};
  std::copy(rows, rows + 9, lattice);
}

void PairCrystalpot::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (vflag_atom || cvflag_atom)
    error->all(FLERR, "pair_style crystalpot does not compute per-atom virials "
                      "(compute stress/atom, centroid/stress/atom)");

  double lattice[9];
  gather_system(lattice);
  const int n = (int) numbers.size();
  // Forces (3 n) then per-atom energies (n, if wanted): summed over the ranks in one call.
  const size_t n_summed = (eflag_atom ? 4 : 3) * (size_t) n;
  summed.assign(n_summed, 0.0);
  double w[9] = {0.0};

  cpot_system_t system{};
  system.n_atoms = (uintptr_t) n;
  system.lattice = lattice;
  system.numbers = numbers.data();
  system.positions = positions.data();
  system.pbc[0] = system.pbc[1] = system.pbc[2] = true;
  cpot_request_t request{};
  request.flags = CPOT_FORCES | (vflag_global ? CPOT_VIRIAL : 0u) |
      (eflag_atom ? CPOT_PER_ATOM_ENERGIES : 0u);
  cpot_results_t results{};
  results.forces = summed.data();
  results.virial = vflag_global ? w : nullptr;
  results.per_atom_energies = eflag_atom ? summed.data() + 3 * (size_t) n : nullptr;

  // Every rank computes its share, whether or not it owns atoms.
  if (n > 0 &&
      cpot_compute_share(model, &system, &request, (uintptr_t) comm->me,
                         (uintptr_t) comm->nprocs, &results) != CPOT_SUCCESS)
    error->one(FLERR, "pair_style crystalpot: {}", cpot_last_error());
  if (comm->nprocs > 1)
    MPI_Allreduce(MPI_IN_PLACE, summed.data(), (int) n_summed, MPI_DOUBLE, MPI_SUM, world);

  double **f = atom->f;
  const int first = displs[comm->me];
  const double *energies = summed.data() + 3 * (size_t) n;
  for (int i = 0; i < atom->nlocal; ++i) {
    const int s = slot[first + i];
    for (int k = 0; k < 3; ++k) f[i][k] += energy_factor * summed[3 * s + k];
    if (eflag_atom) eatom[i] += energy_factor * energies[s];
  }
  if (eflag_global) eng_vdwl += energy_factor * results.energy;
  if (vflag_global) {
    // LAMMPS's order xx, yy, zz, xy, xz, yz; both use W = sum r (x) F (energy units).
    const int index[6] = {0, 4, 8, 1, 2, 5};
    for (int k = 0; k < 6; ++k) virial[k] += energy_factor * w[index[k]];
  }
}
