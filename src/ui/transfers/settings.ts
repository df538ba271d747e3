import * as vscode from 'vscode';
import type { Encryption, StorageClass } from '../../transfer/objectHeaders';
import { MiB } from '../../transfer/plan';
import type { UploadRequest } from '../../transfer/uploadService';

/** The upload options of a request, from the user's settings. */
export function uploadOptionsFromSettings(): Pick<UploadRequest, 'scan' | 'engine'> {
  const config = vscode.workspace.getConfiguration('researchCloud.upload');
  const pinned = config.get<number>('concurrency') ?? 0;
  const encryptionType = config.get<string>('encryption') ?? 'none';
  const encryption: Encryption | undefined =
    encryptionType === 'AES256' ? { type: 'AES256' } : encryptionType === 'aws:kms' ? { type: 'aws:kms', keyId: config.get<string>('kmsKeyId') || undefined } : undefined;
  return {
    scan: { followSymlinks: config.get<boolean>('followSymlinks') ?? false, exclude: config.get<string[]>('exclude') ?? [] },
    engine: {
      storageClass: (config.get<string>('storageClass') ?? 'STANDARD') as StorageClass,
      encryption,
      contentTypeFromName: config.get<boolean>('contentTypeFromName') ?? true,
      gzip: config.get<boolean>('gzip') ?? false,
      hashedPrefixes: config.get<boolean>('hashedPrefixes') ?? false,
      partSize: (config.get<number>('partSizeMB') ?? 8) * MiB,
      concurrency: pinned > 0 ? pinned : undefined,
      maxConcurrency: config.get<number>('maxConcurrency') ?? 64,
      memoryBudget: (config.get<number>('memoryBudgetMB') ?? 512) * MiB,
    },
  };
}

/** Plans bigger than this are shown for confirmation before anything is sent. */
export function confirmationThreshold(): { files: number; bytes: number } {
  const config = vscode.workspace.getConfiguration('researchCloud.upload');
  return { files: config.get<number>('confirmAboveFiles') ?? 1000, bytes: (config.get<number>('confirmAboveGB') ?? 10) * 1e9 };
}
