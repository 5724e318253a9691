/** The workspaces the signed-in person can see, every page of them, under one query key. */
import { client, unwrap } from '../api';
import { fetchAllPages, PAGE_LIMIT } from './paging';
import { queryKeys } from './query-keys';

export const workspacesQuery = {
  queryKey: queryKeys.workspaces,
  queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces', { params: { query: { cursor, limit: PAGE_LIMIT } } }))),
};
