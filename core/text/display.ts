// Honest prompts (issue 11): the one rule that turns what a prompt would show (argv, paths, URLs,
// hosts, diffs, payloads, names) into a display form that cannot be visually forged, plus a
// warning for every character that was escaped. The daemon applies it; clients (CLI, VS Code,
// Neovim) render `text` and the warnings and never the raw string. Pure functions, no imports of
// editors or transports. The rule is documented in docs/prompts.md.
//
// Two modes:
// - strict (argv, paths, URLs, hosts, names): everything that is not plainly what it looks like is
//   escaped: bidi controls, invisible and control characters (newlines and tabs too), space
//   look-alikes, punctuation look-alikes (U+2212 MINUS SIGN for '-', U+2215 for '/'),
//   compatibility forms (fullwidth, mathematical letters), and letters of other scripts that look
//   like Latin ones when the whole word is made of Latin letters and look-alikes ('ɡit', 'сurl').
// - text (diffs, payloads, the model's rationale): normal text in any language passes; bidi
//   controls, invisible and control characters (except \n, \t and a \r before \n) are always
//   escaped; look-alike letters only inside a word that also has ASCII letters (mixed script).
//   Joiners inside Arabic/Indic words, emoji sequences (ZWJ, variation selectors, flag tags) are
//   legitimate text here and pass.
import { domainToUnicode } from 'node:url';

export type DisplayMode = 'strict' | 'text';
export type WarningKind = 'bidi' | 'invisible' | 'control' | 'space' | 'confusable' | 'idn' | 'url' | 'escape' | 'more';

export interface DisplayWarning {
  /** Where the character is: "argv[0]", "path", "diff line 12", "url host". */
  where: string;
  kind: WarningKind;
  /** "U+202E" (empty for warnings about a whole value, such as an IDN host). */
  code: string;
  /** Unicode name (or a description when the name is not in Hearth's table). */
  name: string;
  /** For look-alikes: the ASCII text it imitates. */
  looksLike?: string;
  /** How many times it occurs there. */
  count: number;
  /** One sentence for the user, e.g. "argv[0] contains U+0261 LATIN SMALL LETTER SCRIPT G, looks like 'g'". */
  message: string;
}

export interface Displayed {
  text: string;
  warnings: DisplayWarning[];
}

/** The visible form of a code point: `\u{202E}` (at least four hex digits, upper case). */
export function escapeCodePoint(cp: number): string {
  return `\\u{${cp.toString(16).toUpperCase().padStart(4, '0')}}`;
}

export function codeLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Tables

const BIDI = new Map<number, string>([
  [0x202A, 'LEFT-TO-RIGHT EMBEDDING'], [0x202B, 'RIGHT-TO-LEFT EMBEDDING'], [0x202C, 'POP DIRECTIONAL FORMATTING'],
  [0x202D, 'LEFT-TO-RIGHT OVERRIDE'], [0x202E, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'], [0x2067, 'RIGHT-TO-LEFT ISOLATE'], [0x2068, 'FIRST STRONG ISOLATE'], [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0x200E, 'LEFT-TO-RIGHT MARK'], [0x200F, 'RIGHT-TO-LEFT MARK'], [0x061C, 'ARABIC LETTER MARK'],
]);

/** Invisible characters that are not all of category Cf (fillers, blanks) plus the named Cf ones. */
const INVISIBLE = new Map<number, string>([
  [0x200B, 'ZERO WIDTH SPACE'], [0x200C, 'ZERO WIDTH NON-JOINER'], [0x200D, 'ZERO WIDTH JOINER'],
  [0x2060, 'WORD JOINER'], [0x2061, 'FUNCTION APPLICATION'], [0x2062, 'INVISIBLE TIMES'], [0x2063, 'INVISIBLE SEPARATOR'], [0x2064, 'INVISIBLE PLUS'],
  [0xFEFF, 'ZERO WIDTH NO-BREAK SPACE (byte order mark)'], [0x00AD, 'SOFT HYPHEN'], [0x034F, 'COMBINING GRAPHEME JOINER'],
  [0x115F, 'HANGUL CHOSEONG FILLER'], [0x1160, 'HANGUL JUNGSEONG FILLER'], [0x3164, 'HANGUL FILLER'], [0xFFA0, 'HALFWIDTH HANGUL FILLER'],
  [0x2800, 'BRAILLE PATTERN BLANK'], [0x180E, 'MONGOLIAN VOWEL SEPARATOR'], [0x17B4, 'KHMER VOWEL INHERENT AQ'], [0x17B5, 'KHMER VOWEL INHERENT AA'],
  [0x2028, 'LINE SEPARATOR'], [0x2029, 'PARAGRAPH SEPARATOR'], [0xFFFC, 'OBJECT REPLACEMENT CHARACTER'],
  [0x206A, 'INHIBIT SYMMETRIC SWAPPING'], [0x206B, 'ACTIVATE SYMMETRIC SWAPPING'], [0x206C, 'INHIBIT ARABIC FORM SHAPING'],
  [0x206D, 'ACTIVATE ARABIC FORM SHAPING'], [0x206E, 'NATIONAL DIGIT SHAPES'], [0x206F, 'NOMINAL DIGIT SHAPES'],
  [0xFFF9, 'INTERLINEAR ANNOTATION ANCHOR'], [0xFFFA, 'INTERLINEAR ANNOTATION SEPARATOR'], [0xFFFB, 'INTERLINEAR ANNOTATION TERMINATOR'],
]);

const C0 = ['NULL', 'START OF HEADING', 'START OF TEXT', 'END OF TEXT', 'END OF TRANSMISSION', 'ENQUIRY', 'ACKNOWLEDGE', 'BELL',
  'BACKSPACE', 'CHARACTER TABULATION', 'LINE FEED', 'LINE TABULATION', 'FORM FEED', 'CARRIAGE RETURN', 'SHIFT OUT', 'SHIFT IN',
  'DATA LINK ESCAPE', 'DEVICE CONTROL ONE', 'DEVICE CONTROL TWO', 'DEVICE CONTROL THREE', 'DEVICE CONTROL FOUR', 'NEGATIVE ACKNOWLEDGE',
  'SYNCHRONOUS IDLE', 'END OF TRANSMISSION BLOCK', 'CANCEL', 'END OF MEDIUM', 'SUBSTITUTE', 'ESCAPE', 'INFORMATION SEPARATOR FOUR',
  'INFORMATION SEPARATOR THREE', 'INFORMATION SEPARATOR TWO', 'INFORMATION SEPARATOR ONE'];

const SPACES = new Map<number, string>([
  [0x00A0, 'NO-BREAK SPACE'], [0x1680, 'OGHAM SPACE MARK'], [0x2000, 'EN QUAD'], [0x2001, 'EM QUAD'], [0x2002, 'EN SPACE'],
  [0x2003, 'EM SPACE'], [0x2004, 'THREE-PER-EM SPACE'], [0x2005, 'FOUR-PER-EM SPACE'], [0x2006, 'SIX-PER-EM SPACE'],
  [0x2007, 'FIGURE SPACE'], [0x2008, 'PUNCTUATION SPACE'], [0x2009, 'THIN SPACE'], [0x200A, 'HAIR SPACE'],
  [0x202F, 'NARROW NO-BREAK SPACE'], [0x205F, 'MEDIUM MATHEMATICAL SPACE'], [0x3000, 'IDEOGRAPHIC SPACE'],
]);

/**
 * Letters that look like Latin ones and that NFKC does not map to ASCII: a subset of Unicode's
 * confusables.txt (UTS #39) for Cyrillic, Greek, IPA/Latin extensions, Armenian, Cherokee and Lisu.
 * [code point, name, looks like].
 */
const LOOKALIKE_LETTERS: ReadonlyArray<[number, string, string]> = [
  // Cyrillic
  [0x0430, 'CYRILLIC SMALL LETTER A', 'a'], [0x0435, 'CYRILLIC SMALL LETTER IE', 'e'], [0x043E, 'CYRILLIC SMALL LETTER O', 'o'],
  [0x0440, 'CYRILLIC SMALL LETTER ER', 'p'], [0x0441, 'CYRILLIC SMALL LETTER ES', 'c'], [0x0443, 'CYRILLIC SMALL LETTER U', 'y'],
  [0x0445, 'CYRILLIC SMALL LETTER HA', 'x'], [0x0455, 'CYRILLIC SMALL LETTER DZE', 's'], [0x0456, 'CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I', 'i'],
  [0x0458, 'CYRILLIC SMALL LETTER JE', 'j'], [0x0501, 'CYRILLIC SMALL LETTER KOMI DE', 'd'], [0x04BB, 'CYRILLIC SMALL LETTER SHHA', 'h'],
  [0x04CF, 'CYRILLIC SMALL LETTER PALOCHKA', 'l'], [0x051B, 'CYRILLIC SMALL LETTER QA', 'q'], [0x051D, 'CYRILLIC SMALL LETTER WE', 'w'],
  [0x0475, 'CYRILLIC SMALL LETTER IZHITSA', 'v'], [0x0491, 'CYRILLIC SMALL LETTER GHE WITH UPTURN', 'r'], [0x0261, 'LATIN SMALL LETTER SCRIPT G', 'g'],
  [0x0410, 'CYRILLIC CAPITAL LETTER A', 'A'], [0x0412, 'CYRILLIC CAPITAL LETTER VE', 'B'], [0x0415, 'CYRILLIC CAPITAL LETTER IE', 'E'],
  [0x041A, 'CYRILLIC CAPITAL LETTER KA', 'K'], [0x041C, 'CYRILLIC CAPITAL LETTER EM', 'M'], [0x041D, 'CYRILLIC CAPITAL LETTER EN', 'H'],
  [0x041E, 'CYRILLIC CAPITAL LETTER O', 'O'], [0x0420, 'CYRILLIC CAPITAL LETTER ER', 'P'], [0x0421, 'CYRILLIC CAPITAL LETTER ES', 'C'],
  [0x0422, 'CYRILLIC CAPITAL LETTER TE', 'T'], [0x0425, 'CYRILLIC CAPITAL LETTER HA', 'X'], [0x0405, 'CYRILLIC CAPITAL LETTER DZE', 'S'],
  [0x0406, 'CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I', 'I'], [0x0408, 'CYRILLIC CAPITAL LETTER JE', 'J'],
  [0x04AE, 'CYRILLIC CAPITAL LETTER STRAIGHT U', 'Y'], [0x04C0, 'CYRILLIC LETTER PALOCHKA', 'I'], [0x051A, 'CYRILLIC CAPITAL LETTER QA', 'Q'],
  [0x051C, 'CYRILLIC CAPITAL LETTER WE', 'W'],
  // Greek
  [0x03B1, 'GREEK SMALL LETTER ALPHA', 'a'], [0x03BF, 'GREEK SMALL LETTER OMICRON', 'o'], [0x03BD, 'GREEK SMALL LETTER NU', 'v'],
  [0x03B9, 'GREEK SMALL LETTER IOTA', 'i'], [0x03BA, 'GREEK SMALL LETTER KAPPA', 'k'], [0x03C1, 'GREEK SMALL LETTER RHO', 'p'],
  [0x03C5, 'GREEK SMALL LETTER UPSILON', 'u'], [0x03C7, 'GREEK SMALL LETTER CHI', 'x'], [0x03B3, 'GREEK SMALL LETTER GAMMA', 'y'],
  [0x03F2, 'GREEK LUNATE SIGMA SYMBOL', 'c'], [0x03F3, 'GREEK LETTER YOT', 'j'],
  [0x0391, 'GREEK CAPITAL LETTER ALPHA', 'A'], [0x0392, 'GREEK CAPITAL LETTER BETA', 'B'], [0x0395, 'GREEK CAPITAL LETTER EPSILON', 'E'],
  [0x0396, 'GREEK CAPITAL LETTER ZETA', 'Z'], [0x0397, 'GREEK CAPITAL LETTER ETA', 'H'], [0x0399, 'GREEK CAPITAL LETTER IOTA', 'I'],
  [0x039A, 'GREEK CAPITAL LETTER KAPPA', 'K'], [0x039C, 'GREEK CAPITAL LETTER MU', 'M'], [0x039D, 'GREEK CAPITAL LETTER NU', 'N'],
  [0x039F, 'GREEK CAPITAL LETTER OMICRON', 'O'], [0x03A1, 'GREEK CAPITAL LETTER RHO', 'P'], [0x03A4, 'GREEK CAPITAL LETTER TAU', 'T'],
  [0x03A5, 'GREEK CAPITAL LETTER UPSILON', 'Y'], [0x03A7, 'GREEK CAPITAL LETTER CHI', 'X'], [0x03F9, 'GREEK CAPITAL LUNATE SIGMA SYMBOL', 'C'],
  // IPA and other Latin letters
  [0x0251, 'LATIN SMALL LETTER ALPHA', 'a'], [0x0131, 'LATIN SMALL LETTER DOTLESS I', 'i'], [0x0269, 'LATIN SMALL LETTER IOTA', 'i'],
  [0x026A, 'LATIN LETTER SMALL CAPITAL I', 'i'], [0x0237, 'LATIN SMALL LETTER DOTLESS J', 'j'], [0x01C0, 'LATIN LETTER DENTAL CLICK', 'l'],
  [0x0262, 'LATIN LETTER SMALL CAPITAL G', 'G'], [0x028F, 'LATIN LETTER SMALL CAPITAL Y', 'y'], [0x1D04, 'LATIN LETTER SMALL CAPITAL C', 'c'],
  [0x1D0F, 'LATIN LETTER SMALL CAPITAL O', 'o'], [0x1D1C, 'LATIN LETTER SMALL CAPITAL U', 'u'], [0x1D20, 'LATIN LETTER SMALL CAPITAL V', 'v'],
  [0x1D21, 'LATIN LETTER SMALL CAPITAL W', 'w'], [0x1D22, 'LATIN LETTER SMALL CAPITAL Z', 'z'], [0x0280, 'LATIN LETTER SMALL CAPITAL R', 'r'],
  [0x0274, 'LATIN LETTER SMALL CAPITAL N', 'n'], [0x0299, 'LATIN LETTER SMALL CAPITAL B', 'b'], [0x029C, 'LATIN LETTER SMALL CAPITAL H', 'h'],
  [0x1D0B, 'LATIN LETTER SMALL CAPITAL K', 'k'], [0x1D0D, 'LATIN LETTER SMALL CAPITAL M', 'm'], [0x1D18, 'LATIN LETTER SMALL CAPITAL P', 'p'],
  [0x1D1B, 'LATIN LETTER SMALL CAPITAL T', 't'], [0xA731, 'LATIN LETTER SMALL CAPITAL S', 's'],
  [0x0252, 'LATIN SMALL LETTER TURNED ALPHA', 'a'], [0x0258, 'LATIN SMALL LETTER REVERSED E', 'e'], [0x0250, 'LATIN SMALL LETTER TURNED A', 'a'],
  // Armenian, Cherokee, Lisu
  [0x0585, 'ARMENIAN SMALL LETTER OH', 'o'], [0x0578, 'ARMENIAN SMALL LETTER VO', 'n'], [0x057D, 'ARMENIAN SMALL LETTER SEH', 'u'],
  [0x0570, 'ARMENIAN SMALL LETTER HO', 'h'], [0x0563, 'ARMENIAN SMALL LETTER GIM', 'q'],
  [0x13A0, 'CHEROKEE LETTER A', 'D'], [0x13AA, 'CHEROKEE LETTER GO', 'A'], [0x13A1, 'CHEROKEE LETTER E', 'R'], [0x13B3, 'CHEROKEE LETTER LA', 'W'],
  [0x13C3, 'CHEROKEE LETTER NAH', 'Z'], [0x13D2, 'CHEROKEE LETTER SV', 'R'], [0x13DA, 'CHEROKEE LETTER TLV', 'S'], [0x13E2, 'CHEROKEE LETTER TLI', 'P'],
  [0xA4D0, 'LISU LETTER BA', 'B'], [0xA4D1, 'LISU LETTER PA', 'P'], [0xA4D3, 'LISU LETTER DA', 'D'], [0xA4D4, 'LISU LETTER TA', 'T'],
  [0xA4D6, 'LISU LETTER GA', 'G'], [0xA4D7, 'LISU LETTER KA', 'K'], [0xA4D9, 'LISU LETTER JA', 'J'], [0xA4DA, 'LISU LETTER CA', 'C'],
  [0xA4DF, 'LISU LETTER MA', 'M'], [0xA4E0, 'LISU LETTER NA', 'N'], [0xA4E2, 'LISU LETTER SA', 'S'], [0xA4E3, 'LISU LETTER ZA', 'Z'],
  [0xA4F2, 'LISU LETTER I', 'I'], [0xA4F3, 'LISU LETTER O', 'O'], [0xA4EA, 'LISU LETTER WA', 'W'], [0xA4EB, 'LISU LETTER SHA', 'V'],
  [0xA4EC, 'LISU LETTER YA', 'Y'], [0xA4ED, 'LISU LETTER GHA', 'X'], [0xA4F0, 'LISU LETTER E', 'E'], [0xA4E6, 'LISU LETTER HA', 'H'],
  [0xA4E1, 'LISU LETTER LA', 'L'], [0xA4E7, 'LISU LETTER XA', 'R'], [0xA4E9, 'LISU LETTER FA', 'F'], [0xA4F6, 'LISU LETTER UH', 'U'],
];
const LETTER = new Map<number, { name: string; looksLike: string }>(LOOKALIKE_LETTERS.map(([cp, name, looksLike]) => [cp, { name, looksLike }]));
/**
 * Letters of real Latin-script orthographies that are look-alikes only in a command or a path:
 * Turkish/Azeri dotless i ('kapı'), the ordinal indicators of 'nº' and '1ª'. Not flagged in text.
 */
const TEXT_ORTHOGRAPHY = new Set([0x0131, 0x00AA, 0x00BA]);

/** Punctuation that passes for ASCII punctuation in a command line or a path (strict mode). */
const LOOKALIKE_PUNCT = new Map<number, { name: string; looksLike: string }>(([
  [0x2010, 'HYPHEN', '-'], [0x2011, 'NON-BREAKING HYPHEN', '-'], [0x2012, 'FIGURE DASH', '-'], [0x2013, 'EN DASH', '-'],
  [0x2014, 'EM DASH', '-'], [0x2015, 'HORIZONTAL BAR', '-'], [0x2212, 'MINUS SIGN', '-'], [0x02D7, 'MODIFIER LETTER MINUS SIGN', '-'],
  [0x2044, 'FRACTION SLASH', '/'], [0x2215, 'DIVISION SLASH', '/'], [0x29F8, 'BIG SOLIDUS', '/'], [0x2571, 'BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT', '/'],
  [0x2216, 'SET MINUS', '\\'], [0x29F5, 'REVERSE SOLIDUS OPERATOR', '\\'], [0x29F9, 'BIG REVERSE SOLIDUS', '\\'],
  [0x2024, 'ONE DOT LEADER', '.'], [0x0589, 'ARMENIAN FULL STOP', ':'], [0x05C3, 'HEBREW PUNCTUATION SOF PASUQ', ':'], [0x2236, 'RATIO', ':'],
  [0xA789, 'MODIFIER LETTER COLON', ':'], [0x02D0, 'MODIFIER LETTER TRIANGULAR COLON', ':'], [0x0703, 'SYRIAC SUPRALINEAR COLON', ':'],
  [0x2018, 'LEFT SINGLE QUOTATION MARK', "'"], [0x2019, 'RIGHT SINGLE QUOTATION MARK', "'"], [0x201B, 'SINGLE HIGH-REVERSED-9 QUOTATION MARK', "'"],
  [0x2032, 'PRIME', "'"], [0x02BC, 'MODIFIER LETTER APOSTROPHE', "'"], [0x02B9, 'MODIFIER LETTER PRIME', "'"],
  [0x201C, 'LEFT DOUBLE QUOTATION MARK', '"'], [0x201D, 'RIGHT DOUBLE QUOTATION MARK', '"'], [0x2033, 'DOUBLE PRIME', '"'],
  [0x2039, 'SINGLE LEFT-POINTING ANGLE QUOTATION MARK', '<'], [0x203A, 'SINGLE RIGHT-POINTING ANGLE QUOTATION MARK', '>'],
  [0x02C2, 'MODIFIER LETTER LEFT ARROWHEAD', '<'], [0x02C3, 'MODIFIER LETTER RIGHT ARROWHEAD', '>'], [0x2223, 'DIVIDES', '|'],
  [0x01C3, 'LATIN LETTER RETROFLEX CLICK', '!'], [0x0387, 'GREEK ANO TELEIA', '.'], [0x00B7, 'MIDDLE DOT', '.'], [0x2027, 'HYPHENATION POINT', '.'],
  [0x0338, 'COMBINING LONG SOLIDUS OVERLAY', '/'],
] as Array<[number, string, string]>).map(([cp, name, looksLike]) => [cp, { name, looksLike }]));

const FULLWIDTH_NAMES: Record<string, string> = { '!': 'EXCLAMATION MARK', '"': 'QUOTATION MARK', '#': 'NUMBER SIGN', '$': 'DOLLAR SIGN',
  '%': 'PERCENT SIGN', '&': 'AMPERSAND', "'": 'APOSTROPHE', '(': 'LEFT PARENTHESIS', ')': 'RIGHT PARENTHESIS', '*': 'ASTERISK', '+': 'PLUS SIGN',
  ',': 'COMMA', '-': 'HYPHEN-MINUS', '.': 'FULL STOP', '/': 'SOLIDUS', ':': 'COLON', ';': 'SEMICOLON', '<': 'LESS-THAN SIGN', '=': 'EQUALS SIGN',
  '>': 'GREATER-THAN SIGN', '?': 'QUESTION MARK', '@': 'COMMERCIAL AT', '[': 'LEFT SQUARE BRACKET', '\\': 'REVERSE SOLIDUS', ']': 'RIGHT SQUARE BRACKET',
  '^': 'CIRCUMFLEX ACCENT', _: 'LOW LINE', '`': 'GRAVE ACCENT', '{': 'LEFT CURLY BRACKET', '|': 'VERTICAL LINE', '}': 'RIGHT CURLY BRACKET', '~': 'TILDE' };
const DIGITS = ['ZERO', 'ONE', 'TWO', 'THREE', 'FOUR', 'FIVE', 'SIX', 'SEVEN', 'EIGHT', 'NINE'];

/** A name for a compatibility form whose NFKC form is ASCII (fullwidth forms get their real name). */
function compatName(cp: number, ascii: string): string {
  if (cp >= 0xFF01 && cp <= 0xFF5E) {
    if (/[A-Z]/.test(ascii)) return `FULLWIDTH LATIN CAPITAL LETTER ${ascii}`;
    if (/[a-z]/.test(ascii)) return `FULLWIDTH LATIN SMALL LETTER ${ascii.toUpperCase()}`;
    if (/[0-9]/.test(ascii)) return `FULLWIDTH DIGIT ${DIGITS[Number(ascii)]}`;
    return `FULLWIDTH ${FULLWIDTH_NAMES[ascii] ?? 'FORM'}`;
  }
  if (cp === 0x037E) return 'GREEK QUESTION MARK';
  if (cp >= 0x1D400 && cp <= 0x1D7FF) return 'a MATHEMATICAL ALPHANUMERIC SYMBOL';
  if (cp >= 0x2460 && cp <= 0x24FF) return 'an ENCLOSED ALPHANUMERIC';
  if (cp >= 0xFB00 && cp <= 0xFB06) return 'a LATIN LIGATURE';
  return 'a compatibility form';
}

const RE_CF = /^\p{Cf}$/u;
const RE_CC = /^\p{Cc}$/u;
const RE_CN = /^\p{Cn}$/u;
const RE_CO = /^\p{Co}$/u;
const RE_CS = /^\p{Cs}$/u;
const RE_WORD = /^[\p{L}\p{M}\p{N}]$/u;
const RE_LETTER_TEXT = /^[\p{Lu}\p{Ll}\p{Lo}\p{Nd}]$/u;
const RE_LETTER = /^\p{L}$/u;
const RE_ASCII_LETTER = /^[A-Za-z]$/;
const RE_PICTO = /^[\p{Extended_Pictographic}\p{Emoji_Modifier}\u{FE0F}\u{20E3}]$/u;
const RE_EMOJI = /^\p{Emoji}$/u;
/** Scripts in which ZWJ/ZWNJ are part of correct spelling (Persian, Hindi, Sinhala, ...). */
const JOINING_SCRIPTS = [/\p{Script=Arabic}/u, /\p{Script=Syriac}/u, /\p{Script=Nko}/u, /\p{Script=Mongolian}/u, /\p{Script=Devanagari}/u,
  /\p{Script=Bengali}/u, /\p{Script=Gurmukhi}/u, /\p{Script=Gujarati}/u, /\p{Script=Oriya}/u, /\p{Script=Tamil}/u, /\p{Script=Telugu}/u,
  /\p{Script=Kannada}/u, /\p{Script=Malayalam}/u, /\p{Script=Sinhala}/u, /\p{Script=Myanmar}/u, /\p{Script=Khmer}/u, /\p{Script=Tibetan}/u];
const RE_MARK = /^\p{M}$/u;

interface Finding { kind: WarningKind; name: string; looksLike?: string; what: string }

function invisibleName(cp: number): string | undefined {
  const n = INVISIBLE.get(cp);
  if (n) return n;
  if (cp >= 0xFE00 && cp <= 0xFE0F) return `VARIATION SELECTOR-${cp - 0xFE00 + 1}`;
  if (cp >= 0xE0100 && cp <= 0xE01EF) return `VARIATION SELECTOR-${cp - 0xE0100 + 17}`;
  if (cp >= 0x180B && cp <= 0x180D) return `MONGOLIAN FREE VARIATION SELECTOR ${cp - 0x180B + 1}`;
  if (cp === 0x180F) return 'MONGOLIAN FREE VARIATION SELECTOR FOUR';
  if (cp === 0xE0001) return 'LANGUAGE TAG';
  if (cp === 0xE007F) return 'CANCEL TAG';
  if (cp >= 0xE0020 && cp <= 0xE007E) return `TAG ${cp === 0xE0020 ? 'SPACE' : `'${String.fromCodePoint(cp - 0xE0000)}'`}`;
  if (cp >= 0xE0000 && cp <= 0xE007F) return 'a TAG character';
  return undefined;
}

/** What is wrong with one character regardless of the word it is in (null: nothing). */
function classifyChar(ch: string, cp: number, mode: DisplayMode): Finding | null {
  const bidi = BIDI.get(cp);
  if (bidi) return { kind: 'bidi', name: bidi, what: 'a bidi control that reorders how the text around it is shown' };
  const inv = invisibleName(cp);
  if (inv) return { kind: 'invisible', name: inv, what: cp >= 0xE0000 && cp <= 0xE007F ? 'an invisible tag character (it can smuggle hidden text)' : 'an invisible character' };
  if (RE_CC.test(ch)) {
    if (mode === 'text' && (cp === 0x0A || cp === 0x09)) return null;
    const name = cp < 0x20 ? C0[cp]! : cp === 0x7F ? 'DELETE' : 'a C1 control character';
    return { kind: 'control', name, what: cp === 0x1B ? 'a control character (terminal escape sequences can rewrite what the screen shows)' : 'a control character' };
  }
  if (RE_CF.test(ch)) return { kind: 'invisible', name: 'a format character', what: 'an invisible format character' };
  if (RE_CS.test(ch)) return { kind: 'invisible', name: 'a lone surrogate', what: 'not a character (a lone UTF-16 surrogate)' };
  if (RE_CN.test(ch)) return { kind: 'invisible', name: 'an unassigned code point', what: 'an unassigned code point (fonts may show it as anything)' };
  if (mode === 'strict') {
    if (RE_CO.test(ch)) return { kind: 'invisible', name: 'a private-use character', what: 'a private-use character (fonts may show it as anything)' };
    const sp = SPACES.get(cp);
    if (sp) return { kind: 'space', name: sp, looksLike: ' ', what: "looks like a space but is not one" };
    const p = LOOKALIKE_PUNCT.get(cp);
    if (p) return { kind: 'confusable', name: p.name, looksLike: p.looksLike, what: `looks like '${p.looksLike}'` };
    if (cp > 0x7F && !RE_LETTER.test(ch)) {
      const k = ch.normalize('NFKC');
      if (k !== ch && /^[\x21-\x7E]{1,3}$/.test(k)) return { kind: 'confusable', name: compatName(cp, k), looksLike: k, what: `looks like '${k}'` };
    }
  }
  return null;
}

/** A look-alike letter: from the table, or a letter/digit whose compatibility (NFKC) form is ASCII. */
function lookalikeLetter(ch: string, cp: number, mode: DisplayMode): { name: string; looksLike: string } | null {
  if (mode === 'text' && TEXT_ORTHOGRAPHY.has(cp)) return null;
  const t = LETTER.get(cp);
  if (t) return t;
  if (cp <= 0x7F) return null;
  if (mode === 'text' ? !RE_LETTER_TEXT.test(ch) : !RE_WORD.test(ch)) return null;
  const k = ch.normalize('NFKC');
  if (k !== ch && /^[A-Za-z0-9]{1,3}$/.test(k)) return { name: compatName(cp, k), looksLike: k };
  return null;
}

/** Text-mode exceptions: joiners inside Arabic/Indic words and emoji sequences, flag tag sequences. */
function legitimateInText(cps: number[], chars: string[], i: number, tagOk: Set<number>): boolean {
  const cp = cps[i]!;
  if (tagOk.has(i)) return true;
  const prev = chars[i - 1];
  const next = chars[i + 1];
  if (cp === 0x200C || cp === 0x200D) {
    if (prev && next && JOINING_SCRIPTS.some((re) => re.test(prev) && re.test(next))) return true;
    if (cp === 0x200D && prev && next && RE_PICTO.test(prev) && RE_PICTO.test(next)) return true;
    // ZWNJ/ZWJ after a combining mark of a joining script (e.g. a virama), before a letter of it.
    if (prev && next && RE_MARK.test(prev) && JOINING_SCRIPTS.some((re) => re.test(next) && re.test(chars[i - 2] ?? ''))) return true;
  }
  if ((cp === 0xFE0E || cp === 0xFE0F) && prev && RE_EMOJI.test(prev)) return true;
  return false;
}

/** Indexes of tag characters that form an emoji subdivision flag (U+1F3F4 + tags + CANCEL TAG). */
function flagTags(cps: number[]): Set<number> {
  const ok = new Set<number>();
  for (let i = 0; i < cps.length; i++) {
    if (cps[i] !== 0x1F3F4) continue;
    let j = i + 1;
    while (j < cps.length && j - i <= 7 && ((cps[j]! >= 0xE0061 && cps[j]! <= 0xE007A) || (cps[j]! >= 0xE0030 && cps[j]! <= 0xE0039))) j++;
    if (j > i + 2 && cps[j] === 0xE007F) for (let k = i + 1; k <= j; k++) ok.add(k);
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Warnings collector

/** Collects the warnings of one prompt (deduplicated per place and character, capped). */
export class WarningSet {
  private readonly byKey = new Map<string, DisplayWarning>();
  constructor(private readonly cap = 64) {}

  add(where: string, kind: WarningKind, code: string, name: string, what: string, looksLike?: string, context?: string): void {
    const key = `${where}\u0000${kind}\u0000${code}`;
    const w = this.byKey.get(key);
    if (w) {
      w.count++;
      return;
    }
    const message = code ? `${where} contains ${code} ${name}, ${what}${context ? ` (in "${context}")` : ''}` : `${where}: ${what}`;
    this.byKey.set(key, { where, kind, code, name, ...(looksLike !== undefined ? { looksLike } : {}), count: 1, message });
  }

  merge(ws: readonly DisplayWarning[]): void {
    for (const w of ws) {
      const key = `${w.where}\u0000${w.kind}\u0000${w.code}`;
      const had = this.byKey.get(key);
      if (had) had.count += w.count;
      else this.byKey.set(key, { ...w });
    }
  }

  list(): DisplayWarning[] {
    const all = [...this.byKey.values()].map((w) => (w.count > 1 && w.code ? { ...w, message: `${w.message} (${w.count} times)` } : w));
    if (all.length <= this.cap) return all;
    const shown = all.slice(0, this.cap - 1);
    const rest = all.length - shown.length;
    shown.push({ where: 'prompt', kind: 'more', code: '', name: '', count: rest, message: `${rest} more warnings of the same kinds; every such character is shown escaped` });
    return shown;
  }
}

// ---------------------------------------------------------------------------------------------
// The rule

/**
 * The display form of one string: every flagged character becomes `\u{XXXX}` and gets a warning
 * naming it and where it is. In 'text' mode the string may span lines; warnings then say
 * "<where> line N" when `lines` is set.
 */
export function displayString(s: string, where: string, mode: DisplayMode, opts: { lines?: boolean; warnings?: WarningSet } = {}): Displayed {
  const set = opts.warnings ?? new WarningSet();
  // Fast path: printable ASCII (plus \t and \n in text) with no literal "\u{" needs nothing.
  if ((mode === 'strict' ? /^[\x20-\x7E]*$/ : /^[\x20-\x7E\t\n]*$/).test(s) && !s.includes('\\u{')) return { text: s, warnings: opts.warnings ? [] : set.list() };
  const chars = [...s];
  const cps = chars.map((c) => c.codePointAt(0)!);
  const tagOk = mode === 'text' ? flagTags(cps) : new Set<number>();
  const flagged = new Map<number, Finding>();
  for (let i = 0; i < chars.length; i++) {
    const cp = cps[i]!;
    if (cp >= 0x20 && cp < 0x7F) continue;
    if (mode === 'text' && cp === 0x0D && cps[i + 1] === 0x0A) continue;
    const f = classifyChar(chars[i]!, cp, mode);
    if (!f) continue;
    if (mode === 'text' && (f.kind === 'invisible') && legitimateInText(cps, chars, i, tagOk)) continue;
    flagged.set(i, f);
  }
  // Look-alike letters, decided per word (a maximal run of letters, marks and digits).
  const wordOf = new Map<number, [number, number]>();
  for (let i = 0; i < chars.length;) {
    if (!RE_WORD.test(chars[i]!) && !LETTER.has(cps[i]!)) { i++; continue; }
    let j = i;
    while (j < chars.length && (RE_WORD.test(chars[j]!) || LETTER.has(cps[j]!))) j++;
    let ascii = false;
    let foreign = false; // a letter that is neither ASCII nor a look-alike: a word of another language
    const alike: Array<[number, { name: string; looksLike: string }]> = [];
    for (let k = i; k < j; k++) {
      if (RE_ASCII_LETTER.test(chars[k]!)) { ascii = true; continue; }
      const l = lookalikeLetter(chars[k]!, cps[k]!, mode);
      if (l) alike.push([k, l]);
      else if (RE_LETTER.test(chars[k]!)) foreign = true;
    }
    const suspicious = alike.length > 0 && (ascii || (mode === 'strict' && !foreign));
    if (suspicious) {
      for (const [k, l] of alike) {
        if (flagged.has(k)) continue;
        flagged.set(k, { kind: 'confusable', name: l.name, looksLike: l.looksLike, what: `looks like '${l.looksLike}'` });
        wordOf.set(k, [i, j]);
      }
    }
    i = j;
  }
  // A literal "\u{" would pass for an escape Hearth made: its backslash is escaped too.
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\' && chars[i + 1] === 'u' && chars[i + 2] === '{') {
      flagged.set(i, { kind: 'escape', name: 'REVERSE SOLIDUS', what: 'a backslash written before "u{", shown escaped so that it cannot pass for a character Hearth escaped' });
    }
  }
  if (!flagged.size) return { text: s, warnings: opts.warnings ? [] : set.list() };

  const out: string[] = [];
  let line = 1;
  for (let i = 0; i < chars.length; i++) {
    const f = flagged.get(i);
    if (!f) {
      out.push(chars[i]!);
      if (cps[i] === 0x0A) line++;
      continue;
    }
    out.push(escapeCodePoint(cps[i]!));
    const at = opts.lines ? `${where} line ${line}` : where;
    const w = wordOf.get(i);
    const context = w ? chars.slice(w[0], w[1]).map((c, k) => (flagged.has(w[0] + k) ? escapeCodePoint(cps[w[0] + k]!) : c)).join('') : undefined;
    set.add(at, f.kind, codeLabel(cps[i]!), f.name, f.what, f.looksLike, context);
  }
  return { text: out.join(''), warnings: opts.warnings ? [] : set.list() };
}

/**
 * A host for display: internationalized names are shown as their ASCII (punycode, xn--) form,
 * with a warning saying how they would read decoded.
 */
export function displayHost(host: string, where: string, set = new WarningSet()): Displayed {
  const d = displayString(host, where, 'strict', { warnings: set });
  if (/(^|\.)xn--/i.test(host)) {
    const bare = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const uni = domainToUnicode(bare);
    const shown = uni ? displayString(uni, where, 'strict').text : '';
    set.add(where, 'idn', '', '', `${bare} is an internationalized domain name (IDN); Hearth shows its ASCII form${shown && shown !== bare ? `. Decoded it reads "${shown}": check that this is the host you expect` : ''}`);
  }
  return { text: d.text, warnings: set.list() };
}

/**
 * A URL for display: parsed (so the host is in its ASCII, xn-- form, and the path is
 * percent-encoded as it will be sent); user info before '@' is flagged, because
 * `https://trusted.example@evil.example/` goes to evil.example.
 */
export function displayUrl(url: string, where: string, set = new WarningSet()): Displayed {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const d = displayString(url, where, 'strict', { warnings: set });
    return { text: d.text, warnings: set.list() };
  }
  const href = u.href;
  const d = displayString(href, where, 'strict', { warnings: set });
  if (u.username || u.password) {
    set.add(where, 'url', '', '', `the part before '@' ("${displayString(decodeURIComponent(u.username), where, 'strict').text}${u.password ? ':…' : ''}") is user info, not the host; this URL goes to ${u.host}`);
  }
  if (u.hostname) displayHost(u.hostname, `${where} host`, set);
  return { text: d.text, warnings: set.list() };
}

/** A unified diff (or any multi-line text) for display: 'text' mode, warnings per line. */
export function displayText(text: string, where: string, set = new WarningSet()): Displayed {
  const d = displayString(text, where, 'text', { lines: true, warnings: set });
  return { text: d.text, warnings: set.list() };
}

// ---------------------------------------------------------------------------------------------
// The two prompts the daemon sends

export interface ApprovalDisplayInput {
  tool: string;
  args?: unknown;
  argv?: readonly string[];
  cwd?: string;
  diff?: string;
  path?: string;
  url?: string;
  host?: string;
  text?: string;
  proposer: { model: string; provider: string };
  requester: { name: string; kind: string };
  workspaceRoot: string;
  reason: string;
  rationale: string | null;
  /** shell.run: what the command may write (and which protected entries, by an explicit grant). */
  sandbox?: { writable: readonly string[]; network: boolean; env: readonly string[]; protected?: readonly string[] } | null;
}

/** What `hearth/tool/approve` carries as `display`: every shown field escaped, and the warnings. */
export interface ApprovalDisplay {
  tool: string;
  argv?: string[];
  cwd?: string;
  diff?: string;
  path?: string;
  url?: string;
  host?: string;
  text?: string;
  /** The arguments as indented JSON (shown when there is no argv and no diff). */
  args?: string;
  proposer: { model: string; provider: string };
  requester: { name: string; kind: string };
  workspaceRoot: string;
  reason: string;
  rationale: string | null;
  sandbox?: { writable: string[]; network: boolean; env: string[]; protected: string[] };
  warnings: DisplayWarning[];
  /**
   * The prompt as text, the one rendering the CLI and Neovim show (VS Code lays the same fields out
   * in its panel): the title, then `warned` warning lines, then the rest.
   */
  lines: string[];
  warned: number;
}

/** The warning lines every prompt shows above its fields. */
export function warningLines(warnings: readonly DisplayWarning[]): string[] {
  if (!warnings.length) return [];
  return [
    `!! WARNING: ${warnings.length} thing${warnings.length === 1 ? '' : 's'} in this request can disguise what it does; Hearth shows such characters escaped as \\u{XXXX}:`,
    ...warnings.map((w) => `!!   ${w.message}`),
  ];
}

/** An argv element as a POSIX shell would need it (already escaped for display: no control characters left). */
function shellWord(a: string): string {
  return /^[\w.\/:=@,+%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The approval prompt as text (see ApprovalDisplay.lines). */
export function approvalLines(d: Omit<ApprovalDisplay, 'lines' | 'warned'>): { lines: string[]; warned: number } {
  const warned = warningLines(d.warnings);
  const lines = [`Hearth: approve ${d.tool}?`, ...warned,
    `  proposed by  ${d.proposer.model} (${d.proposer.provider})`,
    `  requested by ${d.requester.name} (${d.requester.kind})`,
    `  workspace    ${d.workspaceRoot}`,
    `  reason       ${d.reason.replace(/\n/g, ' ')}`,
  ];
  if (d.rationale) lines.push(`  rationale    ${d.rationale.replace(/\n/g, ' ')}`);
  if (d.sandbox) {
    const s = d.sandbox;
    lines.push(`  sandbox      writes ${s.writable.length ? s.writable.join(', ') : 'nothing'}; network ${s.network ? 'allowed' : 'none'}; env ${s.env.length ? s.env.join(', ') : 'none'}`);
    if (s.protected.length) lines.push(`  !! may write protected entries (run or trusted outside the sandbox): ${s.protected.join(', ')}`);
  }
  if (d.argv) {
    lines.push(`  cwd          ${d.cwd ?? ''}`, `  argv         [${d.argv.map((a) => `"${a.replace(/"/g, '\\"')}"`).join(', ')}]`, '', `$ ${d.argv.map(shellWord).join(' ')}`);
  }
  if (d.url !== undefined) lines.push(`  url          ${d.url}`);
  if (d.path !== undefined) lines.push(`  path         ${d.path}`);
  if (d.diff) lines.push('', ...d.diff.replace(/\n$/, '').split('\n'));
  else if (!d.argv) lines.push('', ...(d.text ?? d.args ?? '').split('\n'));
  return { lines, warned: warned.length };
}

export function approvalDisplay(r: ApprovalDisplayInput): ApprovalDisplay {
  const set = new WarningSet();
  const strict = (s: string, where: string): string => displayString(s, where, 'strict', { warnings: set }).text;
  const text = (s: string, where: string): string => displayString(s, where, 'text', { lines: true, warnings: set }).text;
  const d: Omit<ApprovalDisplay, 'lines' | 'warned'> = {
    tool: strict(r.tool, 'tool'),
    proposer: { model: strict(r.proposer.model, 'proposing model'), provider: strict(r.proposer.provider, 'proposing provider') },
    requester: { name: strict(r.requester.name, 'requester name'), kind: strict(r.requester.kind, 'requester kind') },
    workspaceRoot: strict(r.workspaceRoot, 'workspace'),
    reason: text(r.reason, 'reason'),
    rationale: r.rationale === null ? null : text(r.rationale, 'rationale'),
    warnings: [],
  };
  if (r.argv) d.argv = r.argv.map((a, i) => strict(a, `argv[${i}]`));
  if (r.cwd !== undefined) d.cwd = strict(r.cwd, 'cwd');
  if (r.path !== undefined) d.path = strict(r.path, 'path');
  if (r.url !== undefined) d.url = displayUrl(r.url, 'url', set).text;
  if (r.host !== undefined) d.host = displayHost(r.host, 'host', set).text;
  if (r.diff !== undefined) d.diff = text(r.diff, 'diff');
  if (r.text !== undefined) d.text = text(r.text, 'text');
  if (r.sandbox) {
    d.sandbox = {
      writable: r.sandbox.writable.map((w, i) => strict(w, `sandbox writable[${i}]`)),
      network: r.sandbox.network,
      env: r.sandbox.env.map((e, i) => strict(e, `sandbox env[${i}]`)),
      protected: (r.sandbox.protected ?? []).map((w, i) => strict(w, `sandbox protected[${i}]`)),
    };
  }
  if (!r.argv && r.diff === undefined && r.args !== undefined) {
    // JSON escapes control characters but leaves bidi and invisible ones raw: the rule sees them.
    d.args = text(JSON.stringify(r.args, null, 2) ?? 'null', 'args');
  }
  d.warnings = set.list();
  const { lines, warned } = approvalLines(d);
  return { ...d, lines, warned };
}

export interface EgressDisplayInput {
  feature: string;
  provider: string;
  host: string;
  url?: string;
  reason: string;
  rule?: string;
  payload: string;
}

/** What `hearth/egress/confirm` carries as `display`. */
export interface EgressDisplay {
  feature: string;
  provider: string;
  host: string;
  url?: string;
  reason: string;
  rule?: string;
  payload: string;
  warnings: DisplayWarning[];
}

export function egressDisplay(r: EgressDisplayInput): EgressDisplay {
  const set = new WarningSet();
  const strict = (s: string, where: string): string => displayString(s, where, 'strict', { warnings: set }).text;
  const d: EgressDisplay = {
    feature: strict(r.feature, 'feature'),
    provider: strict(r.provider, 'provider'),
    host: displayHost(r.host, 'host', set).text,
    reason: displayString(r.reason, 'reason', 'text', { lines: true, warnings: set }).text,
    payload: displayString(r.payload, 'payload', 'text', { lines: true, warnings: set }).text,
    warnings: [],
  };
  if (r.url !== undefined) d.url = displayUrl(r.url, 'url', set).text;
  if (r.rule !== undefined) d.rule = displayString(r.rule, 'rule', 'text', { warnings: set }).text;
  d.warnings = set.list();
  return d;
}
