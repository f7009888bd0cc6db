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
}

interface Scan {
  /** brackets left open, innermost last */
  open: string[];
  /** closers met with nothing of this scan open (they close something before it) */
  unmatched: string[];
}

/** Brackets of `text` outside strings and line comments (a rough scan: one line of code). */
function scanBrackets(text: string, onStep?: (i: number, depth: number, ch: string) => boolean): Scan {
  const open: string[] = [];
  const unmatched: string[] = [];
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if ((ch === '/' && text[i + 1] === '/') || (ch === '#' && (i === 0 || /\s/.test(text[i - 1]!)))) break;
    else if (OPEN[ch]) open.push(ch);
    else if (CLOSE[ch]) {
      if (open.length) open.pop();
      else unmatched.push(ch);
    }
    if (onStep && !quote && !onStep(i, open.length - unmatched.length, ch)) break;
  }
  return { open, unmatched };
}

function lastLine(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}

/**
 * The part of `suggestion` (to be inserted between `prefix` and `suffix`) that respects the
 * syntactic stops and the partial-identifier rule; '' when nothing of it should be offered.
 */
export function shapeCompletion(prefix: string, suffix: string, suggestion: string, opts: ShapeOptions = {}): string {
  if (!suggestion) return '';
  // Inside a word (text continues right after the cursor): inserting would split an identifier.
  if (suffix && WORD_CHAR.test(suffix[0]!)) return '';

  // A half-typed word: the suggestion must extend it into a word seen with that prefix, or the word
  // as typed must be one the engine knows (seen elsewhere than at the cursor).
  const partial = WORD_TAIL.exec(prefix)?.[0];
  if (partial) {
    const ext = WORD_TAIL.exec(firstLine(suggestion).match(/^[\p{L}\p{N}_$]*/u)?.[0] ?? '')?.[0] ?? '';
    const seen = (w: string, self: number): boolean => opts.occurrences === undefined || opts.occurrences(w) > self;
    if (ext) {
      if (!seen(partial + ext, 0)) return '';
    } else if (!seen(partial, 1)) {
      return '';
    }
  }

  const lineBefore = lastLine(prefix);
  const lineAfter = firstLine(suffix);
  const before = scanBrackets(lineBefore);
  const after = scanBrackets(lineAfter);
  // Brackets of this line the text after the cursor closes itself: the suggestion must not.
  const closedAfter = after.unmatched.length;
  const stack = [...before.open];
  let cut = suggestion.length;
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < suggestion.length; i++) {
    const ch = suggestion[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '\n') {
      cut = i;
      break;
    } else if (OPEN[ch]) {
      depth++;
      // An opening bracket that ends the line: stop right after it (the block is the next lines').
      const rest = suggestion.slice(i + 1);
      if (rest.length > 0 && /^[ \t]*(\r?\n|$)/.test(rest)) {
        cut = i + 1;
        break;
      }
    } else if (CLOSE[ch]) {
      if (depth > 0) {
        depth--;
        continue;
      }
      // It would close a bracket opened before the cursor: only one that the rest of the line does
      // not close itself, and only of the matching kind.
      const top = stack[stack.length - 1];
      if (closedAfter > 0 || (top !== undefined && top !== CLOSE[ch])) {
        cut = i;
        break;
      }
      stack.pop();
    }
  }
  let out = suggestion.slice(0, cut);
  // With text after the cursor on this line, the suggestion must not leave a bracket open in front of it.
  if (lineAfter.trim() !== '' && scanBrackets(out).open.length > 0) out = out.slice(0, lastBalancedOf(out));
  if (out.length < suggestion.length) out = out.replace(/[ \t]+$/, '');
  return out.trim() === '' ? '' : out;
}

/** The end of the longest head of `text` with no bracket left open. */
function lastBalancedOf(text: string): number {
  let last = 0;
  scanBrackets(text, (i, depth) => {
    if (depth <= 0) last = i + 1;
    return true;
  });
  return last;
}
