/** Three polymorph pairs as POSCAR text: one formula, two crystal structures each (experimental lattice constants). */

/** POSCAR text of a crystal from its lattice rows and fractional sites. */
function poscar(name: string, lattice: number[][], sites: [string, number, number, number][]): string {
  const species = [...new Set(sites.map((s) => s[0]))];
  const ordered = species.flatMap((el) => sites.filter((s) => s[0] === el));
  return [name, '1.0', ...lattice.map((r) => r.join(' ')), species.join(' '), species.map((el) => sites.filter((s) => s[0] === el).length).join(' '), 'Direct', ...ordered.map((s) => `${s[1]} ${s[2]} ${s[3]}`)].join('\n');
}

const hex = (a: number, c: number) => [[a, 0, 0], [-a / 2, (a * Math.sqrt(3)) / 2, 0], [0, 0, c]];
const fcc = (a: number) => [[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]];
const u = 0.305;
const z = 0.2083;
/** Three polymorph pairs: one formula, two structures each (experimental lattice constants). */
export const POLYMORPHS: Record<string, [string, string]> = {
  C: [
    poscar('diamond', fcc(3.567), [['C', 0, 0, 0], ['C', 0.25, 0.25, 0.25]]),
    poscar('graphite', hex(2.464, 6.711), [['C', 0, 0, 0.25], ['C', 0, 0, 0.75], ['C', 1 / 3, 2 / 3, 0.25], ['C', 2 / 3, 1 / 3, 0.75]]),
  ],
  ZnS: [
    poscar('zincblende', fcc(5.41), [['Zn', 0, 0, 0], ['S', 0.25, 0.25, 0.25]]),
    poscar('wurtzite', hex(3.82, 6.26), [['Zn', 1 / 3, 2 / 3, 0], ['Zn', 2 / 3, 1 / 3, 0.5], ['S', 1 / 3, 2 / 3, 0.375], ['S', 2 / 3, 1 / 3, 0.875]]),
  ],
  TiO2: [
    poscar('rutile', [[4.594, 0, 0], [0, 4.594, 0], [0, 0, 2.959]], [['Ti', 0, 0, 0], ['Ti', 0.5, 0.5, 0.5], ['O', u, u, 0], ['O', 1 - u, 1 - u, 0], ['O', 0.5 + u, 0.5 - u, 0.5], ['O', 0.5 - u, 0.5 + u, 0.5]]),
    poscar('anatase', [[3.785, 0, 0], [0, 3.785, 0], [0, 0, 9.514]], [
      ['Ti', 0, 0, 0], ['Ti', 0, 0.5, 0.25], ['Ti', 0.5, 0, 0.75], ['Ti', 0.5, 0.5, 0.5],
      ['O', 0, 0, z], ['O', 0, 0, 1 - z], ['O', 0, 0.5, 0.25 + z], ['O', 0, 0.5, 0.25 - z], ['O', 0.5, 0, 0.75 + z], ['O', 0.5, 0, 0.75 - z], ['O', 0.5, 0.5, 0.5 + z], ['O', 0.5, 0.5, 0.5 - z],
    ]),
  ],
};

