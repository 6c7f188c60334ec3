import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CsvSyntaxError, parseCsv } from '../../src/services/datasets/csv.js';
import { AppError } from '../../src/errors.js';
import { canonicalJson, datasetContentHash, prepareDataset, prepareDatasetAsync, targetStats } from '../../src/services/datasets/content.js';
import { DATASET_LIMITS, type RawRow } from '../../src/services/datasets/limits.js';
import { parseTargetText } from '../../src/services/datasets/rows.js';
import { decodeUpload, detectFormat, parseUpload, rowsFromCsv, rowsFromJsonl } from '../../src/services/datasets/upload.js';

const META = { name: 'test set', property: 'band gap', unit: 'eV' };
const rows = (...values: unknown[]): RawRow[] => values.map((value) => ({ value }));

/** What an upload can get wrong, by HTTP status: a malformed request, a limit, a format we do not read, bad content. */
const STATUS = { request: 400, too_large: 413, unsupported: 415, invalid: 422 } as const;

function throwsDatasetError(fn: () => unknown, code: string, kind?: keyof typeof STATUS): AppError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (kind) assert.equal(caught.status, STATUS[kind]);
  return caught;
}

describe('parseCsv (RFC 4180)', () => {
  test('plain records, CRLF and LF, trailing newline, blank lines skipped', () => {
    const recs = parseCsv('formula,target\r\nGaAs,1.42\n\nSi,1.12\r\n');
    assert.deepEqual(recs.map((r) => r.fields), [['formula', 'target'], ['GaAs', '1.42'], ['Si', '1.12']]);
    assert.deepEqual(recs.map((r) => r.line), [1, 2, 4]);
  });

  test('a leading BOM is dropped', () => {
    assert.deepEqual(parseCsv('\uFEFFformula,target\nNaCl,5\n')[0].fields, ['formula', 'target']);
  });

  test('quoted fields hold commas, doubled quotes and line breaks; line numbers follow the start of each record', () => {
    const text = 'id,cif,target\r\n"a,1","line one\r\nline ""two""\r\nline three",2.5\r\nb,"",3\r\n';
    const recs = parseCsv(text);
    assert.equal(recs.length, 3);
    assert.deepEqual(recs[1].fields, ['a,1', 'line one\r\nline "two"\r\nline three', '2.5']);
    assert.equal(recs[1].line, 2);
    assert.deepEqual(recs[2].fields, ['b', '', '3']);
    assert.equal(recs[2].line, 5);
  });

  test('empty trailing field and no final newline', () => {
    assert.deepEqual(parseCsv('a,b,\nc,d,e').map((r) => r.fields), [['a', 'b', ''], ['c', 'd', 'e']]);
  });

  test('an unterminated quote and a stray quote are syntax errors naming the line', () => {
    // An unterminated quote is noticed where the file ends inside it.
    assert.throws(() => parseCsv('a,b\n1,"open\n2,3\n'), (e: unknown) => e instanceof CsvSyntaxError && e.code === 'csv_unterminated_quote' && e.line === 3);
    assert.throws(() => parseCsv('a,b\n1,2\n3,ab"c\n'), (e: unknown) => e instanceof CsvSyntaxError && e.code === 'csv_malformed' && e.line === 3);
    assert.throws(() => parseCsv('a,b\n"x"y,2\n'), (e: unknown) => e instanceof CsvSyntaxError && e.code === 'csv_malformed' && e.line === 2);
  });
});

describe('targets', () => {
  test('numeric text is parsed; blanks, NaN, infinities and words are row errors with their own codes', () => {
    assert.equal(parseTargetText('1.5'), 1.5);
    assert.equal(parseTargetText(' -2.5e-3 '), -0.0025);
    assert.equal(parseTargetText('.5'), 0.5);
    assert.equal(parseTargetText('+7'), 7);
    const code = (s: string) => (parseTargetText(s) as { code: string }).code;
    assert.equal(code(''), 'target_missing');
    assert.equal(code('   '), 'target_missing');
    assert.equal(code('NaN'), 'target_not_finite');
    assert.equal(code('inf'), 'target_not_finite');
    assert.equal(code('-Infinity'), 'target_not_finite');
    assert.equal(code('1e400'), 'target_not_finite');
    assert.equal(code('abc'), 'target_not_number');
    assert.equal(code('0x10'), 'target_not_number');
    assert.equal(code('1,5'), 'target_not_number');
  });

  test('statistics: count, mean, population std, min, max, median', () => {
    const s = targetStats([4, 1, 3, 2]);
    assert.equal(s.count, 4);
    assert.equal(s.mean, 2.5);
    assert.ok(Math.abs(s.std - Math.sqrt(1.25)) < 1e-12);
    assert.equal(s.min, 1);
    assert.equal(s.max, 4);
    assert.equal(s.median, 2.5);
    const odd = targetStats([10, -2, 7]);
    assert.equal(odd.median, 7);
    assert.equal(odd.min, -2);
    assert.equal(odd.std, Math.sqrt(((10 - 5) ** 2 + (-2 - 5) ** 2 + (7 - 5) ** 2) / 3));
  });
});

describe('content hash', () => {
  const r = (input: Record<string, unknown>, target: number) => ({ kind: Object.keys(input)[0] as 'formula', input, target });

  test('canonical JSON sorts keys at every level and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"x":2,"y":1}]},"b":1}');
  });

  test('equal content gives equal hashes regardless of key order; any change of content changes it', () => {
    const s1 = { lattice: { matrix: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] }, sites: [{ species: [{ element: 'Po', occu: 1 }], abc: [0, 0, 0] }] };
    const s2 = { sites: [{ abc: [0, 0, 0], species: [{ occu: 1, element: 'Po' }] }], lattice: { matrix: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] } };
    const base = datasetContentHash('p', 'eV', [r({ formula: 'GaAs' }, 1.42), r({ structure: s1 }, 0)]);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(datasetContentHash('p', 'eV', [r({ formula: 'GaAs' }, 1.42), r({ structure: s2 }, 0)]), base);
    assert.notEqual(datasetContentHash('p', 'meV', [r({ formula: 'GaAs' }, 1.42), r({ structure: s1 }, 0)]), base);
    assert.notEqual(datasetContentHash('q', 'eV', [r({ formula: 'GaAs' }, 1.42), r({ structure: s1 }, 0)]), base);
    assert.notEqual(datasetContentHash('p', 'eV', [r({ formula: 'GaAs' }, 1.43), r({ structure: s1 }, 0)]), base);
    assert.notEqual(datasetContentHash('p', 'eV', [r({ structure: s1 }, 0), r({ formula: 'GaAs' }, 1.42)]), base);
  });
});

describe('prepareDataset', () => {
  test('valid formula rows: reduced formulas, kinds, statistics, name not in the hash, ids kept', () => {
    const a = prepareDataset(META, rows({ formula: ' Fe4O6 ', target: 2 }, { formula: 'GaAs', target: 1, id: 'mp-2534' }, { formula: 'NaCl', target: 6, id: 7 }));
    assert.deepEqual(a.rows.map((x) => x.formula), ['Fe2O3', 'GaAs', 'NaCl']);
    assert.deepEqual(a.rows.map((x) => x.input), [{ formula: 'Fe4O6' }, { formula: 'GaAs' }, { formula: 'NaCl' }]);
    assert.deepEqual(a.rows.map((x) => x.externalId), [null, 'mp-2534', '7']);
    assert.deepEqual(a.inputKinds, ['formula']);
    assert.equal(a.targetStats!.mean, 3);
    assert.equal(a.targetStats!.median, 2);
    const b = prepareDataset({ ...META, name: 'another name' }, rows({ formula: 'Fe4O6', target: 2 }, { formula: 'GaAs', target: 1 }, { formula: 'NaCl', target: 6 }));
    assert.equal(b.contentHash, a.contentHash);
  });

  test('every bad row is reported with its index and a code; a row with two problems reports both', () => {
    const err = throwsDatasetError(() => prepareDataset(META, rows(
      { formula: 'GaAs', target: 1.42 },
      { formula: 'Xx2', target: 1 },
      { formula: 'NaCl' },
      { formula: 'NaCl', target: '1.5' },
      { target: 1 },
      { formula: 'Si', structure: { lattice: {} }, target: 1 },
      42,
      { formula: 'Si', target: 1, colour: 'red' },
      { formula: 'Zz', target: 'x' },
    )), 'invalid_rows', 'invalid');
    const errors = err.extra.errors as { index: number; code: string }[];
    assert.deepEqual([...new Set(errors.map((e) => e.index))], [1, 2, 3, 4, 5, 6, 7, 8]);
    const codes = (i: number) => errors.filter((e) => e.index === i).map((e) => e.code);
    assert.ok(codes(1)[0].startsWith('formula_'), codes(1).join());
    assert.deepEqual(codes(2), ['target_missing']);
    assert.deepEqual(codes(3), ['target_not_number']);
    assert.deepEqual(codes(4), ['input_kind']);
    assert.deepEqual(codes(5), ['input_kind']);
    assert.deepEqual(codes(6), ['row_not_object']);
    assert.deepEqual(codes(7), ['row_unknown_field']);
    assert.equal(codes(8).length, 2);
    assert.equal(err.extra.invalidRows, 8);
    assert.equal(err.extra.omittedErrors, 0);
  });

  test('the error list is capped and says how many more there are', () => {
    const bad = Array.from({ length: 30 }, () => ({ formula: 'Xx2', target: 1 }));
    const err = throwsDatasetError(() => prepareDataset(META, rows(...bad), { limits: { ...DATASET_LIMITS, maxErrorsListed: 10 } }), 'invalid_rows');
    assert.equal((err.extra.errors as unknown[]).length, 10);
    assert.equal(err.extra.invalidRows, 30);
    assert.equal(err.extra.omittedErrors, 20);
  });

  test('limits and empty datasets have their own codes', () => {
    throwsDatasetError(() => prepareDataset(META, []), 'dataset_empty', 'invalid');
    const limits = { ...DATASET_LIMITS, maxRows: 3 };
    throwsDatasetError(() => prepareDataset(META, rows(...Array.from({ length: 4 }, () => ({ formula: 'Si', target: 1 }))), { limits }), 'dataset_too_many_rows', 'too_large');
    throwsDatasetError(() => rowsFromJsonl('{"formula":"Si","target":1}\n'.repeat(4), limits), 'dataset_too_many_rows', 'too_large');
    throwsDatasetError(() => rowsFromCsv(`formula,target\n${'Si,1\n'.repeat(4)}`, limits), 'dataset_too_many_rows', 'too_large');
  });

  test('the async variant gives the same dataset and lets other work run between its slices', async () => {
    const raw = rows(...Array.from({ length: 2000 }, (_, i) => ({ formula: ['GaAs', 'Fe2O3', 'CuSO4·5H2O', 'Li0.5CoO2'][i % 4], target: i })));
    let ran = false;
    setImmediate(() => { ran = true; });
    const sync = prepareDataset(META, raw);
    assert.equal(ran, false, 'a synchronous loop cannot let other work run');
    // A zero-length slice makes the async loop yield after every block of rows, whatever the machine's speed.
    const pending = prepareDatasetAsync(META, raw, { sliceMs: 0 });
    let ranDuring = false;
    setImmediate(() => { ranDuring = true; });
    const async = await pending;
    assert.ok(ran && ranDuring, 'callbacks queued before and during validation ran before it finished');
    assert.deepEqual(async, sync);
  });

  test('blank name or property after trimming is a request error', () => {
    throwsDatasetError(() => prepareDataset({ ...META, name: '   ' }, rows({ formula: 'Si', target: 1 })), 'validation_failed', 'request');
  });
});

describe('uploads', () => {
  const CIF = [
    'data_NaCl', '_cell_length_a 5.64', '_cell_length_b 5.64', '_cell_length_c 5.64',
    '_cell_angle_alpha 90', '_cell_angle_beta 90', '_cell_angle_gamma 90', "_symmetry_space_group_name_H-M 'P 1'",
    'loop_', '_atom_site_label', '_atom_site_type_symbol', '_atom_site_fract_x', '_atom_site_fract_y', '_atom_site_fract_z', '_atom_site_occupancy',
    'Na1 Na 0 0 0 1', 'Cl1 Cl 0.5 0.5 0.5 1',
  ].join('\r\n');

  test('CSV with id, formula and a quoted multi-line CIF column; CRLF inside the CIF becomes LF', () => {
    const csv = `\uFEFFID,Formula,CIF,target,comment\r\nr1,GaAs,,1.42,ok\r\nr2,,"${CIF}",8.5,"x, y"\r\n`;
    const up = parseUpload({ buffer: Buffer.from(csv), filename: 'data.csv' });
    assert.equal(up.format, 'csv');
    assert.match(up.warnings[0].message, /comment/);
    const d = prepareDataset(META, up.rows, { fromText: up.fromText });
    assert.deepEqual(d.rows.map((r) => [r.kind, r.formula, r.target, r.externalId]), [['formula', 'GaAs', 1.42, 'r1'], ['cif', 'NaCl', 8.5, 'r2']]);
    assert.equal(d.rows[1].input.cif, CIF.replace(/\r\n/g, '\n'));
    assert.deepEqual(d.inputKinds, ['formula', 'cif']);
  });

  test('CSV row errors name the line; a missing target column fails the whole file', () => {
    const up = parseUpload({ buffer: Buffer.from('formula,target\nGaAs,1\nSi,NaN\n"Qq\n2",\nZnO,1,extra\n'), filename: 'x.csv' });
    const err = throwsDatasetError(() => prepareDataset(META, up.rows, { fromText: true }), 'invalid_rows');
    const errors = err.extra.errors as { index: number; line: number; code: string }[];
    assert.deepEqual(errors.map((e) => [e.index, e.line]), [[1, 3], [2, 4], [2, 4], [3, 6]]);
    assert.equal(errors[0].code, 'target_not_finite');
    assert.match(errors[1].code, /^formula_/);
    assert.equal(errors[2].code, 'target_missing');
    assert.equal(errors[3].code, 'csv_column_count');
    // Without a target column the file lists inputs to screen: an unlabelled dataset, the other column ignored with a warning.
    const screen = rowsFromCsv('formula,value\nSi,1\n');
    assert.deepEqual(screen.rows.map((r) => r.value), [{ formula: 'Si' }]);
    assert.match(screen.warnings[0].message, /"value"/);
    const unlabelled = prepareDataset(META, screen.rows, { fromText: true });
    assert.equal(unlabelled.labelled, false);
    assert.equal(unlabelled.targetStats, null);
    assert.deepEqual(unlabelled.rows.map((r) => r.target), [null]);
    // A dataset is labelled when any row has a target; then every row needs one.
    const mixed = throwsDatasetError(() => prepareDataset(META, rows({ formula: 'Si', target: 1 }, { formula: 'Ge' })), 'invalid_rows', 'invalid');
    assert.equal((mixed.extra.errors as { index: number; code: string }[])[0].code, 'target_missing');
    throwsDatasetError(() => rowsFromCsv('id,target\n1,1\n'), 'csv_missing_column', 'invalid');
    throwsDatasetError(() => rowsFromCsv('formula,target,Formula\nSi,1,Si\n'), 'csv_duplicate_column', 'invalid');
    throwsDatasetError(() => rowsFromCsv('formula,target\n"Si,1\n'), 'csv_unterminated_quote', 'invalid');
  });

  test('JSONL: blank lines skipped, a bad line is that row\'s error with its line number', () => {
    const up = parseUpload({ buffer: Buffer.from('{"formula":"Si","target":1}\r\n\n{"formula":"Ge",\n{"formula":"C","target":5.5}\n'), filename: 'rows.jsonl' });
    assert.equal(up.format, 'jsonl');
    assert.deepEqual(up.rows.map((r) => r.line), [1, 3, 4]);
    const err = throwsDatasetError(() => prepareDataset(META, up.rows), 'invalid_rows');
    assert.deepEqual(err.extra.errors, [{ index: 1, line: 3, code: 'jsonl_invalid_json', message: (err.extra.errors as { message: string }[])[0].message }]);
  });

  test('gzip is detected by its magic number; non-UTF-8 bytes are refused', () => {
    const gz = gzipSync(Buffer.from('formula,target\nSi,1\n'));
    assert.equal(decodeUpload(gz), 'formula,target\nSi,1\n');
    throwsDatasetError(() => decodeUpload(gzipSync(Buffer.alloc(2000, 65)), { ...DATASET_LIMITS, maxBytes: 1000 }), 'dataset_too_large', 'too_large');
    throwsDatasetError(() => decodeUpload(Buffer.from([0x66, 0xff, 0xfe, 0x0a])), 'upload_not_utf8', 'invalid');
  });

  test('format: explicit field, then extension, then media type, then the first character', () => {
    assert.equal(detectFormat({ format: 'NDJSON', filename: 'a.csv' }, ''), 'jsonl');
    assert.equal(detectFormat({ filename: 'a.jsonl.gz', mimetype: 'text/csv' }, ''), 'jsonl');
    assert.equal(detectFormat({ filename: 'blob', mimetype: 'text/csv; charset=utf-8' }, '{'), 'csv');
    assert.equal(detectFormat({}, '  {"formula":"Si"}'), 'jsonl');
    assert.equal(detectFormat({}, '[{"formula":"Si"}]'), 'json');
    assert.equal(detectFormat({}, 'formula,target'), 'csv');
    throwsDatasetError(() => detectFormat({ format: 'xlsx' }, ''), 'upload_format_unsupported', 'unsupported');
  });
});
