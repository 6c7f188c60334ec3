import { Type } from 'typebox';

/**
 * The largest offset a page may start at: PostgreSQL's OFFSET is a bigint, and a coerced query value such as
 * `1e308` is an "integer" to the schema but not to Postgres (it failed converting, a 500). 2^31 − 1 is far beyond
 * any table here.
 */
export const MAX_OFFSET = 2 ** 31 - 1;

/** `offset` (or `rowsOffset`) of a paginated list: 0 to MAX_OFFSET. */
export const Offset = (description = 'items skipped') => Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0, description });
