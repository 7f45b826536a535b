import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { experimentStoreContract } from './experiment-store.contract.js';

// A real file in WAL mode, as the CLI uses it, not `:memory:`.
experimentStoreContract('sqlite', ({ now }) => new SqliteExperimentStore(join(mkdtempSync(join(tmpdir(), 'nasflow-sqlite-')), 'store.db'), { now }));
