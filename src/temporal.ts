import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from './shared/search-attributes';
import { TypedSearchAttributes } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

import { connectWithRetry } from './temporal-wait';
import { dataConverter, type CodecKey } from './codec/payload-codec';
import type { TemporalAccess } from './temporal-connection';

/** A client whose payloads are encrypted with `keys` (the first encrypts). */
export async function connectClient(address: string, namespace: string, keys: CodecKey[], access: TemporalAccess = {}): Promise<Client> {
  return new Client({ connection: await connectWithRetry(address, undefined, access), namespace, dataConverter: dataConverter(keys) });
}

export const connectWorker = (address: string, access: TemporalAccess = {}) => NativeConnection.connect({ address, ...access });

/** Registers Stackwright's search attributes on an external server (the dev server gets them as flags). */
export async function registerSearchAttributes(client: Client, namespace: string): Promise<void> {
  const { IndexedValueType } = temporal.api.enums.v1;
  const have = await client.connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (have.customAttributes ?? {})));
  if (missing.length === 0) return;
  const type = (t: string) => (t === 'INT' ? IndexedValueType.INDEXED_VALUE_TYPE_INT : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
  await client.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, type(k.type)])),
  });
}

/** `--search-attribute` flags for `temporal server start-dev`. */
export const devServerSearchAttributeFlags = (): string[] =>
  SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${TypedSearchAttributes.toMetadataType(k.type)}`]);
