import { Type } from 'typebox';

/** A credential as every view shows it: fields in the clear, secrets as masks. Also the upstream routes' answer. */
export const MaskedCredential = Type.Object({
  id: Type.String(),
  workspace_id: Type.String(),
  provider: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  instance: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  fields: Type.Record(Type.String(), Type.String()),
  secrets: Type.Record(Type.String(), Type.Object({ set: Type.Boolean(), mask: Type.String() }), { description: 'masked: first 4 and last 4 characters' }),
  created_at: Type.String(),
  updated_at: Type.String(),
});
