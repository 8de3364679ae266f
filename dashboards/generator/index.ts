/** The dashboard and rules generator's public entry, for tests and scripts. */
export {
  buildDashboard,
  dashboardQueries,
  substituteTemplateVariables,
  TEST_VARIABLE_VALUES,
  type DashboardQuery,
} from './dashboard';
export { runAllDashboardQueries, type QueryCheck } from './promql-check';
export { buildRuleGroups } from './rules';
export { generatedFiles, staleFiles } from './generate';
