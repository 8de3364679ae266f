// Builds dist/ once before the suites that spawn real processes (the register
// entry, the example app's server and worker, the demo, the doctor CLI).
// test/run-all.sh builds first and sets SKIP_BUILD=1.
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async () => {
  if (process.env.SKIP_BUILD === '1') return;
  const root = path.resolve(__dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
};
