// Copies the built component next to this package and transpiles it with jco.
// The `.wasm` is the one `make wasm` built: the same file the wheel and the Rust host carry.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const built = join(here, '..', 'target', 'wasm32-wasip2', 'release', 'agentcell_component.wasm');
if (!existsSync(built)) {
  console.error(`missing ${built}: run \`make wasm\` first`);
  process.exit(1);
}
copyFileSync(built, join(here, 'agentcell.wasm'));
rmSync(join(here, 'gen'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(here, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js'), 'transpile', 'agentcell.wasm',
    '-o', 'gen', '--instantiation', 'async', '--name', 'agentcell', '--quiet'],
  { cwd: here, stdio: 'inherit' },
);
