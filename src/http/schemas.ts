import { Type, type TSchema } from 'typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      request_id: Type.Optional(Type.String()),
    }),
  },
  { $id: 'ErrorBody', description: 'Every non-2xx response' },
);

const errorRef = Type.Ref('ErrorBody');

/** The error statuses a route may answer, documented once so the OpenAPI lists them all. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const all = [400, 401, 403, 404, 429, 503, ...statuses];
  return Object.fromEntries(all.map((s) => [s, errorRef]));
}

export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const ListOf = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item) });

/** Query of a cursor-paged list (see lib/paging.ts). */
export const PageQuery = {
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'next_cursor of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
};

export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const bearer = [{ bearer: [] as string[] }];

/** `T` or null. */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** An organization role (its workspaces inherit it). */
export const OrgRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member'), Type.Literal('read_only')]);
