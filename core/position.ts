// Positions checked against their document: an LSP position (0-based line, UTF-16 character)
// outside the text is an error that says how big the document is, never silently moved to its end.
// Kept apart from core/completion.ts so the CLI can check a position without loading the engines.

/** A position outside its document (`hearth route explain FILE:LINE:COL` past the end of the file). */
export class PositionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PositionError';
  }
}

/**
 * Checks an LSP position (0-based line and UTF-16 character) against the document's text; throws a
 * PositionError naming the file, the 1-based position and how many lines (or characters) there are.
 */
export function checkPosition(name: string, text: string, line: number, character: number): void {
  const lines = text.split('\n');
  // A final newline ends the last line; the empty line after it is where the end of the file is.
  const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
  if (line >= lines.length) {
    throw new PositionError(`line ${line + 1} is past the end of ${name}: it has ${count} line${count === 1 ? '' : 's'}`);
  }
  const l = lines[line]!.replace(/\r$/, '');
  if (character > l.length) {
    throw new PositionError(`column ${character + 1} is past the end of line ${line + 1} of ${name}: that line has ${l.length} character${l.length === 1 ? '' : 's'} (the last column is ${l.length + 1})`);
  }
}
