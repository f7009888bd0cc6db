// Language families for completion context: which files teach the n-gram engine for which buffers,
// and which memory items and snippets may join a completion's context. TypeScript and JavaScript
// are one family (the same syntax and libraries); a C header goes with C and C++.

export type LanguageFamily = string;

const BY_EXTENSION: Record<string, LanguageFamily> = {};
const BY_LANGUAGE_ID: Record<string, LanguageFamily> = {};

function family(name: LanguageFamily, extensions: string[], languageIds: string[] = [name]): void {
  for (const e of extensions) BY_EXTENSION[e] = name;
  for (const id of languageIds) BY_LANGUAGE_ID[id] = name;
}

family('js', ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs'], ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'js', 'ts', 'tsx', 'jsx']);
family('python', ['.py', '.pyi', '.pyw'], ['python']);
family('rust', ['.rs'], ['rust']);
family('go', ['.go'], ['go']);
family('c', ['.c', '.h', '.cc', '.cpp', '.cxx', '.hpp', '.hh', '.hxx', '.ino'], ['c', 'cpp', 'objective-c', 'objective-cpp']);
family('java', ['.java'], ['java']);
family('kotlin', ['.kt', '.kts'], ['kotlin']);
family('scala', ['.scala', '.sc'], ['scala']);
family('csharp', ['.cs'], ['csharp']);
family('swift', ['.swift'], ['swift']);
family('ruby', ['.rb', '.rake', '.gemspec'], ['ruby']);
family('php', ['.php'], ['php']);
family('lua', ['.lua'], ['lua']);
family('shell', ['.sh', '.bash', '.zsh'], ['shellscript', 'sh', 'bash', 'zsh']);
family('elixir', ['.ex', '.exs'], ['elixir']);
family('haskell', ['.hs'], ['haskell']);
family('ocaml', ['.ml', '.mli'], ['ocaml']);
family('zig', ['.zig'], ['zig']);
family('dart', ['.dart'], ['dart']);
family('vim', ['.vim'], ['vim']);
family('sql', ['.sql'], ['sql']);
family('css', ['.css', '.scss', '.less'], ['css', 'scss', 'less']);
family('html', ['.html', '.htm', '.vue', '.svelte'], ['html', 'vue', 'svelte']);
family('json', ['.json', '.jsonc'], ['json', 'jsonc']);
family('yaml', ['.yaml', '.yml'], ['yaml']);
family('toml', ['.toml'], ['toml']);
family('markdown', ['.md', '.markdown', '.mdx', '.rst', '.txt'], ['markdown', 'restructuredtext']);

/** The extension of a path or URI's last segment, lower-cased (`.d.ts` counts as `.ts`). */
function extensionOf(pathOrUri: string): string {
  const clean = pathOrUri.replace(/[?#].*$/, '');
  const base = clean.slice(clean.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

/**
 * The family of a document: from the editor's languageId when it names a known one, else from the
 * file's extension; null when neither says (a memory note, an untitled buffer of plain text).
 */
export function languageFamily(pathOrUri: string | null | undefined, languageId?: string | null): LanguageFamily | null {
  // `plaintext` says only that the client did not know (the CLI opens every file so): the
  // extension decides then.
  if (languageId && languageId.toLowerCase() !== 'plaintext') {
    const byId = BY_LANGUAGE_ID[languageId.toLowerCase()];
    if (byId) return byId;
  }
  if (!pathOrUri) return null;
  return BY_EXTENSION[extensionOf(pathOrUri)] ?? null;
}

/** Whether a file's extension is one the workspace index learns (source and config of a known family). */
export function indexable(pathOrUri: string): boolean {
  return BY_EXTENSION[extensionOf(pathOrUri)] !== undefined;
}

/**
 * Whether context written in `other` may join a completion in `want`: the same family, or either
 * side unknown (then relevance alone decides).
 */
export function sameLanguage(want: LanguageFamily | null, other: LanguageFamily | null): boolean {
  return want === null || other === null || want === other;
}
