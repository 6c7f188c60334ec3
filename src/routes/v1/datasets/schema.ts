import { Type, type Static } from 'typebox';
import { Offset } from '../../../http/paging.js';
import { DATASET_LIMITS, DatasetFields, VisibilitySchema } from '../../../services/datasets/limits.js';

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const InputKind = Type.Enum(['formula', 'structure', 'cif', 'poscar']);

const EXAMPLE_ID = '6d0c7a52-3b7e-4f0e-9a1c-2f4b8e9d1a33';
const EXAMPLE_SPLIT_ID = '0b8f3c1e-5a7d-4c2b-8e6f-9d1a2b3c4d5e';
const EXAMPLE_HASH = '9f2c5e0b7a1d4c3e8f6a2b9d0e1c7f4a5b3d8e2c6f1a0b9e7d4c2a5f8e3b1d6c';

export const DatasetIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'dataset id' }) });
export const SplitParams = Type.Object({
  id: Type.String({ format: 'uuid', description: 'dataset id' }),
  splitId: Type.String({ format: 'uuid', description: 'split id' }),
});

// ---------------------------------------------------------------------------------------------------------------
// Upload

/**
 * Field types are deliberately left open here: every row is checked by the service, which reports every bad row
 * with its index and a stable code instead of stopping at the first schema violation.
 */
const DatasetRowInput = Type.Object(
  {
    formula: Type.Optional(Type.Unknown({ description: 'chemical formula, e.g. "GaAs", "CuSO4·5H2O", "Li0.5CoO2"' })),
    structure: Type.Optional(Type.Unknown({ description: 'pymatgen Structure.as_dict() object' })),
    cif: Type.Optional(Type.Unknown({ description: 'CIF file text' })),
    poscar: Type.Optional(Type.Unknown({ description: 'VASP POSCAR text' })),
    species: Type.Optional(Type.Unknown({ description: 'only with poscar, for VASP 4 files without a species line: the element of each atom block, e.g. ["Ga", "As"]' })),
    target: Type.Optional(Type.Unknown({ description: 'the property value: a finite number; leave it out of every row for a dataset of inputs to screen' })),
    id: Type.Optional(Type.Unknown({ description: 'your own id for the row (string or number), kept with it' })),
  },
  { additionalProperties: true, description: 'exactly one of formula, structure, cif or poscar, plus target' },
);

export const CreateDatasetJson = Type.Object(
  {
    ...DatasetFields.properties,
    rows: Type.Array(DatasetRowInput, { description: `at most ${DATASET_LIMITS.maxRows} rows` }),
  },
  {
    additionalProperties: false,
    examples: [{
      name: 'experimental band gaps', property: 'band gap', unit: 'eV',
      rows: [{ formula: 'GaAs', target: 1.42 }, { formula: 'Si', target: 1.12 }, { id: 'mp-2534', formula: 'ZnO', target: 3.37 }],
    }],
  },
);
export type CreateDatasetJson = Static<typeof CreateDatasetJson>;

/**
 * Documents the form; the multipart body is read in the handler (nullable: Fastify validates an unparsed multipart
 * body as null).
 */
export const CreateDatasetMultipart = Type.Object(
  {
    ...DatasetFields.properties,
    format: Type.Optional(Type.Enum(['csv', 'jsonl', 'json'], { description: 'file format; by default taken from the file name, then its media type' })),
    file: Type.String({
      format: 'binary',
      description: 'CSV with a header (target, one of formula/cif/poscar/structure, optional species for VASP 4 POSCARs, optional id; quoted multi-line cells for CIF/POSCAR), ' +
        'or JSONL (one row object per line), or a JSON array; may be gzip-compressed',
    }),
  },
  { nullable: true, examples: [{ name: 'gaps', property: 'band gap', unit: 'eV', file: 'formula,target\nGaAs,1.42\nSi,1.12\n' }] },
);

// ---------------------------------------------------------------------------------------------------------------
// Responses

export const TargetStats = Type.Object({
  count: Type.Integer(),
  mean: Type.Number(),
  std: Type.Number({ description: 'population standard deviation (ddof = 0)' }),
  min: Type.Number(),
  max: Type.Number(),
  median: Type.Number(),
});

const Warning = Type.Object({ index: Type.Optional(Type.Integer({ description: 'row index' })), message: Type.String() });

const datasetFields = {
  id: Uuid,
  visibility: VisibilitySchema,
  mine: Type.Boolean({ description: 'whether the caller owns it' }),
  name: Type.String(),
  property: Type.String(),
  unit: Type.String(),
  contentHash: Type.String({ description: 'sha256 of property, unit and rows (kind, canonical input, target): equal content, equal hash' }),
  rowCount: Type.Integer(),
  inputKinds: Type.Array(InputKind, { description: 'the input kinds the rows use' }),
  labelled: Type.Boolean({ description: 'every row has a target (training data); false: inputs only, to screen with a batch-prediction job' }),
  targetStats: Type.Union([TargetStats, Type.Null()], { description: 'null for an unlabelled dataset' }),
  createdAt: Timestamp,
  links: Type.Object({ self: Type.String(), splits: Type.String() }),
};

const EXAMPLE_DATASET = {
  id: EXAMPLE_ID, visibility: 'private', mine: true, name: 'experimental band gaps', property: 'band gap', unit: 'eV', contentHash: EXAMPLE_HASH, rowCount: 3,
  inputKinds: ['formula'], labelled: true, targetStats: { count: 3, mean: 1.97, std: 0.9886, min: 1.12, max: 3.37, median: 1.42 },
  createdAt: '2026-11-24T10:00:00.000Z', links: { self: `/v1/datasets/${EXAMPLE_ID}`, splits: `/v1/datasets/${EXAMPLE_ID}/splits` },
};

export const DatasetSummary = Type.Object(datasetFields, { examples: [EXAMPLE_DATASET] });

export const CreateDatasetResponse = Type.Object(
  { ...datasetFields, warnings: Type.Array(Warning, { description: 'non-fatal remarks from reading the rows' }) },
  { examples: [{ ...EXAMPLE_DATASET, warnings: [] }] },
);

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  offset: Type.Optional(Offset()),
});

export const DatasetList = Type.Object(
  {
    items: Type.Array(DatasetSummary),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    links: Type.Object({ next: Type.Optional(Type.String()), prev: Type.Optional(Type.String()) }),
  },
  { examples: [{ items: [EXAMPLE_DATASET], total: 1, limit: 20, offset: 0, links: {} }] },
);

export const DetailQuery = Type.Object({
  rowsLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 100, description: 'rows returned (0 for none)' })),
  rowsOffset: Type.Optional(Offset('rows skipped')),
});

const DatasetRow = Type.Object({
  index: Type.Integer(),
  kind: InputKind,
  input: Type.Record(Type.String(), Type.Unknown(), { description: 'the input as stored: one of formula, structure, cif, poscar' }),
  formula: Type.String({ description: 'reduced formula' }),
  target: Type.Union([Type.Number(), Type.Null()], { description: 'null in an unlabelled dataset' }),
  id: Type.Optional(Type.String({ description: 'the uploader\'s id for the row' })),
});

export const DatasetDetail = Type.Object(
  {
    ...datasetFields,
    inputKindCounts: Type.Record(Type.String(), Type.Integer(), { description: 'rows per input kind' }),
    rows: Type.Object({ items: Type.Array(DatasetRow), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
  },
  {
    examples: [{
      ...EXAMPLE_DATASET, inputKindCounts: { formula: 3 },
      rows: {
        items: [
          { index: 0, kind: 'formula', input: { formula: 'GaAs' }, formula: 'GaAs', target: 1.42 },
          { index: 1, kind: 'formula', input: { formula: 'Si' }, formula: 'Si', target: 1.12 },
          { index: 2, kind: 'formula', input: { formula: 'ZnO' }, formula: 'ZnO', target: 3.37, id: 'mp-2534' },
        ],
        total: 3, limit: 100, offset: 0,
      },
    }],
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Splits

const RandomSplitBody = Type.Object(
  {
    method: Type.Optional(Type.Literal('random', { description: 'random (the default when left out)' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: 'PRNG seed (mulberry32 + Fisher–Yates); default 0' })),
    fractions: Type.Optional(Type.Array(Type.Number(), {
      minItems: 3, maxItems: 3,
      description: 'train, val, test fractions; positive, sum ≤ 1; sizes are int(f·n) as in the paper; default [0.7, 0.15, 0.15]',
    })),
  },
  { additionalProperties: false },
);

const ExplicitSplitBody = Type.Object(
  {
    method: Type.Literal('explicit'),
    train: Type.Array(Type.Number({ description: 'row index (integer)' }), { description: 'non-empty' }),
    val: Type.Optional(Type.Array(Type.Number({ description: 'row index (integer)' }))),
    test: Type.Optional(Type.Array(Type.Number({ description: 'row index (integer)' }))),
  },
  { additionalProperties: false },
);

export const CreateSplitBody = Type.Union([RandomSplitBody, ExplicitSplitBody], {
  description: 'a random split (method "random" or left out: seeded, 70/15/15 by default) or explicit index lists (method "explicit")',
  examples: [
    {},
    { method: 'random', seed: 0, fractions: [0.7, 0.15, 0.15] },
    { method: 'explicit', train: [0, 1, 2, 3, 4, 5, 6], val: [7], test: [8, 9] },
  ],
});
export type CreateSplitBody = Static<typeof CreateSplitBody>;

const splitFields = {
  id: Uuid,
  datasetId: Uuid,
  method: Type.Enum(['random', 'explicit']),
  seed: Type.Union([Type.Integer(), Type.Null()]),
  fractions: Type.Union([Type.Array(Type.Number()), Type.Null()]),
  sizes: Type.Object({ train: Type.Integer(), val: Type.Integer(), test: Type.Integer() }),
  unassigned: Type.Integer({ description: 'rows in no part (int() truncation leaves 0–2 for 70/15/15)' }),
  contentHash: Type.String({ description: 'sha256 of the three index lists: equal lists, equal split' }),
  createdAt: Timestamp,
  links: Type.Object({ self: Type.String(), dataset: Type.String() }),
};

const EXAMPLE_SPLIT = {
  id: EXAMPLE_SPLIT_ID, datasetId: EXAMPLE_ID, method: 'random', seed: 0, fractions: [0.7, 0.15, 0.15], sizes: { train: 7, val: 1, test: 1 },
  unassigned: 1, contentHash: EXAMPLE_HASH, createdAt: '2026-11-24T10:00:00.000Z',
  links: { self: `/v1/datasets/${EXAMPLE_ID}/splits/${EXAMPLE_SPLIT_ID}`, dataset: `/v1/datasets/${EXAMPLE_ID}` },
};

export const SplitSummary = Type.Object(splitFields, { examples: [EXAMPLE_SPLIT] });

export const SplitDetail = Type.Object(
  { ...splitFields, train: Type.Array(Type.Integer()), val: Type.Array(Type.Integer()), test: Type.Array(Type.Integer()) },
  { examples: [{ ...EXAMPLE_SPLIT, train: [3, 7, 0, 9, 5, 1, 8], val: [2], test: [6] }] },
);

export const SplitList = Type.Object({ items: Type.Array(SplitSummary) }, { examples: [{ items: [EXAMPLE_SPLIT] }] });

export const VisibilityBody = Type.Object({ visibility: VisibilitySchema }, { additionalProperties: false, examples: [{ visibility: 'public' }] });

