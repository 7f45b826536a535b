import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsArtifactStore, MemoryArtifactStore } from '../../shared/train/ports.js';
import { artifactStoreContract } from './artifact-store.contract.js';

artifactStoreContract('memory', () => new MemoryArtifactStore());
artifactStoreContract('filesystem', () => new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-artifacts-'))));
