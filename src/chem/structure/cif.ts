import { ChemError, type Site, type Structure } from '../types.js';
import { cifNumber, isMissing, readCifBlocks, tagValues, type CifBlock, type CifValue } from './cif-syntax.js';
import { refuseNulText } from '../input-guard.js';
import { cellFromParameters } from './cell.js';
import type { Mat3, Vec3 } from './lattice.js';
import { OCCUPANCY_TOLERANCE, checkTextLength, finishStructure, occupancyProblem, resolveLimits, tooManySites, type StructureLimits } from './limits.js';
import { elementOfCifSymbol } from './species.js';
import { MAX_SYMMETRY_OPERATIONS, PeriodicPointIndex, applyOp, parseSymOp, uniqueOps, wrapFrac, type SymOp } from './symmetry.js';

/**
 * Symmetry images of one atom closer than this (Å) are the same atom, and atoms of different rows closer than this
 * share one (disordered) site. Far below any bond length (H–H 0.74 Å) and above the rounding of 4-decimal coordinates.
 */
export const CIF_SITE_TOLERANCE = 0.05;

const SYMOP_TAGS = ['_symmetry_equiv_pos_as_xyz', '_space_group_symop_operation_xyz'];
const SPACE_GROUP_TAGS = [
  '_symmetry_space_group_name_h-m', '_space_group_name_h-m_alt', '_symmetry_space_group_name_hall', '_space_group_name_hall',
  '_symmetry_int_tables_number', '_space_group_it_number',
];
const CELL_TAGS = ['_cell_length_a', '_cell_length_b', '_cell_length_c', '_cell_angle_alpha', '_cell_angle_beta', '_cell_angle_gamma'];

function cifError(code: string, message: string, line?: number): ChemError {
  return new ChemError(code, line ? `CIF line ${line}: ${message}` : `CIF: ${message}`, line);
}

function numberOf(v: CifValue, what: string): number {
  const x = cifNumber(v);
  if (x === undefined) throw cifError('cif_bad_number', `${what} "${v.text.slice(0, 30)}" is not a number`, v.line);
  return x;
}

function readCell(block: CifBlock): Mat3 {
  const values = CELL_TAGS.map((tag) => {
    const v = block.items.get(tag) ?? tagValues(block, tag)[0];
    if (isMissing(v)) throw cifError('cif_missing_cell', `${tag} is missing; the cell needs a, b, c, alpha, beta and gamma`);
    return v!;
  });
  const params = values.map((v, k) => numberOf(v, CELL_TAGS[k]));
  return cellFromParameters(params, CELL_TAGS, { where: 'CIF' }, values.map((v) => v.line));
}

/** Is this space-group designation P1 (no operations besides the identity needed)? */
function isP1(text: string): boolean {
  const t = text.replace(/[\s_]/g, '').toLowerCase();
  return t === 'p1' || t === '1';
}

function readSymmetry(block: CifBlock, warnings: string[]): SymOp[] {
  for (const tag of SYMOP_TAGS) {
    const values = tagValues(block, tag).filter((v) => !isMissing(v));
    if (values.length === 0) continue;
    if (values.length > MAX_SYMMETRY_OPERATIONS * 4) {
      throw cifError('cif_too_many_symmetry_operations', `${values.length} symmetry operations listed; at most ${MAX_SYMMETRY_OPERATIONS} distinct ones are accepted`);
    }
    const ops = uniqueOps(values.map((v) => parseSymOp(v.text, v.line)));
    if (ops.length > MAX_SYMMETRY_OPERATIONS) {
      throw cifError('cif_too_many_symmetry_operations', `${ops.length} distinct symmetry operations; at most ${MAX_SYMMETRY_OPERATIONS} are accepted`);
    }
    return ops;
  }
  const declared = SPACE_GROUP_TAGS.map((tag) => block.items.get(tag)).find((v) => !isMissing(v));
  if (declared && !isP1(declared.text)) {
    // expanding from the space-group symbol would need the tables of all settings; guessing would give a wrong structure
    throw cifError(
      'cif_missing_symmetry_operations',
      `space group "${declared.text}" is declared but its symmetry operations (_symmetry_equiv_pos_as_xyz or _space_group_symop_operation_xyz) are not listed; ` +
        'write the CIF with its operations or as P1',
      declared.line,
    );
  }
  if (!declared) warnings.push('the CIF lists no symmetry operations or space group; its atoms were taken as the full cell (P1)');
  return [{ rot: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], trans: [0, 0, 0] }];
}

/** Coordinates written as 0.3333 / 0.6667 are snapped to 1/3, 2/3 (as pymatgen does), so symmetry images coincide. */
function snapThirds(x: number): number {
  for (const f of [1 / 3, 2 / 3]) if (Math.abs(1 - x / f) < 1e-4) return f;
  return x;
}

interface AtomRow {
  label: string;
  element: string;
  occu: number;
  frac: Vec3;
  line: number;
}

function readAtomRows(block: CifBlock, warnings: string[], limits: StructureLimits): AtomRow[] {
  const xs = tagValues(block, '_atom_site_fract_x');
  const ys = tagValues(block, '_atom_site_fract_y');
  const zs = tagValues(block, '_atom_site_fract_z');
  if (xs.length === 0 || ys.length !== xs.length || zs.length !== xs.length) {
    const cart = tagValues(block, '_atom_site_cartn_x').length > 0;
    throw cifError(
      'cif_missing_atom_sites',
      cart
        ? 'atoms are given only in Cartesian coordinates (_atom_site_Cartn_*); fractional coordinates (_atom_site_fract_x/y/z) are needed'
        : 'no atom sites (_atom_site_fract_x, _atom_site_fract_y, _atom_site_fract_z) found',
      block.loopOf.get('_atom_site_fract_x')?.loop.line,
    );
  }
  // a row can merge into another's site, so allow some slack over maxSites before expansion says the final word
  if (xs.length > 4 * limits.maxSites) throw tooManySites(xs.length, limits, 'the CIF\'s atom-site list', xs[0].line);
  const labels = tagValues(block, '_atom_site_label');
  const types = tagValues(block, '_atom_site_type_symbol');
  const occus = tagValues(block, '_atom_site_occupancy');
  const rows: AtomRow[] = [];
  for (let i = 0; i < xs.length; i++) {
    const label = labels[i] && !isMissing(labels[i]) ? labels[i].text : `atom ${i + 1}`;
    const symbolSource = types[i] && !isMissing(types[i]) ? types[i] : labels[i] && !isMissing(labels[i]) ? labels[i] : undefined;
    if (!symbolSource) throw cifError('structure_unknown_element', `atom site ${i + 1} has neither _atom_site_type_symbol nor _atom_site_label`, xs[i].line);
    const parsed = elementOfCifSymbol(symbolSource.text);
    if (!parsed) {
      throw new ChemError('structure_unknown_element', `CIF line ${symbolSource.line}: atom site "${label}": "${symbolSource.text.slice(0, 20)}" does not name a chemical element`, symbolSource.line);
    }
    if (parsed.isotope) warnings.push(`atom site "${label}" (${symbolSource.text}) was read as hydrogen`);
    const coord = [xs[i], ys[i], zs[i]].map((v, k) => {
      if (isMissing(v)) throw cifError('cif_bad_number', `atom site "${label}" has no fractional ${'xyz'[k]} coordinate`, v.line);
      return snapThirds(numberOf(v, `fractional ${'xyz'[k]} of atom site "${label}"`));
    }) as Vec3;
    let occu = 1;
    if (occus[i] && !isMissing(occus[i])) occu = numberOf(occus[i], `occupancy of atom site "${label}"`);
    const why = occupancyProblem(occu);
    if (why) {
      throw new ChemError(
        'structure_bad_occupancy',
        `CIF line ${occus[i].line}: atom site ${i + 1} "${label}" has occupancy ${occus[i].text}; ${why}`,
        occus[i].line,
      );
    }
    rows.push({ label, element: parsed.element, occu: Math.min(occu, 1), frac: coord, line: xs[i].line });
  }
  return rows;
}

interface Building {
  frac: Vec3;
  species: Map<string, number>;
  label: string;
  rows: Set<number>;
}

/**
 * Applies every operation to every atom row: images of one row closer than CIF_SITE_TOLERANCE are one atom; images of
 * different rows that coincide become one site with the species of both (e.g. Li/Co mixing). Stops as soon as the
 * number of distinct sites exceeds the limit, so a large expansion is never carried out in full.
 */
function expand(rows: AtomRow[], ops: SymOp[], lattice: Mat3, limits: StructureLimits): Site[] {
  const index = new PeriodicPointIndex<number>(lattice, CIF_SITE_TOLERANCE);
  const sites: Building[] = [];
  rows.forEach((row, r) => {
    for (const op of ops) {
      const p = wrapFrac(applyOp(op, row.frac));
      const hit = index.near(p)[0];
      if (hit) {
        const site = sites[hit.item];
        if (site.rows.has(r)) continue; // another image of the same atom
        const total = [...site.species.values()].reduce((a, b) => a + b, 0) + row.occu;
        if (total > 1 + OCCUPANCY_TOLERANCE) {
          throw new ChemError(
            'cif_overlapping_atoms',
            `CIF line ${row.line}: atom "${row.label}" lies ${hit.distance.toFixed(3)} Å from atom "${site.label}" (or a symmetry copy of it), ` +
              `and their occupancies add up to ${total.toFixed(3)}; atoms sharing a site must have occupancies summing to at most 1`,
            row.line,
          );
        }
        site.rows.add(r);
        site.species.set(row.element, (site.species.get(row.element) ?? 0) + row.occu);
        continue;
      }
      sites.push({ frac: p, species: new Map([[row.element, row.occu]]), label: row.label, rows: new Set([r]) });
      if (sites.length > limits.maxSites) {
        throw tooManySites(`more than ${limits.maxSites}`, limits, `expanded with its ${ops.length} symmetry operations, the CIF`, row.line);
      }
      index.add(p, sites.length - 1);
    }
  });
  return sites.map((s) => ({ species: [...s.species].map(([element, occu]) => ({ element, occu })), frac: s.frac, label: s.label }));
}

function pickBlock(text: string, warnings: string[]): CifBlock {
  const blocks = readCifBlocks(text);
  if (blocks.length === 0) throw cifError('cif_no_data_block', 'no data found (a CIF starts with a data_ line followed by _cell_ and _atom_site_ entries)');
  const withAtoms = blocks.filter((b) => tagValues(b, '_atom_site_fract_x').length > 0 || tagValues(b, '_atom_site_cartn_x').length > 0);
  const block = withAtoms[0] ?? blocks[0];
  if (blocks.length > 1) {
    warnings.push(
      `the CIF has ${blocks.length} data blocks (${withAtoms.length} with atoms); only the first${withAtoms.length ? ' with atoms' : ''}, data_${block.name}, was used`,
    );
  }
  return block;
}

/**
 * Reads a CIF (1.1; DDLm tag spellings also accepted): cell lengths and angles (uncertainties like 5.431(2) ignored),
 * atom sites with fractional coordinates, occupancies and type symbols (Fe2+) or labels (O2), expanded with the listed
 * symmetry operations and de-duplicated under periodic boundary conditions. With several data blocks the first one
 * holding atoms is used and a warning says so.
 */
export function parseCif(text: string, limits?: Partial<StructureLimits>): Structure {
  const lim = resolveLimits(limits);
  if (typeof text !== 'string') throw new ChemError('structure_invalid', 'the CIF must be text');
  checkTextLength(text, 'CIF');
  refuseNulText(text, 'the CIF', 'line');
  if (text.trim() === '') throw cifError('cif_no_data_block', 'the CIF is empty');
  const warnings: string[] = [];
  const block = pickBlock(text, warnings);
  const lattice = readCell(block);
  const ops = readSymmetry(block, warnings);
  const rows = readAtomRows(block, warnings, lim);
  const sites = expand(rows, ops, lattice, lim);
  return finishStructure(lattice, sites, warnings, lim, 'the CIF');
}
