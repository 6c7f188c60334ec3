import { ChemError, type Site, type Structure } from '../types.js';
import { refuseBadValue } from '../input-guard.js';
import { cellFromParameters, checkCell } from './cell.js';
import { inv3, vecMat, type Mat3, type Vec3 } from './lattice.js';
import { checkTextLength, finishStructure, occupancyProblem, resolveLimits, tooManySites, type StructureLimits } from './limits.js';
import { elementOfSpecies } from './species.js';

const WHERE = 'the pymatgen structure';

function invalid(message: string): ChemError {
  return new ChemError('structure_invalid', `${WHERE}: ${message}`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A JSON number (non-finite values are reported as such, not as a shape error). */
function num(x: unknown, path: string): number {
  if (typeof x !== 'number') throw invalid(`${path} must be a number`);
  if (!Number.isFinite(x)) throw new ChemError('structure_non_finite', `${WHERE}: ${path} is not a finite number`);
  return x;
}

function vec3(x: unknown, path: string): Vec3 {
  if (!Array.isArray(x) || x.length !== 3) throw invalid(`${path} must be a list of 3 numbers`);
  return [num(x[0], `${path}[0]`), num(x[1], `${path}[1]`), num(x[2], `${path}[2]`)];
}

function readLattice(x: unknown): Mat3 {
  if (!isRecord(x)) throw invalid('"lattice" is missing (expected {"matrix": [[ax, ay, az], [bx, by, bz], [cx, cy, cz]]})');
  if (x.matrix !== undefined) {
    if (!Array.isArray(x.matrix) || x.matrix.length !== 3) throw invalid('lattice.matrix must be 3 rows of 3 numbers (Å)');
    const m: Mat3 = [vec3(x.matrix[0], 'lattice.matrix[0]'), vec3(x.matrix[1], 'lattice.matrix[1]'), vec3(x.matrix[2], 'lattice.matrix[2]')];
    checkCell(m, { where: `${WHERE}: lattice.matrix` });
    return m;
  }
  // pymatgen's Lattice.from_dict also accepts the six parameters
  const keys = ['a', 'b', 'c', 'alpha', 'beta', 'gamma'] as const;
  if (keys.every((k) => x[k] !== undefined)) {
    return cellFromParameters(keys.map((k) => num(x[k], `lattice.${k}`)), keys.map((k) => `lattice.${k}`), { where: WHERE });
  }
  throw invalid('lattice needs "matrix" (or a, b, c, alpha, beta, gamma)');
}

function readSpecies(x: unknown, path: string): Site['species'] {
  if (!Array.isArray(x) || x.length === 0) throw invalid(`${path} must be a non-empty list like [{"element": "Fe", "occu": 1}]`);
  const out = new Map<string, number>();
  x.forEach((sp: unknown, j) => {
    const p = `${path}[${j}]`;
    if (!isRecord(sp)) throw invalid(`${p} must be an object like {"element": "Fe", "occu": 1}`);
    if (typeof sp.element !== 'string') throw invalid(`${p}.element must be an element symbol`);
    const element = elementOfSpecies(sp.element);
    if (!element) throw new ChemError('structure_unknown_element', `${WHERE}: ${p}.element "${sp.element.slice(0, 20)}" is not a chemical element`);
    const occu = sp.occu === undefined ? 1 : num(sp.occu, `${p}.occu`);
    // pymatgen writes occupancies exactly, so only float noise above 1 is forgiven (not CIF's rounding to 3 decimals)
    const why = occupancyProblem(occu, 1e-8);
    if (why) throw new ChemError('structure_bad_occupancy', `${WHERE}: ${p}.occu (${element}) is ${occu}; ${why}`);
    out.set(element, (out.get(element) ?? 0) + occu);
  });
  return [...out].map(([element, occu]) => ({ element, occu }));
}

/**
 * Reads pymatgen's `Structure.as_dict()` (or the same object as a JSON string): lattice.matrix (or the six lattice
 * parameters), sites with species [{element, occu, oxidation_state?}], fractional `abc` (or only Cartesian `xyz`),
 * optional `label` and `properties`. Partial occupancies are kept and flagged.
 */
export function parsePymatgenStructure(obj: unknown, limits?: Partial<StructureLimits>): Structure {
  const lim = resolveLimits(limits);
  let root = obj;
  if (typeof root === 'string') {
    checkTextLength(root, 'pymatgen JSON');
    try {
      root = JSON.parse(root);
    } catch {
      throw invalid('the text is not valid JSON');
    }
  }
  if (!isRecord(root)) throw invalid('expected an object like Structure.as_dict() with "lattice" and "sites"');
  refuseBadValue(root, WHERE); // after JSON.parse, "\u0000" escapes are NUL characters too
  if (root['@class'] === 'Molecule' || root['@class'] === 'IMolecule') throw invalid('a Molecule has no lattice; send a periodic Structure');
  const lattice = readLattice(root.lattice);
  const sitesIn = root.sites;
  if (!Array.isArray(sitesIn)) throw invalid('"sites" must be a list');
  if (sitesIn.length > lim.maxSites) throw tooManySites(sitesIn.length, lim, WHERE);
  let inverse: Mat3 | undefined;
  const sites: Site[] = [];
  for (let i = 0; i < sitesIn.length; i++) {
    const s: unknown = sitesIn[i];
    const path = `sites[${i}]`;
    if (!isRecord(s)) throw invalid(`${path} must be an object`);
    const named = typeof s.label === 'string' && s.label !== '' ? `${path} ("${s.label.slice(0, 20)}")` : path;
    const species = readSpecies(s.species, `${named}.species`);
    let frac: Vec3;
    if (s.abc !== undefined) frac = vec3(s.abc, `${path}.abc`);
    else if (s.xyz !== undefined) {
      const xyz = vec3(s.xyz, `${path}.xyz`);
      inverse ??= inv3(lattice); // readLattice checked the cell, so it has a volume
      frac = vecMat(xyz, inverse);
    } else throw invalid(`${path} needs fractional "abc" or Cartesian "xyz" coordinates`);
    const site: Site = { species, frac };
    if (typeof s.label === 'string') site.label = s.label;
    if (isRecord(s.properties) && Object.keys(s.properties).length > 0) site.properties = { ...s.properties };
    sites.push(site);
  }
  return finishStructure(lattice, sites, [], lim, WHERE);
}
