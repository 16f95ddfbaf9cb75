import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';
import { METADATA_MAX_KEY_LENGTH, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LENGTH } from '../session';

/** Why a metadata object is invalid, or null. `allowNull` admits null values (merge-patch deletes). */
export function metadataProblem(value: unknown, allowNull: boolean): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of string values';
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS) return `must have at most ${METADATA_MAX_KEYS} keys`;
  for (const [key, item] of entries) {
    if (key.length < 1 || key.length > METADATA_MAX_KEY_LENGTH) {
      return `keys must be 1-${METADATA_MAX_KEY_LENGTH} characters ('${key.slice(0, 32)}…' is not)`;
    }
    if (item === null && allowNull) continue;
    if (typeof item !== 'string') return `.${key} must be a string${allowNull ? ' or null' : ''}`;
    if (item.length > METADATA_MAX_VALUE_LENGTH) return `.${key} must be at most ${METADATA_MAX_VALUE_LENGTH} characters`;
  }
  return null;
}

export function IsMetadata(allowNull: boolean, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isMetadata',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => metadataProblem(value, allowNull) === null,
        defaultMessage: (args: ValidationArguments) => `${args.property} ${metadataProblem(args.value, allowNull)}`,
      },
    });
}
