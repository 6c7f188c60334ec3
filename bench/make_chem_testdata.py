#!/usr/bin/python3
"""Derive the chemistry parser test data under test/data/chem/ with pymatgen (checking tool, not a runtime need).

Run from the repo root:  /usr/bin/python3 bench/make_chem_testdata.py
(Debian's python3-pymatgen 2022.11.7; the output records the version used.)

Writes
- test/data/chem/formula_reference.json: formula -> pymatgen element amounts and reduced_formula, for a sample of the
  distinct formulas of ../shared/data/tasks/*.jsonl.gz and ../shared/data/sources/*.csv.gz, re-written variants of
  them (shuffled element order, multiplied amounts) and hand-picked tricky formulas;
- test/data/chem/structures/: real task structures as pymatgen JSON, CIF (CifWriter without symmetry, with symmetry
  in the original cell, with symmetry refined to the conventional cell) and POSCAR (VASP 5 direct, Cartesian,
  VASP 4, selective dynamics), plus expected.json = what pymatgen itself reads back from each file.
"""
import collections
import csv
import glob
import gzip
import json
import math
import os
import random
import re
import sys
import warnings

import pymatgen
from pymatgen.core import Composition, Structure
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

warnings.filterwarnings("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "test", "data", "chem")
STRUCT_OUT = os.path.join(OUT, "structures")
PMG_VERSION = getattr(pymatgen, "__version__", None) or "2022.11.7"
rng = random.Random(20240607)


# --------------------------------------------------------------------------------------------- formulas

def all_formulas():
    tasks, sources = collections.Counter(), collections.Counter()
    for f in sorted(glob.glob(os.path.join(SHARED, "tasks", "*.jsonl.gz"))):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                tasks[json.loads(line)["formula"]] += 1
    for f in sorted(glob.glob(os.path.join(SHARED, "sources", "*.csv.gz"))):
        with gzip.open(f, "rt") as fh:
            for row in csv.DictReader(fh):
                sources[row["formula"]] += 1
    return tasks, sources


NO_X = {"He", "Ne", "Ar"} | {e for e in "Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split()}
# elements where pymatgen's Pauling X differs from Magpie's Electronegativity column (or one of them has none)
X_DIFFERS = {"Pm", "Eu", "Tb", "Yb", "Rn", "Lr"}


def interesting(formula):
    els = set(re.findall(r"[A-Z][a-z]?", formula))
    return (
        "(" in formula
        or "." in formula
        or els & NO_X
        or els & X_DIFFERS
        or len(els) >= 5
        or len(els) == 1
    )


def fmt_amount(x):
    if abs(x - round(x)) < 1e-9:
        x = int(round(x))
        return "" if x == 1 else str(x)
    return repr(x)


def variants(formula):
    """Same composition written differently: shuffled element order, multiplied amounts, spaces."""
    comp = Composition(formula).get_el_amt_dict()
    items = list(comp.items())
    rng.shuffle(items)
    mult = rng.choice([1, 2, 3, 4, 6])
    out = ["".join(f"{el}{fmt_amount(a * mult)}" for el, a in items)]
    if rng.random() < 0.2:
        out.append(" ".join(f"{el}{fmt_amount(a)}" for el, a in items))
    return out


TRICKY = [
    # (as written for our parser, what pymatgen is given or None when it is the same string, or a list of
    # (coefficient, part) pieces summed with pymatgen for adducts)
    ("Fe2O3", None), ("Ca3(PO4)2", None), ("[Co(NH3)6]Cl3", "(Co(NH3)6)Cl3"), ("K4[Fe(CN)6]", "K4(Fe(CN)6)"),
    ("Ca(OH)2", None), ("Mg(PtO2)3", None), ("Ag(W3Br7)2", None), ("Al2(SO4)3", None), ("(NH4)2SO4", None),
    ("Li0.5CoO2", None), ("Fe0.95O", None), ("Cu1.8S1", None), ("Sr0.5Ta1O3", None), ("Li3.5Fe0.25(PO4)0.75", None),
    ("Fe2 O3", None), (" Fe2O3 ", None), ("Fe 2 O 3", None), ("Y3N@C80", None), ("LiO", None), ("NaO", None),
    ("HO", None), ("H", None), ("O", None), ("N", None), ("O2", None), ("H2O2", None), ("Cl", None), ("F2", None),
    ("KO", None), ("CsO", None), ("RbO", None), ("Li2O2", None), ("HeNe", None), ("NeHe", None), ("ArNeHe", None),
    ("HeFe2", None), ("Fe2He", None), ("OgFe", None), ("FeOg", None), ("XeF2", None), ("KrF2", None),
    ("RnF2", None), ("EuGd", None), ("GdEu", None), ("TbLa", None), ("LaTb", None), ("YbAc", None), ("PmNd", None),
    ("LrNo", None), ("Na2(SO4)", None), ("C6H12O6", None), ("CH3COOH", None), ("(CH3)4N", None), ("Fe3(Fe2O4)2", None),
    ("((CH3)3Si)2O", None), ("Ba(Fe0.5Nb0.5)O3", None), ("La0.7Sr0.3MnO3", None), ("Li7La3Zr2O12", None),
    ("Fe1e-1O", None), ("Ni.5O", None), ("Fe2.O3", None), ("Si", None), ("C", None), ("Pt3O4", None),
    ("Zn4(B2O)3", None), ("Ba4Na(BN2)3", None), ("Mg3(PO4)2", None), ("CoTe(PbO3)2", None), ("H2O", None),
    ("NH4NO3", None), ("SrTiO3", None), ("BaTiO3", None), ("CsPbI3", None), ("MAPbI3", "skip"),
    ("Cs(Pb(I)3)", None), ("Al2O3(SiO2)2", None), ("Mn(NbS2)2", None), ("O3Fe2", None), ("O6Fe4", None),
    ("CuSO4·5H2O", [(1, "CuSO4"), (5, "H2O")]), ("CuSO4•5H2O", [(1, "CuSO4"), (5, "H2O")]),
    ("CuSO4*5H2O", [(1, "CuSO4"), (5, "H2O")]), ("CaSO4·0.5H2O", [(1, "CaSO4"), (0.5, "H2O")]),
    ("Na2CO3·10H2O", [(1, "Na2CO3"), (10, "H2O")]), ("MgSO4 · 7 H2O", [(1, "MgSO4"), (7, "H2O")]),
    ("AlCl3·6H2O·2NH3", [(1, "AlCl3"), (6, "H2O"), (2, "NH3")]), ("[Cu(H2O)4]SO4·H2O", [(1, "(Cu(H2O)4)SO4"), (1, "H2O")]),
    ("2H2O", [(2, "H2O")]),
]


def el_amt(comp):
    # integral amounts as JSON integers (smaller file); the others as Python's repr of the float
    return [[el, int(a) if float(a).is_integer() else float(a)] for el, a in comp.get_el_amt_dict().items()]


def make_formula_reference():
    tasks, sources = all_formulas()
    rows = []
    seen = set()

    def add(written, given, origin):
        if written in seen:
            return
        seen.add(written)
        try:
            if isinstance(given, list):
                comp = Composition()
                for coeff, part in given:
                    comp = comp + Composition(part) * coeff
                how = "sum of parts: " + " + ".join(f"{c}*{p}" for c, p in given)
            else:
                comp = Composition(written if given is None else given)
                how = None if given is None else f"pymatgen given {given!r}"
        except Exception:
            return
        row = [written, comp.reduced_formula, el_amt(comp), origin]
        if how:
            row.append(how)
        rows.append(row)

    for written, given in TRICKY:
        if given != "skip":
            add(written, given, "tricky")

    task_list = sorted(tasks)
    src_list = sorted(set(sources) - set(tasks))
    # every task formula that is interesting, a sample of the rest; same for the pre-training sources
    for name, pool, n_plain in (("tasks", task_list, 1800), ("sources", src_list, 1800)):
        inter = [f for f in pool if interesting(f)]
        plain = [f for f in pool if not interesting(f)]
        rng.shuffle(inter)
        inter = inter[:2200]
        chosen = inter + rng.sample(plain, min(n_plain, len(plain)))
        for f in sorted(chosen):
            add(f, None, name)
        for f in sorted(rng.sample(chosen, min(900, len(chosen)))):
            for v in variants(f):
                add(v, None, name + "-variant")

    # synthetic formulas for what the data sets lack: elements pymatgen has no electronegativity for (whose order in
    # the output depends on the order written), fractional amounts (float formatting), nested decimal groups
    from pymatgen.core.periodic_table import Element
    symbols = [el.symbol for el in Element]
    no_x = sorted(NO_X)
    decimals = ["0.5", "0.25", "0.1", "0.2", "0.3", "0.33", "0.333", "0.6667", "1.5", "2.75", "0.05", "0.00001",
                "0.000123", "1e-3", "12.5", "0.123456789", "0.999999999", "1.000000001", "2.3333333333"]
    for i in range(1200):
        k = rng.randint(1, 5)
        els = rng.sample(symbols, k)
        if i < 500:
            els = rng.sample(no_x, rng.randint(1, 2)) + rng.sample(symbols, rng.randint(1, 4))
            rng.shuffle(els)
            els = list(dict.fromkeys(els))
        if i % 3 == 0:
            amounts = [rng.choice(["", "", "2", "3", "4", "6", "12"]) for _ in els]
        else:
            amounts = [rng.choice(["", "2", "3"] + decimals) for _ in els]
        parts = [f"{e}{a}" for e, a in zip(els, amounts)]
        if len(parts) >= 3 and rng.random() < 0.4:
            j = rng.randint(0, len(parts) - 2)
            parts[j:j + 2] = ["(" + "".join(parts[j:j + 2]) + ")" + rng.choice(["2", "3", "0.5", "1.5", "4"])]
        add("".join(parts), None, "synthetic")

    doc = {
        "generator": "bench/make_chem_testdata.py",
        "pymatgen": PMG_VERSION,
        "columns": ["formula as written", "pymatgen reduced_formula", "[element, amount] in pymatgen's order",
                    "origin", "how pymatgen was asked, when not with the formula as written"],
        "note": "amounts = Composition(formula).get_el_amt_dict(); reduced = Composition.reduced_formula. "
        "Adducts and [brackets] that pymatgen cannot read are given to it rewritten or summed part by part.",
        "rows": rows,
    }
    path = os.path.join(OUT, "formula_reference.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"), ensure_ascii=False)
        fh.write("\n")
    print(f"{path}: {len(rows)} rows, {os.path.getsize(path)} bytes")


# ------------------------------------------------------------------------------------------- structures

def load_task_rows(fname):
    with gzip.open(os.path.join(SHARED, "tasks", fname), "rt") as fh:
        for line in fh:
            yield json.loads(line)


def pick_structures():
    picks = []  # (name, source, Structure)
    # one structure per crystal system (the largest below 40 sites among the first rows of the MP elastic task)
    best = {}
    for fname in ("mp_elastic_anisotropy.jsonl.gz", "mp_phonons.jsonl.gz"):
        for i, r in enumerate(load_task_rows(fname)):
            if i > 400:
                break
            s = Structure.from_dict(r["structure"])
            cs = SpacegroupAnalyzer(s, 0.01).get_crystal_system()
            if len(s) < 40 and (cs not in best or len(s) > len(best[cs][2])):
                best[cs] = (fname, r["id"], s)
    for cs in sorted(best):
        fname, rid, s = best[cs]
        picks.append((f"{cs}_{s.composition.reduced_formula}", f"{fname}#{rid}", s))
    # the primitive rock-salt cell of the first phonon row: its refined cell is face-centred (192 operations)
    r = next(load_task_rows("mp_phonons.jsonl.gz"))
    picks.append((f"fcc_{r['formula']}", f"mp_phonons.jsonl.gz#{r['id']}", Structure.from_dict(r["structure"])))
    # a 2D JARVIS slab (vacuum along c)
    r = next(load_task_rows("jarvis_2d_eform.jsonl.gz"))
    picks.append((f"2d_{r['formula']}", f"jarvis_2d_eform.jsonl.gz#{r['id']}", Structure.from_dict(r["structure"])))
    # the first structure with coordinates outside [0, 1)
    for r in load_task_rows("expt_eform.jsonl.gz"):
        if any(not (0 <= x < 1) for site in r["structure"]["sites"] for x in site["abc"]):
            picks.append((f"outside_{r['formula']}", f"expt_eform.jsonl.gz#{r['id']}", Structure.from_dict(r["structure"])))
            break
    # the largest structure of all tasks
    big = None
    for fname in sorted(os.listdir(os.path.join(SHARED, "tasks"))):
        if not fname.endswith(".jsonl.gz"):
            continue
        for r in load_task_rows(fname):
            if r["structure"] and (big is None or len(r["structure"]["sites"]) > len(big[2]["sites"])):
                big = (fname, r["id"], r["structure"], r["formula"])
    picks.append((f"large_{big[3]}", f"{big[0]}#{big[1]}", Structure.from_dict(big[2])))
    # a structure that is symmetric only to ~1e-3: with symprec 0.01 CifWriter lists operations whose images miss the
    # atoms by ~0.003 Å, and pymatgen's own CifParser (tolerance 1e-4 in fractional coordinates) then reads 19 sites
    # instead of 7; the tests check that our parser gives back the original 7
    for r in load_task_rows("mp_poly_electronic.jsonl.gz"):
        if r["id"] == "mp-28302":
            picks.append((f"approx_symmetric_{r['formula']}", f"mp_poly_electronic.jsonl.gz#{r['id']}", Structure.from_dict(r["structure"])))
    # synthetic disorder on a real structure: Li/Na mixed site and a 0.8-occupied site
    base = best["cubic"][2].copy()
    first = base[0].species_string
    base.replace(0, {"Li": 0.5, "Na": 0.5})
    others = [i for i, site in enumerate(base) if i > 0 and site.species_string != first]
    base.replace(others[0], {base[others[0]].species_string: 0.8})
    picks.append(("disordered_" + base.composition.reduced_formula.replace(".", "p"), "synthetic from " + best["cubic"][1], base))
    return picks


def summarize(s):
    """What the tests compare: lattice and (species, occupancy, fractional coordinates) per site."""
    return {
        "lattice": s.lattice.matrix.tolist(),
        "abc": list(s.lattice.abc),
        "angles": list(s.lattice.angles),
        "sites": [
            {"species": [[sp.symbol, float(occ)] for sp, occ in site.species.items()], "abc": site.frac_coords.tolist()}
            for site in s
        ],
    }


def same_sites(a, b, tol=1e-3):
    if len(a) != len(b):
        return False
    used = [False] * len(b)
    for sa in a:
        ok = False
        for j, sb in enumerate(b):
            if used[j] or sa.species != sb.species:
                continue
            d = sa.frac_coords - sb.frac_coords
            d -= [round(x) for x in d]
            if max(abs(d)) < tol:
                used[j] = ok = True
                break
        if not ok:
            return False
    return True


def make_structures():
    os.makedirs(STRUCT_OUT, exist_ok=True)
    for f in glob.glob(os.path.join(STRUCT_OUT, "*")):
        os.remove(f)
    expected = {"generator": "bench/make_chem_testdata.py", "pymatgen": PMG_VERSION, "structures": {}, "files": {}}
    for name, source, s in pick_structures():
        name = re.sub(r"[^A-Za-z0-9_]", "", name)
        entry = {"source": source, "n_sites": len(s), "reduced_formula": s.composition.reduced_formula, "files": {}}
        with open(os.path.join(STRUCT_OUT, f"{name}.json"), "w") as fh:
            json.dump(s.as_dict(), fh, separators=(",", ":"))
        entry["files"]["pymatgen"] = f"{name}.json"
        written = {
            "p1.cif": (str(CifWriter(s)), True),
            "sym.cif": (str(CifWriter(s, symprec=0.01, refine_struct=False)), True),
            "conv.cif": (str(CifWriter(s, symprec=0.01)), False),
        }
        if s.is_ordered:
            written["poscar"] = (Poscar(s).get_string(), True)
            if len(s) < 40:
                written["cart.poscar"] = (Poscar(s).get_string(direct=False), True)
                written["vasp4.poscar"] = (Poscar(s).get_string(vasp4_compatible=True), True)
                flags = [[i % 2 == 0, True, False] for i in range(len(s))]
                written["sd.poscar"] = (Poscar(s, selective_dynamics=flags).get_string(), True)
        if len(s) > 100:
            written.pop("conv.cif", None)
        for suffix, (text, same_cell) in written.items():
            fname = f"{name}.{suffix}"
            with open(os.path.join(STRUCT_OUT, fname), "w") as fh:
                fh.write(text)
            if suffix.endswith("cif"):
                back = CifParser(os.path.join(STRUCT_OUT, fname)).get_structures(primitive=False)[0]
            elif suffix == "vasp4.poscar":
                back = Poscar.from_string(text, default_names=Poscar(s).site_symbols).structure
            else:
                back = Poscar.from_string(text).structure
            pymatgen_ok = not same_cell or same_sites(back, s)
            if not pymatgen_ok and not name.startswith("approx_symmetric"):
                sys.exit(f"pymatgen does not read {fname} back as the original structure")
            expected["files"][fname] = {"structure": name, "same_cell_as_original": same_cell,
                                        "pymatgen_reads_original": pymatgen_ok,
                                        "species_order": Poscar(s).site_symbols if suffix.endswith("poscar") else None,
                                        "pymatgen_reads": summarize(back)}
            entry["files"][suffix] = fname
        expected["structures"][name] = entry
        print(name, source, len(s), sorted(entry["files"]))
    with open(os.path.join(STRUCT_OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, separators=(",", ":"))
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(STRUCT_OUT, "*")))
    print(f"{STRUCT_OUT}: {len(os.listdir(STRUCT_OUT))} files, {total} bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    what = sys.argv[1:] or ["formulas", "structures"]
    if "formulas" in what:
        make_formula_reference()
    if "structures" in what:
        make_structures()
