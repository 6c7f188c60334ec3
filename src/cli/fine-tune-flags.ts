/**
 * `matmoe train` flags, derived from the fine-tune request schema: each option of FineTuneRequest is a kebab-case flag
 * (gateInit → --gate-init), converted by the option's schema type; the server validates the request as for any client.
 */
import type { TSchema } from 'typebox';
import { FINE_TUNE_OPTIONS, type FineTuneRequest } from '../services/fine-tune/request.js';

type Options = typeof FINE_TUNE_OPTIONS;
const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** parseArgs option declarations: every flag takes a string value. */
export const FINE_TUNE_FLAGS: Record<string, { type: 'string' }> = Object.fromEntries(Object.keys(FINE_TUNE_OPTIONS).map((k) => [kebab(k), { type: 'string' as const }]));

/** A one-line description per flag, for the usage text. */
export function fineTuneFlagHelp(): string {
  return Object.entries(FINE_TUNE_OPTIONS).map(([k, s]) => `  --${kebab(k)}`.padEnd(20) + ((s as TSchema & { description?: string }).description ?? '').split(/\.(\s|$)/)[0]).join('\n');
}

function isIntegerSchema(s: unknown): boolean {
  const t = s as { type?: unknown; anyOf?: unknown[] };
  return t.type === 'integer';
}

/** The options given on the command line, as a partial fine-tune request. */
export function fineTuneOptionsFromFlags(values: Readonly<Record<string, unknown>>): Partial<FineTuneRequest> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(FINE_TUNE_OPTIONS) as [keyof Options, TSchema][]) {
    const raw = values[kebab(key)];
    if (typeof raw !== 'string') continue;
    if (key === 'experts') out.experts = raw === 'all' ? 'all' : raw.split(',').map((s) => s.trim()).filter(Boolean);
    else if (isIntegerSchema(schema)) {
      if (!/^\d+$/.test(raw)) throw new Error(`--${kebab(key)} must be a whole number, got "${raw}"`);
      out[key] = Number(raw);
    } else out[key] = raw;
  }
  return out as Partial<FineTuneRequest>;
}
