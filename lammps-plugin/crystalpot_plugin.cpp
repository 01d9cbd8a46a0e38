/* Registers pair_style crystalpot with LAMMPS's PLUGIN package (`plugin load
   crystalpotplugin.so`, or automatically from a directory in LAMMPS_PLUGIN_PATH). */

#include "lammps.h"
#include "pair_crystalpot.h"

#include "crystalpot.h"

using namespace LAMMPS_NS;

// The registration record of LAMMPS's plugin ABI (src/PLUGIN/lammpsplugin.h, documented in
// "Writing plugins" of the LAMMPS manual); the header is not installed with the PyPI package.
extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static Pair *crystalpot_creator(LAMMPS *lmp)
{
  return new PairCrystalpot(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  static const std::string info =
      std::string("crystalpot ") + cpot_version() + ": complete periodic lattice sums and PotNet";
  lammpsplugin_t plugin{};
  plugin.version = CRYSTALPOT_LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "crystalpot";
  plugin.info = info.c_str();
  plugin.author = "crystalpot developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &crystalpot_creator;
  plugin.handle = handle;
  ((lammpsplugin_regfunc) regfunc)(&plugin, lmp);
}
