// Where an embedded completion must stop, whatever the n-grams say: at syntactic boundaries (it does
// not close a bracket that the text after the cursor closes, or one of the wrong kind, and does
// not run past an opening bracket that ends a line), and inside a word (a half-typed identifier is
// completed only into a word the engine has seen with that prefix; else nothing is offered).

const WORD_CHAR = /[\p{L}\p{N}_$]/u;
const WORD_TAIL = /[\p{L}\p{N}_$]+$/u;
const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

export interface ShapeOptions {
  /**
   * How often the engine saw `word` as a whole token (in this file and the workspace); the word at
   * the cursor counts itself once when the buffer was learned.
   */
  occurrences?: (word: string) => number;
  /**
   * Whether `occurrences` counts the word at the cursor itself (default true): the engine learned
   * the buffer, and the word is followed by something (the document goes on after the cursor).
   */
  countsCursorWord?: boolean;
  /** What starts a line comment in this language (default `//`; `#` for Python, shell, Ruby, YAML). */
  lineComment?: string;
}

interface Scan {
  /** brackets left open, innermost last */
  open: string[];
  /** closers met with nothing of this scan open (they close something before it) */
  unmatched: string[];
  /** the quote the text ends inside of, if any */
  quote: string | null;
}

/** Brackets of `text` outside strings and comments (a rough scan of code, not a parser). */
function scanBrackets(text: string, lineComment: string): Scan {
  const open: string[] = [];
  const unmatched: string[] = [];
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote || (ch === '\n' && quote !== '`')) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (text.startsWith(lineComment, i)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
    } else if (ch === '/' && text[i + 1] === '*' && lineComment === '//') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) break;
      i = end + 1;
    } else if (OPEN[ch]) open.push(ch);
    else if (CLOSE[ch]) {
      if (open.length) open.pop();
      else unmatched.push(ch);
    }
  }
  return { open, unmatched, quote };
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}

/**
 * The part of `suggestion` (to be inserted between `prefix` and `suffix`) that respects the
 * syntactic stops and the partial-identifier rule; '' when nothing of it should be offered.
 *
 * Brackets: the suggestion ends where every bracket and quote it opened is closed again (the
 * longest such head; an opening bracket at the end of a line is where it stops, before it), and
 * it closes a bracket opened before the cursor only when that bracket is of the same kind and the
 * text after the cursor does not close it itself.
 */
export function shapeCompletion(prefix: string, suffix: string, suggestion: string, opts: ShapeOptions = {}): string {
  if (!suggestion) return '';
  // Inside a word (text continues right after the cursor): inserting would split an identifier.
  if (suffix && WORD_CHAR.test(suffix[0]!)) return '';

  // A half-typed word: the suggestion must extend it into a word seen with that prefix, or the word
  // as typed must be one the engine knows (seen elsewhere than at the cursor).
  const partial = WORD_TAIL.exec(prefix)?.[0];
  if (partial) {
    const ext = /^[\p{L}\p{N}_$]*/u.exec(suggestion)?.[0] ?? '';
    const seen = (w: string, self: number): boolean => opts.occurrences === undefined || opts.occurrences(w) > self;
    if (ext) {
      if (!seen(partial + ext, 0)) return '';
    } else if (!seen(partial, opts.countsCursorWord === false ? 0 : 1)) {
      return '';
    }
  }

  const lineComment = opts.lineComment ?? '//';
  const before = scanBrackets(prefix, lineComment);
  const after = scanBrackets(suffix, lineComment);
  const stack = [...before.open];
  // Brackets before the cursor that the suggestion may close: those the text after it leaves open.
  let closable = Math.max(0, stack.length - after.unmatched.length);
  const inner: string[] = [];
  let quote: string | null = before.quote;
  let ownQuote = false;
  let balanced = 0;
  let i = 0;
  for (; i < suggestion.length; i++) {
    const ch = suggestion[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) {
        quote = null;
        if (inner.length === 0) balanced = i + 1;
      } else if (ch === '\n') break;
      // Inside the string the cursor was already in: every character is a place to stop.
      if (!ownQuote && inner.length === 0) balanced = i + 1;
      continue;
    }
    if (ch === '\n') break;
    if (suggestion.startsWith(lineComment, i)) break;
    if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
      ownQuote = true;
      continue;
    }
    if (OPEN[ch]) {
      // An opening bracket that ends the line (the block or list is the next lines'): stop after it.
      if (inner.length === 0 && !firstLine(suffix).trim() && /^[ \t]*(\r?\n|$)/.test(suggestion.slice(i + 1))) {
        balanced = i + 1;
        i = suggestion.length;
        break;
      }
      inner.push(ch);
      continue;
    }
    if (CLOSE[ch]) {
      if (inner.length > 0) {
        if (inner.pop() !== CLOSE[ch]) break;
      } else {
        if (closable === 0 || stack[stack.length - 1] !== CLOSE[ch]) break;
        stack.pop();
        closable--;
      }
      if (inner.length === 0) balanced = i + 1;
      continue;
    }
    if (inner.length === 0 && !(quote && ownQuote)) balanced = i + 1;
  }
  let out = suggestion.slice(0, i);
  if (inner.length > 0 || (quote !== null && ownQuote) || i < suggestion.length) out = suggestion.slice(0, Math.min(balanced, suggestion.length));
  if (out.length < suggestion.length) out = out.replace(/[ \t]+$/, '');
  return out.trim() === '' ? '' : out;
}
