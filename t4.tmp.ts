import { readFileSync } from 'node:fs';
import { parseCif, parsePoscar, parsePymatgenStructure } from './src/chem/structure/index.js';
const dir = 'test/data/chem/structures/';
const exp = JSON.parse(readFileSync(dir + 'expected.json', 'utf8'));
for (const [fname, e] of Object.entries<any>(exp.files)) {
  const text = readFileSync(dir + fname, 'utf8');
  const t0 = performance.now();
  try {
    const s = fname.endsWith('cif') ? parseCif(text) : parsePoscar(text, undefined, { species: e.species_order });
    const ref = e.pymatgen_reads;
    // match sites
    let unmatched = 0;
    const used = new Set<number>();
    for (const rs of ref.sites) {
      let found = -1;
      s.sites.forEach((ss, j) => {
        if (found >= 0 || used.has(j)) return;
        const sp = ss.species.map((x) => x.element + x.occu.toFixed(4)).sort().join();
        const rsp = rs.species.map((x: [string, number]) => x[0] + x[1].toFixed(4)).sort().join();
        if (sp !== rsp) return;
        const d = ss.frac.map((v, k) => { const dd = v - rs.abc[k]; return Math.abs(dd - Math.round(dd)); });
        if (Math.max(...d) < 1e-3) found = j;
      });
      if (found < 0) unmatched++; else used.add(found);
    }
    console.log(fname, s.sites.length, ref.sites.length, 'unmatched', unmatched, (performance.now() - t0).toFixed(1) + 'ms', s.warnings.join('|'));
  } catch (err) { console.log(fname, 'ERR', (err as Error).message); }
}
