// Which memory items may join a completion's context: those of the document's language family (an
// item's family comes from the file it was taken from, else from what its text looks like) and
// relevant to what is being written (it shares an identifier with the lines before the cursor).
import { languageFamily, sameLanguage, type LanguageFamily } from './language.js';

const WORD = /[A-Za-z_$][\w$]{2,}/g;

// Marks that tell the two most common families apart in a snippet without a file.
const PYTHON_MARKS = [/^\s*def \w+\(.*\)\s*(->.*)?:\s*$/m, /^\s*class \w+(\(.*\))?:\s*$/m, /^\s*(el)?if .*:\s*$/m, /\bself\.\w/, /^\s*from [\w.]+ import /m, /\bNone\b|\bTrue\b|\bFalse\b/];
const JS_MARKS = [/=>/, /\b(const|let|var) \w+\s*[=:]/, /\bfunction\s*\w*\s*\(/, /\binterface \w+\s*\{/, /;\s*$/m, /\bexport (default |const |function |class |interface |type )/, /:\s*(string|number|boolean)\b/];

/** A guess at a snippet's family from its text: 'python', 'js', or null when the marks do not agree. */
export function guessLanguage(text: string): LanguageFamily | null {
  const py = PYTHON_MARKS.filter((r) => r.test(text)).length;
  const js = JS_MARKS.filter((r) => r.test(text)).length;
  if (py >= 2 && py > js * 2) return 'python';
  if (js >= 2 && js > py * 2) return 'js';
  return null;
}

/** The family of a memory item: its file's, else a guess from its text. */
export function memoryLanguage(item: { text: string; fileUri?: string | null }): LanguageFamily | null {
  return languageFamily(item.fileUri ?? null) ?? guessLanguage(item.text);
}

/** Keywords every snippet of a language shares: they say nothing about relevance. */
const KEYWORDS = new Set([
  'const', 'let', 'var', 'function', 'return', 'export', 'import', 'from', 'default', 'class', 'extends', 'new', 'this',
  'async', 'await', 'type', 'interface', 'null', 'undefined', 'true', 'false', 'for',
  'while', 'else', 'switch', 'case', 'break', 'continue', 'try', 'catch', 'throw', 'def', 'self', 'None', 'True',
  'False', 'elif', 'pass', 'lambda', 'with', 'and', 'not', 'yield', 'void', 'public', 'private', 'static',
]);

/** Identifiers (3+ characters, not keywords) the two texts share. */
function sharesWord(a: string, b: string): boolean {
  const want = new Set((a.match(WORD) ?? []).filter((w) => !KEYWORDS.has(w)));
  if (want.size === 0) return false;
  for (const w of b.match(WORD) ?? []) if (want.has(w)) return true;
  return false;
}

/** Whether a memory item belongs in the context of a completion in `language` after `query`. */
export function memoryFits(query: string, language: LanguageFamily | null, item: { text: string; fileUri?: string | null }): boolean {
  if (!sameLanguage(language, memoryLanguage(item))) return false;
  return sharesWord(query, item.text);
}
