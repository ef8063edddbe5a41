// Copies the built components next to this package and transpiles them with jco:
// `gen/` from the shipped component (the very `.wasm` the wheel and the Rust host carry)
// and `gen-test/` from the test build (world agentcell-test: + bench, testing), which
// only the tests load. The repository's plugins (target/plugins, built by `make
// plugins`) go to `gen-plugins/<stem>/`, the directories `Plugin.load` takes.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const target = join(here, '..', 'target');
const builds = [
  { wasm: join(target, 'wasm32-wasip2', 'release', 'agentcell_component.wasm'), copy: 'agentcell.wasm', out: 'gen' },
  { wasm: join(target, 'agentcell-test.wasm'), copy: 'agentcell-test.wasm', out: 'gen-test' },
];
for (const { wasm, copy, out } of builds) {
  if (!existsSync(wasm)) {
    console.error(`missing ${wasm}: run \`make wasm\` first`);
    process.exit(1);
  }
  copyFileSync(wasm, join(here, copy));
  rmSync(join(here, out), { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [join(here, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js'), 'transpile', copy,
      '-o', out, '--instantiation', 'async', '--name', 'agentcell', '--quiet'],
    { cwd: here, stdio: 'inherit' },
  );
}

const plugins = join(target, 'plugins', 'wasm32-wasip2', 'release');
rmSync(join(here, 'gen-plugins'), { recursive: true, force: true });
for (const file of existsSync(plugins) ? readdirSync(plugins).filter((f) => f.endsWith('.wasm')) : []) {
  execFileSync(
    process.execPath,
    [join(here, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js'), 'transpile', join(plugins, file),
      '-o', join('gen-plugins', file.replace(/\.wasm$/, '')), '--instantiation', 'async', '--name', 'plugin', '--quiet'],
    { cwd: here, stdio: 'inherit' },
  );
}
