/**
 * No leakage: an expert pre-trained on a task's own target property is never offered for that task.
 *
 * Every expert and every task is mapped to the physical quantity it holds, as a `database:quantity` id
 * (`mp:band_gap_pbe`, `expt:band_gap`, `jarvis3d:band_gap_tbmbj`, …). Then:
 * 1. the generic rule: an expert whose quantity is the task's quantity is leaky (same quantity, same database:
 *    the expert has seen the labels of every material the two share). A user dataset takes part when its
 *    `property` names a quantity: the id itself, a source set name, an expert key, or an expert's property title.
 * 2. the table `LEAKAGE_TABLE`: pairs reviewed one by one against the data (../shared/data/README.md, SOURCES.md,
 *    and the label comparison in docs/composition-experts.md), each with its verdict and the reason. A `leaky`
 *    entry excludes a pair the generic rule cannot see (a target that is an exact function of what the expert
 *    learned, on the same materials); a `related` entry records a pair that was checked and is allowed.
 */
import { COMPOSITION_KIND } from '../composition/card.js';

export interface QuantityInfo {
  id: string;
  title: string;
}

/** Quantity held by each composition source set (../shared/data/sources). */
export const SOURCE_QUANTITIES: Readonly<Record<string, QuantityInfo>> = {
  mp_e_form: { id: 'mp:formation_energy_per_atom', title: 'Materials Project formation energy (PBE/PBE+U)' },
  mp_gap: { id: 'mp:band_gap_pbe', title: 'Materials Project PBE band gap' },
  mp_log_kvrh: { id: 'mp:bulk_modulus_vrh', title: 'Materials Project bulk modulus K_VRH (log10)' },
  mp_log_gvrh: { id: 'mp:shear_modulus_vrh', title: 'Materials Project shear modulus G_VRH (log10)' },
  castelli_perovskites_e_form: { id: 'castelli:heat_of_formation', title: 'Castelli cubic perovskite heat of formation (5-atom cell)' },
  jarvis3d_e_form: { id: 'jarvis3d:formation_energy_per_atom_optb88vdw', title: 'JARVIS-DFT 3D formation energy (OptB88vdW)' },
  jarvis3d_optb88vdw_gap: { id: 'jarvis3d:band_gap_optb88vdw', title: 'JARVIS-DFT 3D OptB88vdW band gap' },
  jarvis3d_eps: { id: 'jarvis3d:dielectric_constant_optb88vdw', title: 'JARVIS-DFT 3D OptB88vdW dielectric constant' },
  jarvis3d_bulk_kv: { id: 'jarvis3d:bulk_modulus_voigt', title: 'JARVIS-DFT 3D bulk modulus K_V' },
  jarvis3d_shear_gv: { id: 'jarvis3d:shear_modulus_voigt', title: 'JARVIS-DFT 3D shear modulus G_V' },
  jarvis3d_ehull: { id: 'jarvis3d:energy_above_hull_optb88vdw', title: 'JARVIS-DFT 3D energy above the convex hull (OptB88vdW)' },
};

/** Quantity held by each of the paper's CGCNN experts (experts/cgcnn/experts.json keys). */
export const CGCNN_EXPERT_QUANTITIES: Readonly<Record<string, string>> = {
  mp_eform: 'mp:formation_energy_per_atom',
  mp_bandgap: 'mp:band_gap_pbe',
  mp_gvrh: 'mp:shear_modulus_vrh',
  mp_kvrh: 'mp:bulk_modulus_vrh',
  weighted_n_e_cond: 'mp:boltztrap_n_electronic_conductivity',
  weighted_p_e_cond: 'mp:boltztrap_p_electronic_conductivity',
  weighted_n_th_cond: 'mp:boltztrap_n_electronic_thermal_conductivity',
  weighted_p_th_cond: 'mp:boltztrap_p_electronic_thermal_conductivity',
  p_Seebeck: 'mp:boltztrap_p_seebeck',
  n_Seebeck: 'mp:boltztrap_n_seebeck',
  n_avg_eff_mass: 'mp:boltztrap_n_effective_mass',
  p_avg_eff_mass: 'mp:boltztrap_p_effective_mass',
  castelli_eform: 'castelli:heat_of_formation',
  jarvis_eform: 'jarvis3d:formation_energy_per_atom_optb88vdw',
  jarvis_dielectric_opt: 'jarvis3d:dielectric_constant_optb88vdw',
  jarvis_bandgap: 'jarvis3d:band_gap_optb88vdw',
  jarvis_gvrh: 'jarvis3d:shear_modulus_voigt',
  jarvis_kvrh: 'jarvis3d:bulk_modulus_voigt',
};

/** Quantity of each of the paper's target tasks (../shared/data/tasks/index.json keys). */
export const TASK_QUANTITIES: Readonly<Record<string, string>> = {
  mp_phonons: 'mp:last_phonon_dos_peak',
  mp_dielectric: 'mp:refractive_index',
  expt_eform: 'expt:formation_enthalpy',
  expt_bandgap: 'expt:band_gap',
  piezoelectric_tensor: 'mp:piezoelectric_modulus_max',
  jarvis_3d_gap_tbmbj: 'jarvis3d:band_gap_tbmbj',
  jarvis_3d_gap_tbmbj_comp: 'jarvis3d:band_gap_tbmbj',
  jarvis_3d_eps_tbmbj: 'jarvis3d:dielectric_constant_tbmbj',
  jarvis_2d_exfoliation: 'jarvis2d:exfoliation_energy',
  jarvis_2d_eform: 'jarvis2d:formation_energy_per_atom_optb88vdw',
  jarvis_2d_gap_opt: 'jarvis2d:band_gap_optb88vdw',
  jarvis_2d_gap_tbmbj: 'jarvis2d:band_gap_tbmbj',
  jarvis_2d_dielectric_opt: 'jarvis2d:dielectric_constant_optb88vdw',
  jarvis_2d_dielectric_tbmbj: 'jarvis2d:dielectric_constant_tbmbj',
  mp_elastic_anisotropy: 'mp:elastic_anisotropy_universal',
  mp_poisson_ratio: 'mp:poisson_ratio_vrh',
  mp_eps_electronic: 'mp:dielectric_constant_electronic_dfpt',
  mp_eps_total: 'mp:dielectric_constant_total_dfpt',
  mp_poly_electronic: 'mp:dielectric_constant_poly_electronic',
  mp_poly_total: 'mp:dielectric_constant_poly_total',
};

export interface LeakageEntry {
  task: string;
  /** Quantity the expert holds. */
  quantity: string;
  verdict: 'leaky' | 'related';
  reason: string;
}

/**
 * Pairs reviewed against the data. Label comparisons: source rows with the task row's reduced formula, mean source
 * target vs task target (numbers in docs/composition-experts.md, "Leakage").
 */
export const LEAKAGE_TABLE: readonly LeakageEntry[] = [
  {
    task: 'mp_poisson_ratio',
    quantity: 'mp:bulk_modulus_vrh',
    verdict: 'leaky',
    reason:
      'ν = (3K − 2G) / (2(3K + G)) of the same Materials Project elastic calculations: computed from the mp_log_kvrh and mp_log_gvrh labels ' +
      'it reproduces 853 of the 894 single-polymorph task rows within 0.005 (MAE 0.0017, vs 0.029 for the paper\'s MoE), so an expert of K_VRH ' +
      'mixed with one of G_VRH reads the answers',
  },
  {
    task: 'mp_poisson_ratio',
    quantity: 'mp:shear_modulus_vrh',
    verdict: 'leaky',
    reason: 'see mp:bulk_modulus_vrh: with K_VRH it determines the Poisson ratio of the same materials',
  },
  {
    task: 'mp_elastic_anisotropy',
    quantity: 'mp:bulk_modulus_vrh',
    verdict: 'related',
    reason: 'A_U = 5 G_V/G_R + K_V/K_R − 6 needs the Voigt and Reuss bounds separately; the VRH averages do not determine it',
  },
  {
    task: 'mp_elastic_anisotropy',
    quantity: 'mp:shear_modulus_vrh',
    verdict: 'related',
    reason: 'A_U needs G_V and G_R separately; G_VRH does not determine it',
  },
  {
    task: 'expt_bandgap',
    quantity: 'mp:band_gap_pbe',
    verdict: 'related',
    reason:
      'PBE gaps of the same compounds, not the experimental gap: MAE 0.44 eV over 2453 shared formulas, and the agreeing rows are metals at 0 eV (PBE underestimates gaps)',
  },
  {
    task: 'expt_bandgap',
    quantity: 'jarvis3d:band_gap_optb88vdw',
    verdict: 'related',
    reason: 'OptB88vdW gaps, not experimental: MAE 0.45 eV over 1350 shared formulas, agreement only at 0 eV',
  },
  {
    task: 'expt_eform',
    quantity: 'mp:formation_energy_per_atom',
    verdict: 'related',
    reason:
      'DFT formation energies, not measured enthalpies (MAE 0.14 eV/atom over 1700 shared formulas); MP fits its anion/transition-metal corrections to experiment, ' +
      'which the task handles in its split: test and validation hold no MP-fitted element (../shared/data/README.md)',
  },
  {
    task: 'expt_eform',
    quantity: 'jarvis3d:formation_energy_per_atom_optb88vdw',
    verdict: 'related',
    reason: 'OptB88vdW formation energies, not measured enthalpies: MAE 0.17 eV/atom over 1403 shared formulas',
  },
  {
    task: 'jarvis_3d_gap_tbmbj',
    quantity: 'jarvis3d:band_gap_optb88vdw',
    verdict: 'related',
    reason: 'same JARVIS materials, other functional: OptB88vdW vs TBmBJ gaps differ by 0.72 eV MAE over 7290 shared formulas; the TBmBJ gaps were kept out of the sources on purpose',
  },
  {
    task: 'jarvis_3d_gap_tbmbj_comp',
    quantity: 'jarvis3d:band_gap_optb88vdw',
    verdict: 'related',
    reason: 'same JARVIS materials, other functional: OptB88vdW vs TBmBJ gaps differ by 0.72 eV MAE over 7290 shared formulas; the TBmBJ gaps were kept out of the sources on purpose',
  },
  {
    task: 'jarvis_3d_eps_tbmbj',
    quantity: 'jarvis3d:dielectric_constant_optb88vdw',
    verdict: 'related',
    reason: 'OptB88vdW dielectric constant, not TBmBJ; the TBmBJ version (meps) was kept out of the sources on purpose',
  },
  {
    task: 'jarvis_2d_eform',
    quantity: 'jarvis3d:formation_energy_per_atom_optb88vdw',
    verdict: 'related',
    reason: 'bulk parents of the monolayers, not the monolayers: the energies differ by the exfoliation energy (MAE 0.13 eV/atom over 622 shared formulas)',
  },
  {
    task: 'jarvis_2d_gap_opt',
    quantity: 'jarvis3d:band_gap_optb88vdw',
    verdict: 'related',
    reason: 'bulk parents of the monolayers: MAE 0.50 eV over 511 shared formulas (quantum confinement opens monolayer gaps)',
  },
  {
    task: 'jarvis_2d_dielectric_opt',
    quantity: 'jarvis3d:dielectric_constant_optb88vdw',
    verdict: 'related',
    reason: 'bulk parents of the monolayers: MAE 2.6 over 485 shared formulas (a slab with vacuum screens differently)',
  },
  {
    task: 'mp_dielectric',
    quantity: 'jarvis3d:dielectric_constant_optb88vdw',
    verdict: 'related',
    reason: 'other database and functional (JARVIS OptB88vdW ε vs MP refractive index n)',
  },
];

/** An expert as leakage sees it: a key or source name, or anything with a card. */
export type ExpertRef =
  | string
  | { key?: string; kind?: string; quantity?: string; source?: { name?: string } }
  | { card: { key?: string; kind?: string; quantity?: string; source?: { name?: string } } };

const norm = (s: string): string => s.trim().toLowerCase();

/** Every name by which a quantity can be given: the id, source names, expert keys (both kinds) and property titles. */
function aliasTable(): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, q] of Object.entries(SOURCE_QUANTITIES)) {
    m.set(norm(q.id), q.id);
    m.set(norm(name), q.id);
    m.set(norm(`comp_${name}`), q.id);
    m.set(norm(q.title), q.id);
  }
  for (const [key, id] of Object.entries(CGCNN_EXPERT_QUANTITIES)) {
    m.set(norm(key), id);
    m.set(norm(id), id);
  }
  for (const id of Object.values(TASK_QUANTITIES)) m.set(norm(id), id);
  for (const e of LEAKAGE_TABLE) m.set(norm(e.quantity), e.quantity);
  return m;
}

let aliases: Map<string, string> | undefined;

/** The quantity id a free-text property names, if any (exact match after trimming and lower-casing). */
export function quantityOfProperty(property: string): string | undefined {
  aliases ??= aliasTable();
  return aliases.get(norm(property));
}

/** Quantity of an expert: its card's `quantity`, else its source set or key. */
export function expertQuantity(expert: ExpertRef): string | undefined {
  if (typeof expert === 'string') return quantityOfProperty(expert);
  const c = 'card' in expert ? expert.card : expert;
  if (typeof c.quantity === 'string' && c.quantity !== '') return c.quantity;
  if (c.kind === COMPOSITION_KIND && c.source?.name) return SOURCE_QUANTITIES[c.source.name]?.id;
  return c.key ? quantityOfProperty(c.key) : undefined;
}

/** Quantity of a task: a known task key, else a user dataset's `property` that names a quantity. */
export function taskQuantity(taskKeyOrProperty: string): string | undefined {
  return TASK_QUANTITIES[taskKeyOrProperty] ?? quantityOfProperty(taskKeyOrProperty);
}

/** Why the expert must not be offered for the task, or null when it may be. */
export function leakageReason(expert: ExpertRef, taskKeyOrProperty: string): string | null {
  const eq = expertQuantity(expert);
  if (eq === undefined) return null;
  const tq = taskQuantity(taskKeyOrProperty);
  if (tq !== undefined && tq === eq) return `the expert was trained on ${eq}, the task's own target property`;
  const entry = LEAKAGE_TABLE.find((e) => e.verdict === 'leaky' && e.quantity === eq && (e.task === taskKeyOrProperty || (tq !== undefined && TASK_QUANTITIES[e.task] === tq)));
  return entry ? entry.reason : null;
}

export function isLeakyExpert(expert: ExpertRef, taskKeyOrProperty: string): boolean {
  return leakageReason(expert, taskKeyOrProperty) !== null;
}

/** The experts that may be offered for the task, in their given order. */
export function allowedExperts<T extends ExpertRef>(taskKeyOrProperty: string, experts: readonly T[]): T[] {
  return experts.filter((e) => !isLeakyExpert(e, taskKeyOrProperty));
}
