/** The provider instances the signed-in person can see, every page of them, under one query key. */
import { client, unwrap } from '../api';
import { fetchAllPages, PAGE_LIMIT } from './paging';
import { queryKeys } from './query-keys';

export const instancesQuery = {
  queryKey: queryKeys.instances,
  queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/instances', { params: { query: { cursor, limit: PAGE_LIMIT } } }))),
};
