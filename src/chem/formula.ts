import { amountProblem, atomicFractions } from './composition.js';
import { isElement } from './elements.js';
import { findNul } from './input-guard.js';
import { reducedFormula } from './reduced-formula.js';
import { ParseError, type Composition } from './types.js';

export { reducedFormula } from './reduced-formula.js';

export interface ParsedFormula {
  /** Element → amount as written (groups multiplied out, adduct parts added), in order of first appearance. */
  amounts: Composition;
  /** Element → amount / nAtoms. */
  fractions: Composition;
  /** pymatgen's `Composition.reduced_formula` of `amounts`. */
  reducedFormula: string;
  /** Sum of the amounts (atoms per formula unit as written). */
  nAtoms: number;
}

export const MAX_FORMULA_LENGTH = 256;

/** Characters that join the parts of a hydrate or adduct (CuSO4·5H2O): middle dot, bullet, asterisk and look-alikes. */
const ADDUCT_SEPARATORS = new Set(['·', '•', '*', '∙', '⋅', '・']);
const OPENERS: Readonly<Record<string, string>> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set([')', ']', '}']);

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isUpper = (c: string | undefined): boolean => c !== undefined && c >= 'A' && c <= 'Z';
const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
/** '@' joins endohedral formulas (Y3N@C80); pymatgen drops it, so it is read like a space. */
const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '@';

interface Frame {
  /** Opening bracket and its position (for unbalanced-bracket errors); the outermost frame of a part has none. */
  open?: string;
  openAt: number;
  /** Element amounts of this level, in order of first appearance. */
  amounts: Map<string, number>;
  /** Whether anything was written inside (an empty "()" is an error). */
  filled: boolean;
}

function add(target: Map<string, number>, el: string, amount: number): void {
  target.set(el, (target.get(el) ?? 0) + amount);
}

/**
 * A left-to-right scanner with an explicit stack for brackets (so deeply nested input cannot overflow the call stack).
 * Every loop advances `pos`, so parsing is linear in the (bounded) input length.
 */
class FormulaScanner {
  pos = 0;
  /** Where each element is first written, to name it when its total amount is refused. */
  readonly firstAt = new Map<string, number>();
  constructor(private readonly text: string) {}

  private get c(): string | undefined {
    return this.text[this.pos];
  }

  private skipBlanks(): void {
    while (isBlank(this.c)) this.pos++;
  }

  private fail(code: string, message: string, at = this.pos): never {
    throw new ParseError(code, message, at);
  }

  /** A positive decimal amount at `pos` (digits, optional fraction, optional lowercase exponent as pymatgen allows), or undefined. */
  private amount(what: string): number | undefined {
    const start = this.pos;
    if (this.c === '-' && (isDigit(this.text[this.pos + 1]) || this.text[this.pos + 1] === '.')) {
      this.fail('formula_bad_amount', `negative ${what} at position ${start}: amounts must be positive`, start);
    }
    if (!isDigit(this.c) && !(this.c === '.' && isDigit(this.text[this.pos + 1]))) return undefined;
    while (isDigit(this.c)) this.pos++;
    if (this.c === '.') {
      this.pos++;
      while (isDigit(this.c)) this.pos++;
    }
    if (this.c === 'e' && (isDigit(this.text[this.pos + 1]) || (this.text[this.pos + 1] === '-' && isDigit(this.text[this.pos + 2])))) {
      this.pos += 2;
      while (isDigit(this.c)) this.pos++;
    }
    if (this.c === '.' || (this.c === ',' && isDigit(this.text[this.pos + 1]))) {
      this.fail('formula_bad_amount', `malformed number "${this.text.slice(start, this.pos + 1)}" at position ${start} (use a decimal point, e.g. 0.5)`, start);
    }
    const value = Number(this.text.slice(start, this.pos));
    if (!Number.isFinite(value)) this.fail('formula_bad_amount', `${what} at position ${start} is too large`, start);
    if (value <= 0) this.fail('formula_bad_amount', `${what} at position ${start} is zero: amounts must be positive`, start);
    return value;
  }

  /** One part of an adduct: an optional leading coefficient ("5" in 5H2O), then elements and bracketed groups. */
  part(): Map<string, number> {
    this.skipBlanks();
    const partStart = this.pos;
    const coefficient = this.amount('coefficient') ?? 1;
    this.skipBlanks();
    const stack: Frame[] = [{ openAt: partStart, amounts: new Map(), filled: false }];
    for (;;) {
      this.skipBlanks();
      const c = this.c;
      const top = stack[stack.length - 1];
      if (c === undefined || ADDUCT_SEPARATORS.has(c)) break;
      if (isUpper(c)) {
        const start = this.pos;
        this.pos++;
        while (isLower(this.c)) this.pos++;
        const symbol = this.text.slice(start, this.pos);
        if (!isElement(symbol)) {
          const hint = symbol === 'D' || symbol === 'T' ? ' (write isotopes of hydrogen as H)' : '';
          this.fail('formula_unknown_element', `unknown element "${symbol}" at position ${start}${hint}`, start);
        }
        if (!this.firstAt.has(symbol)) this.firstAt.set(symbol, start);
        this.skipBlanks();
        add(top.amounts, symbol, this.amount(`amount of ${symbol}`) ?? 1);
        top.filled = true;
      } else if (Object.hasOwn(OPENERS, c)) {
        stack.push({ open: c, openAt: this.pos, amounts: new Map(), filled: false });
        this.pos++;
      } else if (CLOSERS.has(c)) {
        if (stack.length === 1) this.fail('formula_unbalanced', `"${c}" at position ${this.pos} closes nothing`);
        if (OPENERS[top.open!] !== c) {
          this.fail('formula_unbalanced', `"${c}" at position ${this.pos} does not match "${top.open}" at position ${top.openAt}`);
        }
        if (!top.filled) this.fail('formula_syntax', `empty brackets at position ${top.openAt}`, top.openAt);
        this.pos++;
        this.skipBlanks();
        const factor = this.amount('group multiplier') ?? 1;
        stack.pop();
        const parent = stack[stack.length - 1];
        for (const [el, amt] of top.amounts) add(parent.amounts, el, amt * factor);
        parent.filled = true;
      } else if (isLower(c)) {
        this.fail('formula_syntax', `element symbols start with a capital letter: "${c}" at position ${this.pos}`);
      } else if (isDigit(c) || c === '.') {
        this.fail('formula_syntax', `number at position ${this.pos} does not follow an element or a closing bracket`);
      } else if (c === '+' || c === '-') {
        this.fail('formula_syntax', `"${c}" at position ${this.pos}: charges and signs are not part of a formula`);
      } else {
        this.fail('formula_syntax', `unexpected character "${c}" at position ${this.pos}`);
      }
    }
    if (stack.length > 1) {
      const open = stack[stack.length - 1];
      this.fail('formula_unbalanced', `"${open.open}" at position ${open.openAt} is never closed`, open.openAt);
    }
    if (!stack[0].filled) {
      this.fail('formula_syntax', this.pos === partStart ? `missing formula at position ${this.pos}` : `no element after position ${partStart}`);
    }
    const out = new Map<string, number>();
    for (const [el, amt] of stack[0].amounts) out.set(el, amt * coefficient);
    return out;
  }

  /** Parts separated by adduct separators (CuSO4·5H2O), added up. */
  formula(): Map<string, number> {
    const total = new Map<string, number>();
    for (;;) {
      for (const [el, amt] of this.part()) add(total, el, amt);
      if (this.c === undefined) return total;
      this.pos++; // an adduct separator: part() stops only at those or at the end
    }
  }
}

/**
 * Parses a chemical formula into element amounts: Fe2O3, Ca3(PO4)2, [Co(NH3)6]Cl3, CuSO4·5H2O (also • or *),
 * Li0.5CoO2, spaces anywhere between tokens. Amounts equal pymatgen's `Composition(formula)` wherever pymatgen accepts
 * the formula; hydrates and square brackets, which pymatgen does not read, are added up part by part. Each element's
 * total (brackets and hydrate coefficients multiplied out) must be finite, at least MIN_ELEMENT_AMOUNT and at least
 * MIN_ATOMIC_FRACTION of the atoms, so the composition and the reduced formula always hold the same elements.
 * @throws ParseError with `code` (formula_empty, formula_too_long, formula_unknown_element, formula_unbalanced,
 *   formula_bad_amount, formula_amount_too_small, formula_syntax, input_invalid_character) and `position`, the
 *   0-based index of the offending character (for a refused total: where the element is first written).
 */
export function parseFormula(input: string): ParsedFormula {
  if (typeof input !== 'string') throw new ParseError('formula_syntax', 'a formula must be a string such as "Fe2O3"', 0);
  if (input.length > MAX_FORMULA_LENGTH) {
    throw new ParseError('formula_too_long', `formula is ${input.length} characters long; at most ${MAX_FORMULA_LENGTH} are accepted`, MAX_FORMULA_LENGTH);
  }
  const nul = findNul(input, 'the formula', 'character');
  if (nul) throw new ParseError('input_invalid_character', nul.message, nul.position);
  if (input.trim() === '') throw new ParseError('formula_empty', 'the formula is empty', 0);
  const scanner = new FormulaScanner(input);
  const amounts: Composition = Object.fromEntries(scanner.formula());
  const problem = amountProblem(amounts);
  if (problem) {
    const at = scanner.firstAt.get(problem.element) ?? 0;
    throw new ParseError(
      problem.kind === 'not_finite' ? 'formula_bad_amount' : 'formula_amount_too_small',
      `${problem.element} (first written at position ${at}), with brackets and hydrate coefficients multiplied out: ${problem.why}`,
      at,
    );
  }
  const nAtoms = Object.values(amounts).reduce((x, y) => x + y, 0);
  return { amounts, fractions: atomicFractions(amounts), reducedFormula: reducedFormula(amounts), nAtoms };
}
