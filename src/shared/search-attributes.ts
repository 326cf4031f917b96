import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Registered on the server so the Temporal UI can filter deployments, e.g.
// `StackwrightStack = "acme/website/dev" AND StackwrightStatus = "failed"`.
export const StackAttr = defineSearchAttributeKey('StackwrightStack', SearchAttributeType.KEYWORD);
export const OperationAttr = defineSearchAttributeKey('StackwrightOperation', SearchAttributeType.KEYWORD);
export const StatusAttr = defineSearchAttributeKey('StackwrightStatus', SearchAttributeType.KEYWORD);
export const VersionAttr = defineSearchAttributeKey('StackwrightVersion', SearchAttributeType.INT);

export const SEARCH_ATTRIBUTES = [StackAttr, OperationAttr, StatusAttr, VersionAttr];
