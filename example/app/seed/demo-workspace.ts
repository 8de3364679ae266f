import { type INestApplicationContext } from '@nestjs/common';

import { ExampleSeedService } from './example-seed.service';

// EXAMPLE_SEED_DEMO=true: seed one workspace, a user and a company and print
// what a client needs (token, ids), for poking at the server by hand.
export const seedDemoWorkspaceIfAsked = async (app: INestApplicationContext) => {
  if (process.env.EXAMPLE_SEED_DEMO !== 'true') {
    return;
  }
  const seed = app.get(ExampleSeedService);
  const { workspaceId } = await seed.workspace({ workspaceId: process.env.EXAMPLE_DEMO_WORKSPACE_ID });
  const user = await seed.user({ workspaceId });
  const company = await seed.record({
    workspaceId,
    objectNameSingular: 'company',
    data: { name: 'Acme', stage: 'LEAD', employees: 10 },
  });

  console.log(JSON.stringify({ demo: { workspaceId, user, companyId: company.id } }));
};
