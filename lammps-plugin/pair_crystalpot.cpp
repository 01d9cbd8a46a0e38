/* pair_style crystalpot MODEL_FILE [threads N] [cutoff R] [whole yes|no]
   pair_coeff * * El1 El2 ...

   Two ways to run, chosen by the model.

   Decomposed (models with a neighbour-list form whose long range is per-element charges and
   geometrically mixed 1/r^6 dispersion, e.g. rigid-ion): the plugin lives inside LAMMPS's
   domain decomposition as pair_snap or lj/cut/coul/long do. A full neighbour list gives each
   owned centre its (ghost) neighbours; cpot_local_compute returns per-centre energies and
   per-neighbour gradients of the model's local part, whose forces on ghosts go back to their
   owners by LAMMPS's reverse communication (newton on). With newton off, ghost centres that
   have owned neighbours are evaluated as well (a ghost list, so the ghost shell must reach
   2 cutoff + skin) and only owned atoms receive forces. The long range is split as Ewald
   does: this pair style sums the real-space screened parts (erfc(g r)/r with LAMMPS's g_ewald,
   the 1/r^6 part with g_ewald_6) within `cutoff` R (default 10 Å) from the atoms' charges
   (checked against the model's) and the model's dispersion coefficients, which it hands to
   the kspace style as "B" with geometric mixing; kspace_style pppm, ewald (Coulomb only),
   pppm/disp or ewald/disp sums the reciprocal part. Memory per rank is O(owned + ghosts).

   Gathered (other models: the energy model, or long ranges not of that form): every rank
   gathers all atoms and computes its share of the whole crystal (cpot_compute_share, complete
   lattice sums), with a warning that this does not scale. `whole yes` takes this path for any
   model (no kspace style then). */

#include "pair_crystalpot.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "kspace.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "json.h"
#include "memory.h"
#include "update.h"
#include "utils.h"

#include "crystalpot.h"

#include <algorithm>
#include <cmath>
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

/// Centres per cpot_local_compute call: bounds the packed neighbour buffers (O(block), not
/// O(atoms)) while amortising the call.
constexpr int BLOCK = 256;

/// LAMMPS's virial order xx, yy, zz, xy, xz, yz as indices of a row-major 3x3 matrix.
constexpr int VOIGT[6] = {0, 4, 8, 1, 2, 5};

/// Whether the pair (i, j) of a full list is the one of its two copies this rank sums for the
/// pairwise screened terms: owned pairs once (j > i); a ghost j once over the ranks with
/// newton on (by the sign of the separation, which the other copy sees reversed, as LAMMPS's
/// half-from-full lists do), always with newton off (ev_tally then counts half).
bool sums_pair(int i, int j, int nlocal, int newton_pair, const double d[3])
{
  if (j < nlocal) return j > i;
  if (!newton_pair) return true;
  if (d[2] != 0.0) return d[2] > 0.0;
  if (d[1] != 0.0) return d[1] > 0.0;
  return d[0] > 0.0;
}

}    // namespace


PairCrystalpot::PairCrystalpot(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairCrystalpot::~PairCrystalpot()
{
  cpot_pairs_free(pairs);
  cpot_model_free(model);
  memory->destroy(dispersion_b);
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
  bool whole = false;
  cut_coul = 10.0;
  cut_coul_given = false;
  for (int i = 1; i < narg; i += 2) {
    const std::string keyword = arg[i];
    if (i + 1 >= narg)
      error->all(FLERR, "pair_style crystalpot: keyword {} needs a value", keyword);
    if (keyword == "threads") {
      threads = utils::inumeric(FLERR, arg[i + 1], false, lmp);
      if (threads < 0)
        error->all(FLERR, "pair_style crystalpot: threads must be >= 0 (0 = all cores), got {}",
                   threads);
    } else if (keyword == "whole") {
      whole = utils::logical(FLERR, arg[i + 1], false, lmp) == 1;
    } else if (keyword == "cutoff") {
      cut_coul = utils::numeric(FLERR, arg[i + 1], false, lmp);
      cut_coul_given = true;
      if (!(cut_coul > 0.0))
        error->all(FLERR, "pair_style crystalpot: cutoff must be > 0, got {}", cut_coul);
    } else {
      error->all(FLERR, "pair_style crystalpot: unknown keyword {} (known: threads, cutoff, whole)",
                 keyword);
    }
  }

  load_model(arg[0]);
  if (cpot_model_set_threads(model, (uintptr_t) threads) != CPOT_SUCCESS)
    error->all(FLERR, "pair_style crystalpot: {}", cpot_last_error());
  query_local_form(whole);
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

/// Decides the path: decomposed when the model has a neighbour-list form and a rank-1 long
/// range (both C ABI queries succeed) unless `whole yes` asks for crystalpot's own complete
/// lattice sums, gathered otherwise.
void PairCrystalpot::query_local_form(bool whole)
{
  decomposed = !whole && cpot_local_cutoff(model, &cut_local) == CPOT_SUCCESS;
  long_range_parts = 0;
  if (decomposed) {
    const int32_t none = 0;    // no elements asked yet: only the parts and the constant
    decomposed = cpot_long_range(model, 0, &none, nullptr, nullptr, &model_coulomb_constant,
                                 &long_range_parts) == CPOT_SUCCESS;
  }
  if (!decomposed && cut_coul_given)
    error->all(FLERR, "pair_style crystalpot: model {} is evaluated whole (no neighbour-list "
               "form with a kspace long range), so the cutoff keyword does not apply",
               model_file);
  ewald_order = 0;
  if (long_range_parts & CPOT_LONG_RANGE_COULOMB) ewald_order |= 1 << 1;
  if (long_range_parts & CPOT_LONG_RANGE_DISPERSION) ewald_order |= 1 << 6;
  // What KSpace::pair_check() asks of a pair style before a kspace style may run with it.
  ewaldflag = pppmflag = ewald_order ? 1 : 0;
  dispersionflag = (ewald_order & (1 << 6)) ? 1 : 0;
  // The gathered path's virial includes every image; f.r over owned and ghost atoms would not.
  no_virial_fdotr_compute = decomposed ? 0 : 1;
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

  if (decomposed) {
    type_charge.assign(ntypes + 1, 0.0);
    type_dispersion.assign(ntypes + 1, 0.0);
    if (cpot_long_range(model, ntypes, type_number.data() + 1, type_charge.data() + 1,
                        type_dispersion.data() + 1, nullptr, nullptr) != CPOT_SUCCESS)
      error->all(FLERR, "pair_style crystalpot: {}", cpot_last_error());
    memory->destroy(dispersion_b);
    memory->create(dispersion_b, ntypes + 1, ntypes + 1, "pair:crystalpot_b");
    for (int i = 0; i <= ntypes; ++i)
      for (int j = 0; j <= ntypes; ++j)
        dispersion_b[i][j] = energy_factor * type_dispersion[i] * type_dispersion[j];
  }
}

void *PairCrystalpot::extract(const char *name, int &dim)
{
  // What kspace styles read from a pair style: pppm and ewald the real-space cutoff, pppm/disp
  // and ewald/disp also the kinds of long range, the mixing rule and the dispersion matrix.
  if (!decomposed) return nullptr;
  dim = 0;
  const std::string id = name;
  if (id == "cut_coul" || id == "cut_LJ" || id == "ewald_cut") return &cut_coul;
  if (id == "ewald_order") return &ewald_order;
  if (id == "ewald_mix") return &ewald_mix;
  if (id == "B" && dispersion_b) {
    dim = 2;
    return dispersion_b;
  }
  return nullptr;
}

void PairCrystalpot::init_style()
{
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style crystalpot requires atom IDs");
  if (decomposed) {
    init_decomposed();
    return;
  }
  if (!domain->xperiodic || !domain->yperiodic || !domain->zperiodic)
    error->all(FLERR,
               "pair_style crystalpot requires a box periodic in x, y and z (boundary p p p): "
               "its lattice sums run over all periodic images");
  if (force->kspace)
    error->all(FLERR,
               "pair_style crystalpot: model {} computes its own long range (complete lattice "
               "sums on the whole system); remove the kspace_style",
               model_file);
  // Forces and per-atom energies of all atoms travel in one MPI buffer of 4 n doubles.
  if (atom->natoms > MAXSMALLINT / 4)
    error->all(FLERR, "pair_style crystalpot: too many atoms ({})", atom->natoms);
  if (comm->me == 0 && comm->nprocs > 1)
    error->warning(FLERR,
                   "pair_style crystalpot: model {} has no neighbour-list form with a kspace "
                   "long range, so every rank gathers all atoms and evaluates the whole crystal "
                   "(its share of it): this does not scale with the number of atoms or ranks",
                   model_file);
  // No neighbour list: every atom interacts with every image of every other one.
}

void PairCrystalpot::init_decomposed()
{
  KSpace *kspace = force->kspace;
  const bool coulomb = long_range_parts & CPOT_LONG_RANGE_COULOMB;
  const bool dispersion = long_range_parts & CPOT_LONG_RANGE_DISPERSION;
  const std::string hint = "(`crystalpot lammps-input MODEL El1 El2 ...` prints the input lines)";
  // Pair models take the fast path, the others the generic one. Built here, not in coeff:
  // force->qqrd2e is only set by Force::init (it was 0 at coeff time: no Coulomb at all).
  cpot_pairs_free(pairs);
  pairs = cpot_pairs_new(model, atom->ntypes + 1, type_number.data(), energy_factor,
                         force->qqrd2e, cut_coul);
  if (!pairs && cpot_last_status() != CPOT_MODEL_ERROR)
    error->all(FLERR, "pair_style crystalpot: {}", cpot_last_error());
  if (long_range_parts && !kspace)
    error->all(FLERR,
               "pair_style crystalpot: model {} has a long range ({}{}) that a kspace style "
               "sums: add kspace_style {} {}",
               model_file, coulomb ? "Coulomb" : "", coulomb && dispersion ? " and 1/r^6" :
               (dispersion ? "1/r^6" : ""), dispersion ? "pppm/disp or ewald/disp" : "pppm or ewald",
               hint);
  if (!long_range_parts && kspace)
    error->all(FLERR,
               "pair_style crystalpot: model {} has no long range, but a kspace_style is "
               "defined: remove it",
               model_file);
  if (dispersion && kspace && !kspace->dispersionflag)
    error->all(FLERR,
               "pair_style crystalpot: model {} has 1/r^6 dispersion: kspace_style {} sums "
               "Coulomb only; use pppm/disp or ewald/disp",
               model_file, force->kspace_style);
  if (coulomb && !atom->q_flag)
    error->all(FLERR,
               "pair_style crystalpot: model {} has charges: use an atom style with charges "
               "(atom_style charge) {}",
               model_file, hint);
  if (coulomb &&
      std::fabs(model_coulomb_constant * energy_factor / force->qqrd2e - 1.0) > 1e-6 &&
      comm->me == 0)
    error->warning(FLERR,
                   "pair_style crystalpot: model {} uses the Coulomb constant {} eV*Å/e^2, "
                   "LAMMPS (and so kspace) {}: the energies use LAMMPS's",
                   model_file, model_coulomb_constant, force->qqrd2e / energy_factor);
  if (!force->newton_pair && !pairs) {
    // Ghost centres next to owned atoms need all their own neighbours as ghosts.
    const double needed = 2.0 * cut_local + neighbor->skin;
    if (std::max(comm->cutghostuser, std::max(cut_local, cut_coul) + neighbor->skin) < needed)
      error->all(FLERR,
                 "pair_style crystalpot with newton off evaluates ghost centres: set "
                 "comm_modify cutoff {} (2 x the model's cutoff {} + skin), or use newton on",
                 needed, cut_local);
  }
  if (coulomb) check_charges();
  // kspace styles initialise the pair style once without wanting a list (neighrequest_flag 0).
  // A half list for pair models (each pair once), a full one for the generic local form.
  if ((!kspace || kspace->neighrequest_flag) && pairs)
    neighbor->add_request(this);
  else if (!kspace || kspace->neighrequest_flag)
    neighbor->add_request(this, NeighConst::REQ_FULL |
                                    (force->newton_pair ? 0 : NeighConst::REQ_GHOST));
}

/// The kspace style reads the atoms' charges: they must be the model's.
void PairCrystalpot::check_charges()
{
  int bad_type = atom->ntypes + 1;
  double bad_charge = 0.0;
  for (int i = 0; i < atom->nlocal; ++i) {
    const int t = atom->type[i];
    if (std::fabs(atom->q[i] - type_charge[t]) > 1e-10 * std::max(1.0, std::fabs(type_charge[t])) &&
        t < bad_type) {
      bad_type = t;
      bad_charge = atom->q[i];
    }
  }
  int worst = bad_type;
  MPI_Allreduce(&bad_type, &worst, 1, MPI_INT, MPI_MIN, world);
  if (worst <= atom->ntypes) {
    if (bad_type != worst) bad_charge = 0.0;
    double charge = bad_charge;
    MPI_Allreduce(&bad_charge, &charge, 1, MPI_DOUBLE, MPI_SUM, world);
    error->all(FLERR,
               "pair_style crystalpot: atoms of type {} ({}) carry charge {} (one of them), the "
               "model {}: add `set type {} charge {:.17g}`",
               worst, SYMBOLS[type_number[worst]], charge, type_charge[worst], worst,
               type_charge[worst]);
  }
}

double PairCrystalpot::init_one(int, int)
{
  // Gathered: ghost atoms are not used. A nominal range keeps LAMMPS's communication and atom
  // sorting set up as usual (with 0 it warns that no ghost atoms will be generated).
  if (!decomposed) return 1.0;
  return long_range_parts ? std::max(cut_local, cut_coul) : cut_local;
}

void PairCrystalpot::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (decomposed)
    compute_decomposed();
  else
    compute_gathered();
}

/// Pair models: the half list, positions, types and charges go to cpot_pairs_compute as
/// LAMMPS holds them, forces are added into atom->f (ghosts' returned by reverse
/// communication with newton on), energies and virials tallied as ev_tally does.
void PairCrystalpot::compute_pairs()
{
  const int nall = atom->nlocal + atom->nghost;
  cpot_half_list_t in{};
  in.n_centres = (uintptr_t) list->inum;
  in.centres = list->ilist;
  in.counts = list->numneigh;
  in.neighbors = list->firstneigh;
  in.index_mask = NEIGHMASK;
  in.n_owned = (uintptr_t) atom->nlocal;
  in.n_atoms = (uintptr_t) nall;
  in.positions = nall ? atom->x[0] : nullptr;
  in.kinds = atom->type;
  in.charges = (long_range_parts & CPOT_LONG_RANGE_COULOMB) ? atom->q : nullptr;
  in.newton = force->newton_pair != 0;
  cpot_pair_results_t out{};
  out.g_ewald = force->kspace ? force->kspace->g_ewald : 0.0;
  out.g_ewald_6 = force->kspace ? force->kspace->g_ewald_6 : 0.0;
  out.forces = nall ? atom->f[0] : nullptr;
  out.atom_energies = eflag_atom ? eatom : nullptr;
  out.atom_virials = vflag_atom ? vatom[0] : nullptr;
  out.want_virial = vflag_global && !vflag_fdotr;
  if (nall && cpot_pairs_compute(pairs, &in, &out) != CPOT_SUCCESS)
    error->one(FLERR, "pair_style crystalpot: {}", cpot_last_error());
  if (eflag_global) {
    eng_vdwl += out.energy_short;
    eng_coul += out.energy_coulomb;
  }
  if (out.want_virial)
    for (int k = 0; k < 6; ++k) virial[k] += out.virial[k];
  if (vflag_fdotr) virial_fdotr_compute();
}

void PairCrystalpot::compute_decomposed()
{
  if (pairs) {
    compute_pairs();
    return;
  }
  const int n_centres = list->inum + (force->newton_pair ? 0 : list->gnum);
  for (int first = 0; first < n_centres; first += BLOCK)
    local_block(first, std::min(first + BLOCK, n_centres), atom->nlocal);
  if (vflag_fdotr) virial_fdotr_compute();
}

/// One block of centres: the screened pair terms of the owned ones as their neighbours are
/// read, the local part of all through one cpot_local_compute call.
void PairCrystalpot::local_block(int first, int last, int nlocal)
{
  double **x = atom->x;
  double **f = atom->f;
  const int *type = atom->type;
  const int newton_pair = force->newton_pair;
  const double cut_localsq = cut_local * cut_local;
  const double cut_coulsq = long_range_parts ? cut_coul * cut_coul : 0.0;

  offsets.assign(1, 0);
  centre_index.clear();
  centre_numbers.clear();
  neighbor_index.clear();
  neighbor_numbers.clear();
  vectors.clear();
  for (int ii = first; ii < last; ++ii) {
    const int i = list->ilist[ii];
    const bool owned = i < nlocal;
    const int *jlist = list->firstneigh[i];
    const int jnum = list->numneigh[i];
    const size_t start = neighbor_index.size();
    bool touches_owned = owned;
    for (int jj = 0; jj < jnum; ++jj) {
      const int j = jlist[jj] & NEIGHMASK;
      const double d[3] = {x[j][0] - x[i][0], x[j][1] - x[i][1], x[j][2] - x[i][2]};
      const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      if (owned && rsq < cut_coulsq && sums_pair(i, j, nlocal, newton_pair, d)) {
        const double del[3] = {-d[0], -d[1], -d[2]};
        screened_pair(i, j, rsq, del);
      }
      if (rsq < cut_localsq) {
        neighbor_index.push_back(j);
        neighbor_numbers.push_back(type_number[type[j]]);
        vectors.insert(vectors.end(), d, d + 3);
        touches_owned = touches_owned || j < nlocal;
      }
    }
    if (!touches_owned) {
      // A ghost centre (newton off) with no owned neighbour gives no force here.
      neighbor_index.resize(start);
      neighbor_numbers.resize(start);
      vectors.resize(3 * start);
      continue;
    }
    centre_index.push_back(i);
    centre_numbers.push_back(type_number[type[i]]);
    offsets.push_back(neighbor_index.size());
  }

  const size_t n = centre_index.size();
  if (n == 0) return;
  const size_t entries = neighbor_index.size();
  const bool want_virial = (vflag_global && !vflag_fdotr) || vflag_atom;
  gradients.resize(3 * entries);
  centre_energies.resize(n);
  centre_virials.resize(want_virial ? 9 * n : 0);
  cpot_neighbors_t in{};
  in.n_centres = n;
  in.centre_numbers = centre_numbers.data();
  in.offsets = offsets.data();
  in.neighbor_numbers = neighbor_numbers.data();
  in.vectors = vectors.data();
  cpot_local_results_t out{};
  out.centre_energies = centre_energies.data();
  out.gradients = gradients.data();
  out.centre_virials = want_virial ? centre_virials.data() : nullptr;
  if (cpot_local_compute(model, &in, &out) != CPOT_SUCCESS)
    error->one(FLERR, "pair_style crystalpot: {}", cpot_last_error());

  const double ef = energy_factor;
  for (size_t c = 0; c < n; ++c) {
    const int i = centre_index[c];
    const bool owned = i < nlocal;
    for (size_t e = offsets[c]; e < offsets[c + 1]; ++e) {
      const int j = neighbor_index[e];
      const double *g = &gradients[3 * e];
      if (owned)
        for (int k = 0; k < 3; ++k) f[i][k] += ef * g[k];
      if (newton_pair || j < nlocal)
        for (int k = 0; k < 3; ++k) f[j][k] -= ef * g[k];
    }
    if (!owned) continue;
    if (eflag_global) eng_vdwl += ef * centre_energies[c];
    if (eflag_atom) eatom[i] += ef * centre_energies[c];
    if (want_virial) {
      const double *w = &centre_virials[9 * c];
      for (int k = 0; k < 6; ++k) {
        if (vflag_global && !vflag_fdotr) virial[k] += ef * w[VOIGT[k]];
        if (vflag_atom) vatom[i][k] += ef * w[VOIGT[k]];
      }
    }
  }
}

/// The real-space screened Coulomb erfc(g r)/r and 1/r^6 terms of the pair (i, j), as
/// buck/long/coul/long sums them (del = x_i - x_j), with an exact erfc.
void PairCrystalpot::screened_pair(int i, int j, double rsq, const double del[3])
{
  const double r2inv = 1.0 / rsq;
  double ecoul = 0.0, evdwl = 0.0, force_r2 = 0.0;
  if (ewald_order & (1 << 1)) {
    const double qq = atom->q[i] * atom->q[j];
    if (qq != 0.0) {
      const double r = std::sqrt(rsq);
      const double grij = force->kspace->g_ewald * r;
      const double expm2 = std::exp(-grij * grij);
      const double erfc = std::erfc(grij);
      const double prefactor = force->qqrd2e * qq / r;
      force_r2 += prefactor * (erfc + M_2_SQRTPI * grij * expm2);
      ecoul = prefactor * erfc;
    }
  }
  if (ewald_order & (1 << 6)) {
    const double b = dispersion_b[atom->type[i]][atom->type[j]];
    if (b != 0.0) {
      const double g2 = force->kspace->g_ewald_6 * force->kspace->g_ewald_6;
      const double g6 = g2 * g2 * g2, g8 = g6 * g2;
      const double a2 = 1.0 / (g2 * rsq);
      const double x2 = a2 * std::exp(-g2 * rsq) * b;
      force_r2 -= g8 * (((6.0 * a2 + 6.0) * a2 + 3.0) * a2 + 1.0) * x2 * rsq;
      evdwl = -g6 * ((a2 + 1.0) * a2 + 0.5) * x2;
    }
  }
  const double fpair = force_r2 * r2inv;
  double **f = atom->f;
  const int nlocal = atom->nlocal;
  for (int k = 0; k < 3; ++k) f[i][k] += del[k] * fpair;
  if (force->newton_pair || j < nlocal)
    for (int k = 0; k < 3; ++k) f[j][k] -= del[k] * fpair;
  if (evflag)
    ev_tally(i, j, nlocal, force->newton_pair, evdwl, ecoul, fpair, del[0], del[1], del[2]);
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

void PairCrystalpot::compute_gathered()
{
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
