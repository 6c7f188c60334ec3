/**
 * Textbook semiconductors and insulators the experimental band-gap model is checked on (bench:gap-textbook). The
 * `reference` gaps are room-temperature values as textbooks tabulate them (Kittel, Introduction to Solid State
 * Physics, 8th ed., table 8.1; Sze & Ng, Physics of Semiconductor Devices, 3rd ed., appendix G; Al2O3, MgO, NaCl and
 * TiO2 (rutile) from the optical literature). They are a yardstick, not training data: where the merged experimental
 * set has the compound, its own median is what the model is compared with.
 */
export interface TextbookCompound {
  formula: string;
  name: string;
  /** eV. */
  reference: number;
}

export const TEXTBOOK_GAPS: readonly TextbookCompound[] = [
  { formula: 'GaAs', name: 'gallium arsenide', reference: 1.42 },
  { formula: 'GaN', name: 'gallium nitride (wurtzite)', reference: 3.4 },
  { formula: 'Al2O3', name: 'sapphire', reference: 8.8 },
  { formula: 'NaCl', name: 'rock salt', reference: 8.5 },
  { formula: 'Si', name: 'silicon', reference: 1.12 },
  { formula: 'ZnO', name: 'zinc oxide', reference: 3.37 },
  { formula: 'MgO', name: 'magnesium oxide', reference: 7.8 },
  { formula: 'C', name: 'diamond', reference: 5.47 },
  { formula: 'SiC', name: 'silicon carbide (3C; 4H 3.26)', reference: 2.36 },
  { formula: 'TiO2', name: 'titanium dioxide (rutile)', reference: 3.0 },
  { formula: 'CdTe', name: 'cadmium telluride', reference: 1.5 },
  { formula: 'InP', name: 'indium phosphide', reference: 1.34 },
];
