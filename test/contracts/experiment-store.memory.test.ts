import { MemoryExperimentStore } from '../../shared/store/memory.js';
import { experimentStoreContract } from './experiment-store.contract.js';

experimentStoreContract('memory', ({ now }) => new MemoryExperimentStore({ now }));
