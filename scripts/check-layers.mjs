// The house rule of DESIGN.md: only the UI layer imports 'vscode', so the engine, the SSM client
// and the cluster code run in plain Node (tests, CLI). Fails listing every file that breaks it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const allowed = (file) => file === join('src', 'extension.ts') || file.startsWith(join('src', 'ui') + sep);
const importsVscode = /(?:from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\(\s*['"]vscode['"]\s*\))/;

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name)) yield path;
  }
}

const offenders = [...sourceFiles(join(root, 'src'))]
  .map((path) => relative(root, path))
  .filter((file) => !allowed(file) && importsVscode.test(readFileSync(join(root, file), 'utf8')));

if (offenders.length) {
  console.error(`Only src/ui/ and src/extension.ts may import 'vscode'. These do:\n  ${offenders.join('\n  ')}`);
  process.exit(1);
}
console.log("layers: only src/ui/ and src/extension.ts import 'vscode'");
