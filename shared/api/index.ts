/** The shared REST API: router, HTTP shapes, stop requests and the dashboard's cached views. */
export * from './router.js';
export { requestStop } from './stop.js';
export { ViewCache, computeView, MAX_POINTS, MAX_TOP, type ChartData, type ExperimentView, type LeaderboardRow, type BestScore } from './views.js';
export { tarGz, type TarEntry } from './tar.js';
