import { Type } from 'typebox';

export const ExpertKeyParams = Type.Object({ key: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$', description: 'expert key, e.g. mp_eform' }) });

const SUMMARY_EXAMPLE = {
  key: 'mp_eform', kind: 'cgcnn', property: 'Materials Project formation energy', unit: 'eV/atom', sourceDataset: 'matbench_mp_e_form',
  validationMae: 0.0356, architecture: { type: 'cgcnn', atom_fea_len: 64, n_conv: 4 }, sha256: '0'.repeat(64),
  links: { self: '/v1/experts/mp_eform', predict: '/v1/experts/mp_eform/predict' },
};

export const ExpertSummary = Type.Object(
  {
    key: Type.String(),
    kind: Type.Enum(['cgcnn', 'composition']),
    property: Type.String(),
    unit: Type.String(),
    sourceDataset: Type.Union([Type.String(), Type.Null()]),
    validationMae: Type.Union([Type.Number(), Type.Null()], { description: 'MAE on the source task’s validation set, in `unit`' }),
    architecture: Type.Record(Type.String(), Type.Unknown()),
    sha256: Type.String(),
    links: Type.Object({ self: Type.String(), predict: Type.String() }),
  },
  { examples: [SUMMARY_EXAMPLE] },
);

export const ExpertDetail = Type.Object(
  { ...ExpertSummary.properties, card: Type.Record(Type.String(), Type.Unknown(), { description: 'the expert card as shipped' }) },
  { examples: [{ ...SUMMARY_EXAMPLE, card: { key: 'mp_eform', target_normalizer: { mean: -1.37, std: 1.17 } } }] },
);

export const ExpertList = Type.Object({ items: Type.Array(ExpertSummary), total: Type.Integer() });

export const ExpertListQuery = Type.Object({ kind: Type.Optional(Type.Enum(['cgcnn', 'composition'])) });

export const ExpertPredictResponse = Type.Object(
  {
    expert: Type.String(),
    property: Type.String(),
    unit: Type.String(),
    predictions: Type.Array(Type.Object({
      value: Type.Number(),
      formula: Type.String({ description: 'reduced formula' }),
      composition: Type.Record(Type.String(), Type.Number(), { description: 'atomic fractions' }),
      nSites: Type.Union([Type.Integer(), Type.Null()], { description: 'sites in the cell (null for a formula input)' }),
    })),
  },
  { examples: [{ expert: 'mp_eform', property: 'Materials Project formation energy', unit: 'eV/atom', predictions: [{ value: -2.08, formula: 'NaCl', composition: { Na: 0.5, Cl: 0.5 }, nSites: 2 }] }] },
);
