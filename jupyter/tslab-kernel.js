#!/usr/bin/env node
/*
 * Project-local tslab kernel launcher (used by jupyter/kernels/tslab-bnn/kernel.json).
 *
 * tslab compiles every cell with rootDir = process.cwd() and ignores tsconfig.json, so a kernel
 * started in notebooks/ could not import ../src. This wrapper chdirs to the project root (the parent
 * of this file's folder) and then starts the project's own tslab (node_modules/tslab) in-process, so
 * notebooks import project code as `./src/...` wherever the notebook file lives.
 *
 * Usage (by Jupyter): node jupyter/tslab-kernel.js --config-path <connection_file>
 */
'use strict';
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..');
const main = path.join(root, 'node_modules', 'tslab', 'dist', 'main.js');
if (!fs.existsSync(main)) {
  console.error(`tslab-bnn kernel: ${main} not found. Run \`npm install\` in ${root} first.`);
  process.exit(1);
}
const args = process.argv.slice(2);
let configPath = '';
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--config-path') configPath = args[++i] || '';
  else if (args[i].startsWith('--config-path=')) configPath = args[i].slice('--config-path='.length);
  else if (!configPath && !args[i].startsWith('-')) configPath = args[i];
}
if (!configPath) {
  console.error('tslab-bnn kernel: missing --config-path <connection_file>');
  process.exit(2);
}
process.chdir(root);

/*
 * tslab resolves a relative import of compiled project code as <dir>/<request>.js only, so a directory
 * import (`./src/figures`, or `../layers` inside src/) fails with "Cannot find module" although TypeScript
 * compiled <dir>/<request>/index.ts. tslab calls tspath.normalizeJoin(dirname, request) for that lookup;
 * wrap it so that a relative request naming a folder with an index file (and no same-named file) maps
 * to <folder>/index, exactly as Node and TypeScript resolve it.
 */
const tspath = require(path.join(root, 'node_modules', 'tslab', 'dist', 'tspath.js'));
const normalizeJoin = tspath.normalizeJoin;
const exists = (f) => {
  try {
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
};
tspath.normalizeJoin = function (...parts) {
  const joined = normalizeJoin(...parts);
  const last = parts[parts.length - 1];
  if (parts.length === 2 && typeof last === 'string' && /^\.\.?(\/|$)/.test(last) && path.extname(joined) === '') {
    const isDir = (() => {
      try {
        return fs.statSync(joined).isDirectory();
      } catch {
        return false;
      }
    })();
    if (
      isDir &&
      !['.ts', '.tsx', '.js'].some((x) => exists(joined + x)) &&
      ['index.ts', 'index.tsx', 'index.js'].some((f) => exists(path.join(joined, f)))
    ) {
      return normalizeJoin(joined, 'index');
    }
  }
  return joined;
};
/*
 * tslab 1.0.22's executor (dist/executor.js, requireFromSideOutputs) looks up EVERY require id among the compiled
 * project files as <dir>/<id>.js, bare package names included: `import * as fs from 'fs'` inside src/util/fs.ts
 * loaded src/util/fs.js itself, again and again, until "Maximum call stack size exceeded". It also registers a
 * compiled project module only after running it, so an import cycle between project modules recursed the same way.
 * Load a patched copy of the executor instead: only relative or absolute ids name project files, and a module is
 * registered before it runs and dropped if it throws (as Node's loader does).
 */
(() => {
  const executorPath = path.join(root, 'node_modules', 'tslab', 'dist', 'executor.js');
  let src = fs.readFileSync(executorPath, 'utf8');
  const lookup = /(\n(\s*)let filename = \(0, tspath_1\.normalizeJoin\)\(dirname, id\);)/;
  const compile =
    /(\n\s*)(mod\._compile\(sideOutputs\.get\(filename\), filename\);)(\s*)(sideModules\.set\(filename, mod\);)/;
  if (!lookup.test(src) || !compile.test(src)) {
    console.error(
      `tslab-bnn kernel: ${executorPath} is not the tslab 1.0.22 executor this wrapper patches; bare imports such as 'fs' from src/util/fs.ts may fail`,
    );
    return;
  }
  src = src.replace(lookup, '\n$2if (!/^\\.\\.?(\\/|$)/.test(id) && !path_1.default.isAbsolute(id)) return null;$1');
  src = src.replace(compile, '$1$4$1try {$1  $2$1} catch (e) {$1  sideModules.delete(filename);$1  throw e;$1}');
  const Module = require('module');
  const m = new Module(executorPath, module);
  m.filename = executorPath;
  m.paths = Module._nodeModulePaths(path.dirname(executorPath));
  m._compile(src, executorPath);
  m.loaded = true;
  require.cache[executorPath] = m;
})();
/*
 * tslab's TypeScript watch program allows a single pending rebuild timer and throws "Unexpected pending
 * rebuildTimer" (failing the next cell) when a real file-system watcher fires between cells, e.g. when a file
 * is created or deleted under src/ or node_modules while a notebook runs. tslab never re-executes a project
 * module once it is loaded, so watching buys nothing: turn the watchers off (restart the kernel after
 * editing src/). Set BNN_TSLAB_WATCH=1 to keep them.
 */
if (process.env.BNN_TSLAB_WATCH !== '1') {
  const tsPath = require.resolve('@tslab/typescript-for-tslab', { paths: [path.join(root, 'node_modules', 'tslab')] });
  const ts = require(tsPath);
  const noWatch = () => ({ close() {} });
  ts.sys.watchFile = noWatch;
  ts.sys.watchDirectory = noWatch;
}

// The kernel must not pick up a global tslab: enableFindLocal=false, we load the local one directly.
require(main).startKernel({ configPath, enableFindLocal: false, jsKernel: false, globalVersion: '' });
