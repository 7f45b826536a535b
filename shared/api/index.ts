/** The shared REST API: router, HTTP shapes and the dashboard's cached views (stop requests are a step: `../steps/stop.ts`). */
export * from './router.js';
export { ViewCache, computeView, MAX_POINTS, MAX_TOP, type ChartData, type ExperimentView, type LeaderboardRow, type BestScore } from './views.js';
export { tarGz, type TarEntry } from './tar.js';
