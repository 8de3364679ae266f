// Builds dist/ once before the suites that spawn real processes (the register
// entry, the example app's server and worker, the demo, the doctor CLI).
// test/run-all.sh builds first and sets SKIP_BUILD=1. Either way, the ESM
// build of the example and the Nest 12 copies are refreshed from dist/.
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async () => {
  const root = path.resolve(__dirname, '..');
  if (process.env.SKIP_BUILD !== '1') {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'inherit',
    });
  }
  require('./helpers/nest-majors').prepareNestMajors();
};
